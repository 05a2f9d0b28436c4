// echo_baseline_server: the baseline for the Submit benchmark. Serves
// sild.bench.v1.EchoService.Echo over the gateway's own mTLS credentials
// (MakeServerCredentials from the same config file: client certificate
// required and verified against the federation CA) and identifies every
// caller from its certificate (AuthenticateCall), so the baseline carries the
// transport and identity cost of a real call and nothing of the exchange.
//
//   echo_baseline_server --config gateway.json [--listen 127.0.0.1:0]
//
// Prints "echo_baseline_server listening on port N" on stdout once serving;
// stops on SIGTERM or SIGINT. Exit status 2 for a bad command line or config,
// 1 when it cannot listen.
#include <signal.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/config/config_loader.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/server/tls_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "tests/bench/echo.grpc.pb.h"

namespace sild::bench {
namespace {

constexpr char kUsage[] =
    "usage: echo_baseline_server --config FILE [--listen ADDRESS]\n"
    "\n"
    "Serves sild.bench.v1.EchoService with the gateway's TLS settings and\n"
    "per-call identity check; the baseline of run_submit_bench.sh.\n"
    "\n"
    "  --config FILE     a sild-gateway configuration (tls, agencies, limits)\n"
    "  --listen ADDRESS  where to listen (default 127.0.0.1:0)\n";

class EchoServiceImpl final : public v1::EchoService::CallbackService {
 public:
  explicit EchoServiceImpl(const AgencyDirectory* directory)
      : directory_(directory) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const v1::EchoMessage* request,
                                 v1::EchoMessage* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<Caller> caller = AuthenticateCall(context, *directory_);
    if (!caller.ok()) {
      reactor->Finish(ToGrpcStatus(caller.status(), context));
      return reactor;
    }
    response->set_payload(request->payload());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const AgencyDirectory* directory_;
};

int Main(int argc, char** argv) {
  std::string config_path;
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "echo_baseline_server: unknown argument " << arg << "\n"
                << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "echo_baseline_server: --config FILE is required\n" << kUsage;
    return 2;
  }
  auto config = LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << "echo_baseline_server: config error: "
              << config.status().message() << "\n";
    return 2;
  }
  auto credentials = MakeServerCredentials(config->tls());
  if (!credentials.ok()) {
    std::cerr << "echo_baseline_server: " << credentials.status().message()
              << "\n";
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  AgencyDirectory directory(*config);
  EchoServiceImpl service(&directory);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, *credentials, &port);
  builder.RegisterService(&service);
  // The gateway's limits, so both servers negotiate the same HTTP/2 settings.
  const auto& limits = config->limits();
  builder.SetMaxReceiveMessageSize(limits.max_message_bytes());
  builder.SetMaxSendMessageSize(limits.max_message_bytes());
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             limits.max_concurrent_streams());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "echo_baseline_server: cannot listen on " << listen << "\n";
    return 1;
  }
  std::cout << "echo_baseline_server listening on port " << port << std::endl;
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace sild::bench

int main(int argc, char** argv) { return sild::bench::Main(argc, argv); }
