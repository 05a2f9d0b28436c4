// How capabilities plug into the gateway. Each capability (consents, audit,
// exchange, ...) is a GatewayModule: it declares its schema migrations, gets
// the shared components once the store is open, and hands the server its
// gRPC services and background workers. The list of modules is in
// modules.cc: adding a capability is one line there.
//
// Lifecycle, all on the starting thread: Migrations() -> Init() ->
// Services() -> Start() ... Stop(). Stop() runs after the gRPC server
// stopped accepting calls and before the store closes.
#ifndef SILD_GATEWAY_RPC_MODULE_H_
#define SILD_GATEWAY_RPC_MODULE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/audit/audit_log.h"
#include "gateway/base/clock.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/store/migrations.h"
#include "gateway/store/store.h"
#include "grpcpp/impl/service_type.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/common.pb.h"
#include "sild/v1/delivery_service.pb.h"

namespace sild {

class DecisionEngine;
class ConsentReader;
struct Decision;
struct DecisionRequest;
class WriteTxn;

// One connector transport's health, as the module that owns the transport
// reports it (exchange: ingress; delivery: egress). `probe` must be cheap
// and thread-safe; it stays valid while its module lives.
struct TransportProbe {
  std::string registry_code;
  sild::v1::TransportDirection direction =
      sild::v1::TRANSPORT_DIRECTION_UNSPECIFIED;
  std::string transport;
  std::function<absl::Status()> probe;
};

// What every module may use. Owned by the server; outlives the modules'
// services. Modules fill in what they provide (the consent module sets
// consent_reader and decisions) in Init(), in module order.
struct GatewayComponents {
  config::v1::GatewayConfig config;
  const Clock* clock = nullptr;
  const AgencyDirectory* directory = nullptr;
  Store* store = nullptr;
  AuditLog* audit_log = nullptr;
  const ConsentReader* consent_reader = nullptr;
  const DecisionEngine* decisions = nullptr;
  // Set by the consent module. Decides inside a write transaction, reading
  // consents through it (no withdrawal slips between decision and commit).
  std::function<Decision(WriteTxn&, const DecisionRequest&)> decide_in_txn;
  // Set by the consent module. Records that `recipient` received message
  // `message_id` under `consent` (withdrawal notices go to them).
  std::function<absl::Status(WriteTxn&, const sild::v1::ConsentRef& consent,
                             const std::string& recipient,
                             const std::string& message_id)>
      record_disclosure;
  // Filled in Init by modules that own connector transports; the delivery
  // module (after the exchange) watches them all.
  std::vector<TransportProbe> transport_probes;
  // Set by the delivery module: a commit queued rows for push recipients or
  // the gRPC inbox (on_outbox_changed), or only for the inbox
  // (on_inbox_queued). Called after commits, from any thread.
  std::function<void()> on_outbox_changed;
  std::function<void()> on_inbox_queued;
  // Set by the server once it serves, before modules' Start(): publishes a
  // name's status on the standard gRPC health service (transport health).
  std::function<void(const std::string& service, bool serving)>
      set_health_status;
};

class GatewayModule {
 public:
  virtual ~GatewayModule() = default;
  virtual std::string name() const = 0;
  virtual std::vector<Migration> Migrations() const { return {}; }
  virtual absl::Status Init(GatewayComponents& components) = 0;
  // Services to register; the module keeps ownership.
  virtual std::vector<grpc::Service*> Services() { return {}; }
  // Fully qualified names for the health service, e.g.
  // "sild.v1.ConsentService".
  virtual std::vector<std::string> ServiceNames() const { return {}; }
  virtual void Start() {}
  // Shutdown has begun; the server still serves in-flight calls. End
  // long-lived streams here with a clear status: the server's drain waits
  // for every open call, so a stream left open holds shutdown until the
  // grace period runs out.
  virtual void BeginShutdown() {}
  // After the server drained: stop background work; the store is still open.
  virtual void Stop() {}
};

// Every module of this build, in initialisation order.
std::vector<std::unique_ptr<GatewayModule>> MakeGatewayModules();

}  // namespace sild

#endif  // SILD_GATEWAY_RPC_MODULE_H_
