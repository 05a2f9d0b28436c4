// sild-gateway: runs the gateway.
//
//   sild-gateway --config FILE [--check-config]
//
// Exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 2 for a bad
// command line or config, 1 when the server cannot start.
#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/base/log.h"
#include "gateway/config/config_loader.h"
#include "gateway/server/server.h"

namespace {

constexpr char kUsage[] =
    "usage: sild-gateway --config FILE [--check-config]\n"
    "\n"
    "Runs the sild gateway: mTLS gRPC server, consent and legal-basis\n"
    "decisions, minimisation and the audit trail.\n"
    "\n"
    "  --config FILE    gateway configuration (.json, or protobuf text "
    "format)\n"
    "  --check-config   validate the configuration and exit\n"
    "  --version        print the version and exit\n";

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built with lock-order (deadlock) checking on, which
  // updates a global graph on every Mutex lock. Release builds of the
  // gateway turn it off; debug and sanitizer builds keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(strlen("--config="));
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--version") {
      std::cout << "sild-gateway " << sild::GatewayVersion() << "\n";
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "sild-gateway: unknown argument " << arg << "\n" << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "sild-gateway: --config FILE is required\n" << kUsage;
    return 2;
  }
  auto config = sild::LoadConfig(config_path);
  if (!config.ok()) {
    sild::LogError("config error",
                   {{"detail", std::string(config.status().message())}});
    std::cerr << "sild-gateway: config error: " << config.status().message()
              << "\n";
    return 2;
  }
  sild::SetLogLevel(sild::ParseLogLevel(config->logging().level()));
  if (check_only) {
    std::cout << "sild-gateway: " << config_path << " is valid ("
              << config->agencies_size() << " agencies)\n";
    return 0;
  }

  // Block the shutdown signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = sild::GatewayServer::Start(*config);
  if (!server.ok()) {
    sild::LogError("gateway failed to start",
                   {{"detail", std::string(server.status().message())}});
    std::cerr << "sild-gateway: " << server.status().message() << "\n";
    return 1;
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  sild::LogInfo("signal received", {{"signal", strsignal(signal_number)}});
  (*server)->Shutdown(absl::Seconds(10));
  return 0;
}
