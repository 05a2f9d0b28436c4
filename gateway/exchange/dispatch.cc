#include "gateway/exchange/dispatch.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"

namespace sild::exchange {
namespace {

using sild::v1::AuditRecord;

void AddCategories(const CategorySet& set,
                   google::protobuf::RepeatedField<int>* out) {
  for (int c = 1; c < 32; ++c) {
    if (set.Contains(c)) out->Add(c);
  }
}

absl::StatusOr<DispatchRequest::Prepared> Prepare(
    const ExchangeContext& context, const DispatchRequest& request) {
  DispatchRequest::Prepared prepared;
  if (!request.subject_personal_code.empty()) {
    prepared.subject_pseudonym =
        context.audit_log->Pseudonym(request.subject_personal_code);
  }
  prepared.present = context.projector->CategoriesPresent(request.envelope);
  SILD_ASSIGN_OR_RETURN(
      prepared.sealed_envelope,
      SealMessageEnvelope(context.store->cipher(),
                          Header(request.envelope).message_id(),
                          request.envelope));
  return prepared;
}

}  // namespace

absl::Status PrepareDispatch(const ExchangeContext& context,
                             DispatchRequest* request) {
  SILD_ASSIGN_OR_RETURN(request->prepared, Prepare(context, *request));
  return absl::OkStatus();
}

absl::StatusOr<DispatchResult> Dispatch(WriteTxn& txn,
                                        const ExchangeContext& context,
                                        const DispatchRequest& request) {
  const sild::v1::MessageHeader& header = Header(request.envelope);
  if (header.message_id().empty() || request.sender == nullptr) {
    return absl::InternalError("dispatch needs a message id and a sender");
  }
  // Callers that did not prepare (status updates, escalations) pay for it
  // here, on the writer.
  std::optional<DispatchRequest::Prepared> computed;
  if (!request.prepared) {
    SILD_ASSIGN_OR_RETURN(computed, Prepare(context, request));
  }
  const DispatchRequest::Prepared& prepared =
      request.prepared ? *request.prepared : *computed;
  const std::string& pseudonym = prepared.subject_pseudonym;
  const CategorySet& present = prepared.present;

  DispatchResult result;
  bool queued_for_push = false;  // a row the push workers deliver
  sild::v1::Receipt& receipt = result.receipt;
  receipt.set_message_id(header.message_id());
  receipt.set_chain_id(context.audit_log->chain_id());
  *receipt.mutable_accepted_time() = ToProtoTime(txn.now());

  AuditRecord last_record;
  std::vector<Party> parties;
  for (const Agency* recipient : request.recipients) {
    DisclosureRequest disclosure;
    disclosure.envelope = &request.envelope;
    disclosure.subject_personal_code = request.subject_personal_code;
    disclosure.subject_pseudonym = pseudonym;
    disclosure.present = present;
    disclosure.sender = request.sender;
    disclosure.recipient = recipient;
    disclosure.actor_registry_code = request.sender->ref.registry_code();
    disclosure.actor_professional_id = request.professional_id;
    disclosure.operational_on_deny = request.deliver_operational_on_deny;
    SILD_ASSIGN_OR_RETURN(Disclosure d, DiscloseTo(txn, context, disclosure));
    const Decision& decision = d.decision;
    last_record = std::move(d.record);

    auto* outcome = receipt.add_recipients();
    *outcome->mutable_recipient() = recipient->ref;
    outcome->set_allowed(decision.allow);
    outcome->set_reason_code(std::string(decision.reason_code()));
    outcome->set_detail(decision.detail);
    *outcome->mutable_basis() = decision.basis;
    outcome->set_audit_sequence(last_record.sequence());
    if (d.queued) AddCategories(d.permitted, outcome->mutable_disclosed());
    AddCategories(d.withheld, outcome->mutable_withheld());

    if (!d.queued) {
      if (result.denial_reason.empty()) {
        result.denial_reason = std::string(decision.reason_code());
        result.denial_detail = decision.detail;
      }
      continue;
    }
    ++result.allowed;
    queued_for_push |= d.queued_for_push;
    parties.push_back({recipient->ref.registry_code(), kRoleRecipient});
  }
  receipt.set_audit_sequence(last_record.sequence());
  receipt.set_audit_record_hash(last_record.record_hash());

  if (result.allowed > 0) {
    MessageRow message;
    message.message_id = header.message_id();
    message.kind = header.kind();
    message.sender = request.sender->ref.registry_code();
    message.case_id = header.case_id();
    message.subject_pseudonym = pseudonym;
    message.purpose = header.purpose();
    message.in_reply_to = header.in_reply_to();
    message.created = txn.now();
    SILD_RETURN_IF_ERROR(
        InsertSealedMessage(txn, message, prepared.sealed_envelope));
    parties.push_back({message.sender, kRoleSender});
    for (const std::string& code : request.case_managers) {
      parties.push_back({code, kRoleCaseManager});
    }
    SILD_RETURN_IF_ERROR(AddParties(txn, header.message_id(), parties));
    if (queued_for_push || !context.on_inbox_queued) {
      if (context.on_outbox_changed) {
        txn.AfterCommitOnce(&context.on_outbox_changed,
                            context.on_outbox_changed);
      }
    } else {
      txn.AfterCommitOnce(&context.on_inbox_queued, context.on_inbox_queued);
    }
  }
  return result;
}

}  // namespace sild::exchange
