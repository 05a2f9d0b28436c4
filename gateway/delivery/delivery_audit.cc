#include "gateway/delivery/delivery_audit.h"

#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/envelope.h"

namespace sild::delivery {

using exchange::Header;
using exchange::kGatewayProfessionalId;
using exchange::LoadMessage;
using exchange::MessageRow;
using exchange::SubjectPersonalCodeOf;

sild::v1::AuditRecord DeliveryAuditDraft(const OutboxRow& row,
                                         const MessageRow* message) {
  sild::v1::AuditRecord draft;
  draft.mutable_actor()->set_professional_id(kGatewayProfessionalId);
  draft.set_message_id(row.message_id);
  draft.set_message_kind(row.kind);
  draft.set_counterparty(row.recipient);
  for (int c = 1; c < 32; ++c) {
    if (row.permitted.Contains(c)) {
      draft.add_categories(static_cast<sild::v1::DataCategory>(c));
    }
  }
  const sild::v1::MessageHeader& header = Header(row.envelope);
  if (header.has_basis()) *draft.mutable_basis() = header.basis();
  if (message != nullptr) {
    draft.mutable_actor()->set_registry_code(message->sender);
    draft.set_subject_pseudonym(message->subject_pseudonym);
    draft.set_purpose(message->purpose);
  }
  return draft;
}

absl::StatusOr<std::string> SubjectPersonalCode(SqlConnection& sql,
                                                const PayloadCipher& cipher,
                                                const AuditLog& audit_log,
                                                const MessageRow& message) {
  if (message.subject_pseudonym.empty()) return std::string();
  std::string code;
  SILD_ASSIGN_OR_RETURN(auto full,
                        LoadMessage(sql, cipher, message.message_id));
  if (full) code = SubjectPersonalCodeOf(full->envelope);
  if (code.empty() && !message.in_reply_to.empty()) {
    SILD_ASSIGN_OR_RETURN(auto original,
                          LoadMessage(sql, cipher, message.in_reply_to));
    if (original) code = SubjectPersonalCodeOf(original->envelope);
  }
  if (code.empty() || audit_log.Pseudonym(code) != message.subject_pseudonym) {
    return MakeError(absl::StatusCode::kDataLoss, "SUBJECT_MISMATCH", "",
                     "the stored message does not name the subject its row "
                     "records");
  }
  return code;
}

}  // namespace sild::delivery
