// GatewayServer: the sild gRPC server. Start here.
//
//   absl::StatusOr<config::v1::GatewayConfig> config = LoadConfig(path);
//   auto server = GatewayServer::Start(*config);   // listening on return
//   ...
//   (*server)->Shutdown(absl::Seconds(10));        // on SIGTERM
//
// The server speaks only mTLS (TLS 1.2 or newer, client certificate required
// and verified against the federation CA, optional CRL directory); each call
// identifies its agency from the certificate. It serves the standard gRPC
// health service and, when the config enables it, server reflection.
//
// Start() fails with a clear status (bad certificate or key file, port in
// use) and then listens on nothing. Shutdown() stops accepting calls, lets
// in-flight calls finish within the grace period, then closes the store.
// Thread-safe.
#ifndef SILD_GATEWAY_SERVER_SERVER_H_
#define SILD_GATEWAY_SERVER_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/base/clock.h"
#include "sild/config/v1/config.pb.h"

namespace sild {

struct GatewayComponents;  // gateway/rpc/module.h

class GatewayServer {
 public:
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      const config::v1::GatewayConfig& config);
  // With a clock of the caller's (tests move time with ManualClock).
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      const config::v1::GatewayConfig& config, const Clock* clock);
  ~GatewayServer();

  // The port actually bound (useful with listen_address "127.0.0.1:0").
  int port() const;

  // Marks the health service NOT_SERVING, stops new calls, waits up to
  // `grace` for in-flight calls, closes the store. Idempotent.
  void Shutdown(absl::Duration grace);

  // Blocks until Shutdown() completes.
  void Wait();

  // The shared components (store, audit log, ...), for tests that write
  // through the running gateway's store. Valid until Shutdown().
  GatewayComponents& components();

  class Impl;

 private:
  explicit GatewayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The version string of this build.
const char* GatewayVersion();

}  // namespace sild

#endif  // SILD_GATEWAY_SERVER_SERVER_H_
