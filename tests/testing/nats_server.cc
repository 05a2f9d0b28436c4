#include "tests/testing/nats_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/base/files.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace sild::testing {
namespace {

// Debian installs it in /usr/sbin.
std::string FindNatsServer() {
  for (const char* path : {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

absl::Mutex instance_mu;
NatsTestServer* plain ABSL_GUARDED_BY(instance_mu) = nullptr;
NatsTestServer* tls ABSL_GUARDED_BY(instance_mu) = nullptr;

// The servers of this binary are stopped and removed after the last test.
class StopAtEnd : public ::testing::Environment {
 public:
  void TearDown() override { NatsTestServer::StopShared(); }
};
[[maybe_unused]] ::testing::Environment* const kStopAtEnd =
    ::testing::AddGlobalTestEnvironment(new StopAtEnd);

}  // namespace

absl::StatusOr<NatsTestServer*> NatsTestServer::Shared() {
  absl::MutexLock lock(&instance_mu);
  if (plain != nullptr) return plain;
  auto server = std::unique_ptr<NatsTestServer>(new NatsTestServer(false));
  absl::Status status = server->Init();
  if (!status.ok()) return status;
  plain = server.release();
  return plain;
}

absl::StatusOr<NatsTestServer*> NatsTestServer::SharedTls() {
  absl::MutexLock lock(&instance_mu);
  if (tls != nullptr) return tls;
  auto server = std::unique_ptr<NatsTestServer>(new NatsTestServer(true));
  absl::Status status = server->Init();
  if (!status.ok()) return status;
  tls = server.release();
  return tls;
}

void NatsTestServer::StopShared() {
  absl::MutexLock lock(&instance_mu);
  delete plain;
  delete tls;
  plain = nullptr;
  tls = nullptr;
}

NatsTestServer::~NatsTestServer() {
  Stop();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string NatsTestServer::url() const {
  return tls_ ? absl::StrCat("tls://localhost:", port_)
              : absl::StrCat("nats://127.0.0.1:", port_);
}

absl::Status NatsTestServer::Init() {
  binary_ = FindNatsServer();
  if (binary_.empty()) {
    return absl::FailedPreconditionError(
        "nats-server is not installed (/usr/sbin/nats-server); "
        "gateway/scripts/install-deps.sh installs it");
  }
  char dir_template[] = "/tmp/sild-nats-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("cannot create a temporary folder");
  }
  dir_ = dir_template;
  store_dir_ = dir_ + "/store";
  port_ = FreeLoopbackPort();
  if (port_ == 0) return absl::InternalError("no free loopback port");
  return Start();
}

absl::Status NatsTestServer::Start() {
  if (process_ != nullptr) return absl::OkStatus();
  std::vector<std::string> argv = {binary_,     "-js",     "-a",
                                   "127.0.0.1", "-p",      absl::StrCat(port_),
                                   "-sd",       store_dir_};
  if (tls_) {
    const std::string pki = TestPkiDir();
    argv.insert(argv.end(),
                {"--tlsverify", "--tlscert", pki + "/gateway.crt", "--tlskey",
                 pki + "/gateway.key", "--tlscacert", pki + "/ca.crt"});
  }
  // A fresh log per start: readiness is read from it.
  const std::string log = absl::StrCat(dir_, "/server-", ++starts_, ".log");
  process_ = std::make_unique<BackgroundProcess>(argv, log);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    auto text = ReadFileToString(log);
    if (text.ok() && absl::StrContains(*text, "Server is ready")) break;
    if (absl::Now() > deadline || !process_->Running()) {
      std::string tail = text.ok() ? *text : "";
      process_.reset();
      return absl::UnavailableError(absl::StrCat(
          "nats-server did not start on port ", port_, ": ", tail));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::OkStatus();
}

void NatsTestServer::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGTERM);
  if (process_->Wait(absl::Seconds(10)) < 0) {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(10));
  }
  process_.reset();
}

absl::Status NatsTestServer::Restart() {
  Stop();
  return Start();
}

}  // namespace sild::testing
