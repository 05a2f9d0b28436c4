#include "gateway/exchange/dispatch.h"

#include "absl/strings/str_cat.h"
#include "gateway/common/errors.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/status_macros.h"

namespace sild::exchange {
namespace {

using sild::v1::AuditRecord;
using sild::v1::Envelope;

sild::v1::MessageHeader* HeaderOf(Envelope& envelope) {
  switch (envelope.body_case()) {
    case Envelope::kReferral:
      return envelope.mutable_referral()->mutable_header();
    case Envelope::kStatusUpdate:
      return envelope.mutable_status_update()->mutable_header();
    case Envelope::kTransition:
      return envelope.mutable_transition()->mutable_header();
    case Envelope::kAssessment:
      return envelope.mutable_assessment()->mutable_header();
    case Envelope::kConsentWithdrawal:
      return envelope.mutable_consent_withdrawal()->mutable_header();
    case Envelope::kEscalation:
      return envelope.mutable_escalation()->mutable_header();
    case Envelope::BODY_NOT_SET:
      break;
  }
  return nullptr;
}

void AddCategories(const CategorySet& set,
                   google::protobuf::RepeatedField<int>* out) {
  for (int c = 1; c < 32; ++c) {
    if (set.Contains(c)) out->Add(c);
  }
}

}  // namespace

sild::v1::MessageHeader* MutableHeader(Envelope& envelope) {
  return HeaderOf(envelope);
}

const sild::v1::MessageHeader& Header(const Envelope& envelope) {
  auto* header = HeaderOf(const_cast<Envelope&>(envelope));
  return header ? *header : sild::v1::MessageHeader::default_instance();
}

std::string TransportFor(const Agency& agency) {
  return agency.config.transport().empty() ? "grpc-inbox"
                                           : agency.config.transport();
}

namespace {

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
  const PayloadCipher& cipher = context.store->cipher();
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
    DecisionRequest decision_request;
    decision_request.sender = request.sender->ref;
    decision_request.recipient = recipient->ref;
    decision_request.purpose = header.purpose();
    decision_request.subject_personal_code = request.subject_personal_code;
    decision_request.message_kind = header.kind();
    decision_request.requested = present;
    decision_request.time = txn.now();
    Decision decision = context.decide(txn, decision_request);

    bool queue = decision.allow || request.deliver_operational_on_deny;
    CategorySet permitted =
        decision.allow ? decision.permitted : CategorySet::AlwaysPermitted();
    CategorySet withheld = present;
    for (int c = 1; c < 32; ++c) {
      if (permitted.Contains(c)) withheld.Remove(c);
    }

    AuditRecord draft;
    draft.mutable_actor()->set_registry_code(
        request.sender->ref.registry_code());
    draft.mutable_actor()->set_professional_id(request.professional_id);
    draft.set_action(queue ? sild::v1::AUDIT_ACTION_DISCLOSURE
                           : sild::v1::AUDIT_ACTION_DECISION);
    draft.set_message_id(header.message_id());
    draft.set_message_kind(header.kind());
    draft.set_subject_pseudonym(pseudonym);
    draft.set_purpose(header.purpose());
    *draft.mutable_basis() = decision.basis;
    if (queue) AddCategories(permitted, draft.mutable_categories());
    draft.set_outcome(queue ? sild::v1::AUDIT_OUTCOME_ALLOW
                            : sild::v1::AUDIT_OUTCOME_DENY);
    draft.set_counterparty(recipient->ref.registry_code());
    if (queue && !decision.allow) {
      // Sent without a basis for personal data: only ids and status travel.
      // A reason of its own keeps a refusal code off an ALLOW record.
      draft.set_reason_code("OPERATIONAL_ONLY");
      draft.set_detail(absl::StrCat(
          "Only operational data (ids, status) sent; personal data withheld (",
          decision.reason_code(), "): ", decision.detail));
    } else {
      draft.set_reason_code(std::string(decision.reason_code()));
      draft.set_detail(decision.detail);
    }
    SILD_ASSIGN_OR_RETURN(last_record,
                          context.audit_log->Append(txn, std::move(draft)));

    auto* outcome = receipt.add_recipients();
    *outcome->mutable_recipient() = recipient->ref;
    outcome->set_allowed(decision.allow);
    outcome->set_reason_code(std::string(decision.reason_code()));
    outcome->set_detail(decision.detail);
    *outcome->mutable_basis() = decision.basis;
    outcome->set_audit_sequence(last_record.sequence());
    if (queue) AddCategories(permitted, outcome->mutable_disclosed());
    AddCategories(withheld, outcome->mutable_withheld());

    if (!queue) {
      if (result.denial_reason.empty()) {
        result.denial_reason = std::string(decision.reason_code());
        result.denial_detail = decision.detail;
      }
      continue;
    }
    ++result.allowed;
    OutboxRow row;
    row.message_id = header.message_id();
    row.recipient = recipient->ref.registry_code();
    row.kind = header.kind();
    row.transport = TransportFor(*recipient);
    row.permitted = permitted;
    context.projector->ProjectCopy(permitted, request.envelope, &row.envelope);
    // The copy says on which basis it was disclosed.
    if (auto* copy_header = MutableHeader(row.envelope)) {
      *copy_header->mutable_basis() = decision.basis;
    }
    SILD_RETURN_IF_ERROR(InsertOutbox(txn, cipher, row).status());
    queued_for_push |= row.transport != kGrpcInboxTransport;
    parties.push_back({recipient->ref.registry_code(), kRoleRecipient});
    if (decision.allow && decision.basis.has_consent() &&
        context.record_disclosure) {
      SILD_RETURN_IF_ERROR(context.record_disclosure(
          txn, decision.basis.consent(), recipient->ref.registry_code(),
          header.message_id()));
    }
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
