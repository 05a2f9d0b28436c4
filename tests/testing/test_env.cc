#include "tests/testing/test_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace sild::testing {

const std::string& TestPkiDir() {
  static const std::string* dir = [] {
    auto* path = new std::string(std::string(SILD_BINARY_DIR) + "/test-pki");
    if (!std::filesystem::exists(*path + "/ca.crt")) {
      std::string command = absl::StrCat("bash ", SILD_SOURCE_DIR,
                                         "/certs/make-dev-pki.sh ", *path,
                                         " >/dev/null");
      if (std::system(command.c_str()) != 0) {
        std::abort();  // Nothing can be tested without certificates.
      }
    }
    return path;
  }();
  return *dir;
}

std::string MakeTempDir(const std::string& name) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  static int counter = 0;
  std::string dir = absl::StrCat(SILD_BINARY_DIR, "/test-tmp/", name, "-",
                                 getpid(), "-", counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

config::v1::GatewayConfig DemoGatewayConfig(const std::string& dir) {
  const std::string& pki = TestPkiDir();
  config::v1::GatewayConfig config;
  std::string text = absl::StrCat(R"pb(
    listen_address: "127.0.0.1:0"
    instance_name: "sild-test"
    tls {
      server_cert_file: ")pb", pki, R"pb(/gateway.crt"
      server_key_file: ")pb", pki, R"pb(/gateway.key"
      client_ca_file: ")pb", pki, R"pb(/ca.crt"
      crl_directory: ")pb", pki, R"pb(/crl"
    }
    store {
      sqlite { path: ")pb", dir, R"pb(/sild.db" }
      payload_key_file: ")pb", pki, R"pb(/gateway-store.key"
    }
    audit {
      signing_key_file: ")pb", pki, R"pb(/gateway-audit-signing.key"
      pseudonym_key_file: ")pb", pki, R"pb(/gateway-pseudonym.key"
    }
    agencies { registry_code: "75001017" name: "Raasiku Basic School"
               kind: AGENCY_KIND_SCHOOL municipality: "Raasiku vald" }
    agencies { registry_code: "75001023" name: "Raasiku Municipal Social Services"
               kind: AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES
               municipality: "Raasiku vald" roles: AGENCY_ROLE_CONSENT_RECORDER }
    agencies { registry_code: "75001039" name: "Raasiku Child Protection"
               kind: AGENCY_KIND_CHILD_PROTECTION municipality: "Raasiku vald" }
    agencies { registry_code: "75001046" name: "School Health Care Ltd"
               kind: AGENCY_KIND_SCHOOL_HEALTH municipality: "Raasiku vald" }
    agencies { registry_code: "75001052" name: "Unemployment Insurance Fund"
               kind: AGENCY_KIND_UNEMPLOYMENT_INSURANCE_FUND }
    agencies { registry_code: "75001069" name: "Data Protection Auditor"
               kind: AGENCY_KIND_SUPERVISORY_AUTHORITY
               roles: AGENCY_ROLE_AUDITOR roles: AGENCY_ROLE_OPERATOR }
    agencies { registry_code: "75001075" name: "Raasiku Case Manager"
               kind: AGENCY_KIND_CASE_MANAGEMENT municipality: "Raasiku vald"
               roles: AGENCY_ROLE_CASE_MANAGER roles: AGENCY_ROLE_CONSENT_RECORDER }
    consent_policy {
      self_consent_age: 15
      representative_relations: REPRESENTATIVE_RELATION_PARENT
      representative_relations: REPRESENTATIVE_RELATION_GUARDIAN
    }
  )pb");
  if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
    std::abort();
  }
  return config;
}

namespace {
std::shared_ptr<grpc::Channel> Channel(int port,
                                       const grpc::SslCredentialsOptions& ssl) {
  grpc::ChannelArguments args;
  // Connection failures must surface quickly in tests.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel(absl::StrCat("localhost:", port),
                                   grpc::SslCredentials(ssl), args);
}
}  // namespace

std::shared_ptr<grpc::Channel> AgencyChannel(int port,
                                             const std::string& cert_name,
                                             const std::string& ca_name) {
  const std::string& pki = TestPkiDir();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadTestFile(pki + "/" + ca_name + ".crt");
  ssl.pem_cert_chain = ReadTestFile(pki + "/" + cert_name + ".crt");
  ssl.pem_private_key = ReadTestFile(pki + "/" + cert_name + ".key");
  return Channel(port, ssl);
}

std::shared_ptr<grpc::Channel> AnonymousChannel(int port) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadTestFile(TestPkiDir() + "/ca.crt");
  return Channel(port, ssl);
}

std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace sild::testing
