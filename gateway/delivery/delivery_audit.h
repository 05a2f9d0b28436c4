// What delivery, inbox acknowledgement and replay write into the audit
// trail, in one place so every path records the same fields: the message,
// its kind, subject pseudonym and purpose, the recipient as counterparty, the
// categories its copy holds and the basis the copy was disclosed on.
//
// Records of things the gateway does by itself (a worker delivering, the
// deadline scanner escalating) name as actor the agency on whose behalf it
// acts (the message's sender) with professional id "sild-gateway".
// Thread-compatible pure functions, except SubjectPersonalCode which reads
// through the connection it is given.
#ifndef SILD_GATEWAY_DELIVERY_DELIVERY_AUDIT_H_
#define SILD_GATEWAY_DELIVERY_DELIVERY_AUDIT_H_

#include <string>

#include "absl/status/statusor.h"
#include "gateway/audit/audit_log.h"
#include "gateway/delivery/outbox_store.h"
#include "gateway/exchange/exchange_context.h"
#include "gateway/exchange/exchange_store.h"
#include "sild/v1/audit.pb.h"

namespace sild::delivery {

// A draft describing `row`; `message` (may be null) adds the subject
// pseudonym, purpose and the sender as actor. The caller sets action,
// outcome, reason and detail (and may replace the actor).
sild::v1::AuditRecord DeliveryAuditDraft(const OutboxRow& row,
                                         const exchange::MessageRow* message);

// The personal code of the child `message` is about: from its body, or for a
// message without one (a status update) from the message it replies to. ""
// when the message has no subject. DATA_LOSS SUBJECT_MISMATCH when the code
// found does not match the row's pseudonym (the payload was not the one the
// row was written with).
absl::StatusOr<std::string> SubjectPersonalCode(
    SqlConnection& sql, const PayloadCipher& cipher, const AuditLog& audit_log,
    const exchange::MessageRow& message);

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_DELIVERY_AUDIT_H_
