#include "tests/testing/rabbitmq_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/base/files.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace sild::testing {
namespace {

constexpr char kServer[] = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr char kEpmd[] = "/usr/bin/epmd";

absl::Mutex instance_mu;
RabbitMqTestServer* shared ABSL_GUARDED_BY(instance_mu) = nullptr;

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

class StopAtEnd : public ::testing::Environment {
 public:
  void TearDown() override { RabbitMqTestServer::StopShared(); }
};
[[maybe_unused]] ::testing::Environment* const kStopAtEnd =
    ::testing::AddGlobalTestEnvironment(new StopAtEnd);

}  // namespace

absl::StatusOr<RabbitMqTestServer*> RabbitMqTestServer::Shared() {
  absl::MutexLock lock(&instance_mu);
  if (shared != nullptr) return shared;
  auto server = std::unique_ptr<RabbitMqTestServer>(new RabbitMqTestServer);
  absl::Status status = server->Init();
  if (!status.ok()) return status;
  shared = server.release();
  return shared;
}

void RabbitMqTestServer::StopShared() {
  absl::MutexLock lock(&instance_mu);
  delete shared;
  shared = nullptr;
}

RabbitMqTestServer::~RabbitMqTestServer() {
  Stop();
  StopEpmd();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

absl::Status RabbitMqTestServer::Init() {
  if (access(kServer, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "rabbitmq-server is not installed (/usr/lib/rabbitmq/bin); "
        "gateway/scripts/install-deps.sh installs it");
  }
  char dir_template[] = "/tmp/sild-rabbitmq-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("cannot create a temporary folder");
  }
  dir_ = dir_template;
  port_ = FreeLoopbackPort();
  dist_port_ = FreeLoopbackPort();
  epmd_port_ = FreeLoopbackPort();
  tls_port_ = FreeLoopbackPort();
  if (port_ == 0 || dist_port_ == 0 || epmd_port_ == 0 || tls_port_ == 0) {
    return absl::InternalError("no free loopback port");
  }
  const std::string& pki = TestPkiDir();
  std::ofstream(dir_ + "/rabbitmq.conf")
      << "listeners.tcp.default = 127.0.0.1:" << port_ << "\n"
      << "listeners.ssl.default = 127.0.0.1:" << tls_port_ << "\n"
      << "ssl_options.cacertfile = " << pki << "/ca.crt\n"
      << "ssl_options.certfile = " << pki << "/gateway.crt\n"
      << "ssl_options.keyfile = " << pki << "/gateway.key\n"
      << "ssl_options.verify = verify_peer\n"
      << "ssl_options.fail_if_no_peer_cert = true\n"
      << "loopback_users = none\n";
  std::ofstream(dir_ + "/enabled_plugins") << "[].\n";
  return Start();
}

absl::Status RabbitMqTestServer::Start() {
  if (process_ != nullptr) return absl::OkStatus();
  const std::vector<std::string> argv = {
      "/usr/bin/env",
      "HOME=" + dir_,
      absl::StrCat("ERL_EPMD_PORT=", epmd_port_),
      absl::StrCat("RABBITMQ_NODENAME=sild", port_, "@localhost"),
      "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
      absl::StrCat("RABBITMQ_NODE_PORT=", port_),
      absl::StrCat("RABBITMQ_DIST_PORT=", dist_port_),
      "RABBITMQ_MNESIA_BASE=" + dir_ + "/mnesia",
      "RABBITMQ_LOG_BASE=" + dir_ + "/log",
      "RABBITMQ_CONFIG_FILE=" + dir_ + "/rabbitmq.conf",
      "RABBITMQ_ENABLED_PLUGINS_FILE=" + dir_ + "/enabled_plugins",
      kServer};
  const std::string log = absl::StrCat(dir_, "/server-", ++starts_, ".log");
  process_ = std::make_unique<BackgroundProcess>(argv, log);
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (!Accepts(port_) || !Accepts(tls_port_)) {
    if (absl::Now() > deadline || !process_->Running()) {
      auto text = ReadFileToString(log);
      process_.reset();
      return absl::UnavailableError(
          absl::StrCat("rabbitmq-server did not start on port ", port_, ": ",
                       text.ok() ? *text : ""));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::OkStatus();
}

void RabbitMqTestServer::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGTERM);
  if (process_->Wait(absl::Seconds(30)) < 0) {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(10));
  }
  process_.reset();
}

// The broker starts epmd as a daemon on its own port; stop it through that
// port so no other epmd is touched.
void RabbitMqTestServer::StopEpmd() {
  if (epmd_port_ == 0 || !Accepts(epmd_port_)) return;
  RunProcess({"/usr/bin/env", absl::StrCat("ERL_EPMD_PORT=", epmd_port_), kEpmd,
              "-kill"},
             absl::Seconds(10));
}

absl::Status RabbitMqTestServer::Restart() {
  Stop();
  return Start();
}

}  // namespace sild::testing
