// The one disclosure step: for one recipient of one message, inside the
// write transaction, decide (consent or legal-basis rule), minimise the copy
// to what the decision permits, seal the decision in the audit trail and
// queue the copy in the outbox. Dispatch calls it for every recipient of a
// new message, DeliveryService.Replay for a dead letter queued again, so no
// path can disclose without a decision and an audit record.
//
//   DisclosureRequest request{...};
//   SILD_ASSIGN_OR_RETURN(Disclosure d, DiscloseTo(txn, context, request));
//   if (d.queued) ...   // d.record is the audit record just appended
//
// Runs on the store's writer thread. Nothing is queued unless the audit
// record was appended first (fail closed).
#ifndef SILD_GATEWAY_EXCHANGE_DISCLOSURE_H_
#define SILD_GATEWAY_EXCHANGE_DISCLOSURE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/delivery/outbox_store.h"
#include "gateway/exchange/exchange_context.h"
#include "gateway/exchange/exchange_store.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/minimise/category_set.h"
#include "gateway/policy/decision.h"
#include "gateway/store/store.h"

namespace sild::exchange {

struct DisclosureRequest {
  // The most the recipient may get: the message as accepted (a new
  // message) or the copy a dead letter holds (replay). Header complete.
  const sild::v1::Envelope* envelope = nullptr;
  std::string subject_personal_code;  // "" when the message names no child
  std::string subject_pseudonym;
  // Categories present in *envelope.
  CategorySet present;
  const Agency* sender = nullptr;
  const Agency* recipient = nullptr;
  // Who acts, as the audit record names them.
  std::string actor_registry_code;
  std::string actor_professional_id;
  // A recipient whose decision is DENY still gets the operational part (a
  // status update keeps the parties informed); audited as OPERATIONAL_ONLY.
  bool operational_on_deny = false;
  // Replay: the dead letter queued again (or marked refused) instead of a
  // new outbox row; the audit record is ADMINISTRATIVE and its detail says
  // which dead letter it was.
  const delivery::OutboxRow* replay_of = nullptr;
};

struct Disclosure {
  Decision decision;
  // A copy was queued (allowed, or operational only).
  bool queued = false;
  // The copy goes to a push endpoint (not the gRPC inbox).
  bool queued_for_push = false;
  CategorySet permitted;
  CategorySet withheld;
  sild::v1::AuditRecord record;
};

absl::StatusOr<Disclosure> DiscloseTo(WriteTxn& txn,
                                      const ExchangeContext& context,
                                      const DisclosureRequest& request);

// The transport name a recipient's deliveries record ("grpc-inbox" when it
// pulls).
std::string TransportFor(const Agency& agency);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_DISCLOSURE_H_
