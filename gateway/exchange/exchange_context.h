// What the exchange's stages share: the configuration, the directory, the
// store, the audit log, the projector and the decisions, plus the hooks
// that wake delivery after a commit. Owned by a module (exchange, delivery);
// everything it points to outlives it. Read-only once filled: thread-safe.
#ifndef SILD_GATEWAY_EXCHANGE_EXCHANGE_CONTEXT_H_
#define SILD_GATEWAY_EXCHANGE_EXCHANGE_CONTEXT_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "gateway/audit/audit_log.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/minimise/projector.h"
#include "gateway/policy/decision.h"
#include "gateway/store/store.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/consent.pb.h"

namespace sild::delivery {
class TransportHealthMonitor;  // gateway/delivery/transport_health.h
}  // namespace sild::delivery

namespace sild::exchange {

// The professional id of actions the gateway takes by itself (a worker
// delivering, the deadline scanner escalating).
inline constexpr char kGatewayProfessionalId[] = "sild-gateway";

// Decides inside the write transaction, reading consents through it, so a
// withdrawal cannot slip between the decision and the commit.
using TxnDecider =
    std::function<Decision(WriteTxn& txn, const DecisionRequest& request)>;
// Remembers that `recipient` received data under a consent (withdrawal
// notices go to them later).
using DisclosureRecorder = std::function<absl::Status(
    WriteTxn& txn, const sild::v1::ConsentRef& consent,
    const std::string& recipient, const std::string& message_id)>;

struct ExchangeContext {
  const config::v1::GatewayConfig* config = nullptr;
  const AgencyDirectory* directory = nullptr;
  Store* store = nullptr;
  AuditLog* audit_log = nullptr;
  const Projector* projector = nullptr;
  TxnDecider decide;
  DisclosureRecorder record_disclosure;
  // Called after a commit that queued deliveries (wakes workers, inboxes).
  std::function<void()> on_outbox_changed;
  // Called instead when every queued row goes to the gRPC inbox: only the
  // inbox streams look again; the push workers, which never serve those
  // rows, sleep on. Unset: on_outbox_changed serves both.
  std::function<void()> on_inbox_queued;
  // Health of the agencies' connector transports (null: none watched).
  const delivery::TransportHealthMonitor* transport_health = nullptr;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_EXCHANGE_CONTEXT_H_
