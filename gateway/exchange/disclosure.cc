#include "gateway/exchange/disclosure.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/envelope.h"

namespace sild::exchange {

using delivery::InsertOutbox;
using delivery::kGrpcInboxTransport;
using delivery::MarkRefusedOnReplay;
using delivery::OutboxRow;
using delivery::ResetForReplay;
namespace {

void AddCategories(const CategorySet& set,
                   google::protobuf::RepeatedField<int>* out) {
  for (int c = 1; c < 32; ++c) {
    if (set.Contains(c)) out->Add(c);
  }
}

// Audit action, reason and detail of one disclosure.
void DescribeOutcome(const DisclosureRequest& request, const Disclosure& d,
                     sild::v1::AuditRecord* draft) {
  const Decision& decision = d.decision;
  if (request.replay_of != nullptr) {
    draft->set_action(sild::v1::AUDIT_ACTION_ADMINISTRATIVE);
    draft->set_reason_code(std::string(decision.reason_code()));
    draft->set_detail(d.queued
                          ? absl::StrCat("replay of dead letter ",
                                         request.replay_of->delivery_id,
                                         " (queued again): ", decision.detail)
                          : absl::StrCat("replay of dead letter ",
                                         request.replay_of->delivery_id,
                                         " refused: ", decision.detail));
    return;
  }
  draft->set_action(d.queued ? sild::v1::AUDIT_ACTION_DISCLOSURE
                             : sild::v1::AUDIT_ACTION_DECISION);
  if (d.queued && !decision.allow) {
    // Sent without a basis for personal data: only ids and status travel.
    // A reason of its own keeps a refusal code off an ALLOW record.
    draft->set_reason_code("OPERATIONAL_ONLY");
    draft->set_detail(absl::StrCat(
        "Only operational data (ids, status) sent; personal data withheld (",
        decision.reason_code(), "): ", decision.detail));
  } else {
    draft->set_reason_code(std::string(decision.reason_code()));
    draft->set_detail(decision.detail);
  }
}

}  // namespace

std::string TransportFor(const Agency& agency) {
  return agency.config.transport().empty() ? kGrpcInboxTransport
                                           : agency.config.transport();
}

absl::StatusOr<Disclosure> DiscloseTo(WriteTxn& txn,
                                      const ExchangeContext& context,
                                      const DisclosureRequest& request) {
  if (request.envelope == nullptr || request.sender == nullptr ||
      request.recipient == nullptr) {
    return absl::InternalError(
        "a disclosure needs a message, a sender and a recipient");
  }
  const sild::v1::MessageHeader& header = Header(*request.envelope);
  const Agency& recipient = *request.recipient;

  Disclosure d;
  DecisionRequest decision_request;
  decision_request.sender = request.sender->ref;
  decision_request.recipient = recipient.ref;
  decision_request.purpose = header.purpose();
  decision_request.subject_personal_code = request.subject_personal_code;
  decision_request.message_kind = header.kind();
  decision_request.requested = request.present;
  decision_request.time = txn.now();
  d.decision = context.decide(txn, decision_request);
  const Decision& decision = d.decision;

  d.queued = decision.allow ||
             (request.operational_on_deny && request.replay_of == nullptr);
  d.permitted =
      decision.allow ? decision.permitted : CategorySet::AlwaysPermitted();
  d.withheld = request.present;
  for (int c = 1; c < 32; ++c) {
    if (d.permitted.Contains(c)) d.withheld.Remove(c);
  }

  sild::v1::AuditRecord draft;
  draft.mutable_actor()->set_registry_code(request.actor_registry_code);
  draft.mutable_actor()->set_professional_id(request.actor_professional_id);
  draft.set_message_id(header.message_id());
  draft.set_message_kind(header.kind());
  draft.set_subject_pseudonym(request.subject_pseudonym);
  draft.set_purpose(header.purpose());
  if (d.queued || request.replay_of == nullptr) {
    *draft.mutable_basis() = decision.basis;
  }
  if (d.queued) AddCategories(d.permitted, draft.mutable_categories());
  draft.set_outcome(d.queued ? sild::v1::AUDIT_OUTCOME_ALLOW
                             : sild::v1::AUDIT_OUTCOME_DENY);
  draft.set_counterparty(recipient.ref.registry_code());
  DescribeOutcome(request, d, &draft);
  // Fail closed: the record first, the copy only once it is in the chain.
  SILD_ASSIGN_OR_RETURN(d.record,
                        context.audit_log->Append(txn, std::move(draft)));

  const PayloadCipher& cipher = context.store->cipher();
  if (!d.queued) {
    if (request.replay_of != nullptr) {
      SILD_RETURN_IF_ERROR(MarkRefusedOnReplay(
          txn, request.replay_of->delivery_id,
          absl::StrCat("refused on replay: ", decision.reason_code())));
    }
    return d;
  }
  OutboxRow row;
  if (request.replay_of != nullptr) row = *request.replay_of;
  row.message_id = header.message_id();
  row.recipient = recipient.ref.registry_code();
  row.kind = header.kind();
  row.transport = TransportFor(recipient);
  row.permitted = d.permitted;
  row.envelope.Clear();
  context.projector->ProjectCopy(d.permitted, *request.envelope, &row.envelope);
  // The copy says on which basis it was disclosed.
  if (auto* copy_header = MutableHeader(row.envelope)) {
    *copy_header->mutable_basis() = decision.basis;
  }
  if (request.replay_of != nullptr) {
    SILD_RETURN_IF_ERROR(ResetForReplay(txn, cipher, row));
  } else {
    SILD_RETURN_IF_ERROR(InsertOutbox(txn, cipher, row).status());
  }
  d.queued_for_push = row.transport != kGrpcInboxTransport;
  if (decision.allow && decision.basis.has_consent() &&
      context.record_disclosure) {
    SILD_RETURN_IF_ERROR(context.record_disclosure(
        txn, decision.basis.consent(), row.recipient, row.message_id));
  }
  return d;
}

}  // namespace sild::exchange
