#include "gateway/exchange/transitions.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/validation.h"

namespace sild::exchange {
namespace {

using sild::v1::Transition;

absl::Time DayStart(const sild::v1::Date& d) {
  return absl::FromCivil(absl::CivilDay(d.year(), d.month(), d.day()),
                         absl::UTCTimeZone());
}

}  // namespace

absl::Status TransitionNotFound(const std::string& id) {
  return MakeError(absl::StatusCode::kNotFound, "TRANSITION_NOT_FOUND",
                   "transition_id",
                   absl::StrCat("no transition ", id, " visible to you"));
}

void SubmitTransition(const ExchangeContext& context, const Router& router,
                      const Actor& actor, const Transition& in,
                      SubmitDone done) {
  if (absl::Status valid = ValidateTransition(in); !valid.ok()) {
    done(valid);
    return;
  }
  const Agency* recipient = nullptr;
  if (!in.to_institution().registry_code().empty()) {
    auto found = router.FindAgency(in.to_institution().registry_code(),
                                   "transition.to_institution.registry_code");
    if (!found.ok()) {
      done(found.status());
      return;
    }
    recipient = *found;
  } else {
    // Left education with no next place: the youth guarantee takes over.
    recipient = router.UnemploymentInsuranceFund();
    if (recipient == nullptr) {
      done(InvalidField("NO_ROUTE", "transition.to_institution",
                        "no next institution given and no "
                        "Unemployment Insurance Fund configured"));
      return;
    }
  }
  if (recipient == actor.agency) {
    done(InvalidField("INVALID_RECIPIENT",
                      "transition.to_institution.registry_code",
                      "an institution cannot hand over to itself"));
    return;
  }

  const Agency& sender = *actor.agency;
  absl::Time now = context.store->clock()->Now();
  auto submit = NewPreparedSubmit(sender.ref.registry_code(),
                                  in.header().idempotency_key(),
                                  "transition.header.idempotency_key", in);
  sild::v1::Envelope& envelope = submit->dispatch.envelope;
  Transition* transition = envelope.mutable_transition();
  *transition = in;
  std::string id = NewUuid();
  envelope.set_message_id(id);
  envelope.set_kind(sild::v1::MESSAGE_KIND_TRANSITION);
  auto* header = transition->mutable_header();
  header->set_message_id(id);
  *header->mutable_sender() = sender.ref;
  header->clear_recipients();
  *header->add_recipients() = recipient->ref;
  header->set_kind(sild::v1::MESSAGE_KIND_TRANSITION);
  *header->mutable_created_time() = ToProtoTime(now);
  header->set_schema_version("1.0");
  header->clear_basis();
  if (header->case_id().empty()) header->set_case_id(id);
  *transition->mutable_from_institution() = sender.ref;
  if (!in.to_institution().registry_code().empty()) {
    *transition->mutable_to_institution() = recipient->ref;
  }
  transition->clear_acknowledgement();
  transition->mutable_acknowledgement()->set_status(
      sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING);

  DispatchRequest& dispatch = submit->dispatch;
  dispatch.subject_personal_code = in.subject().id().value();
  dispatch.recipients = {recipient};
  dispatch.sender = &sender;
  dispatch.professional_id = actor.professional_id;
  for (const Agency* m : router.CaseManagers(sender.config.municipality())) {
    dispatch.case_managers.push_back(m->ref.registry_code());
  }

  TransitionRow row;
  row.transition_id = id;
  row.sender = submit->sender;
  row.recipient = recipient->ref.registry_code();
  row.status = sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING;
  row.effective = DayStart(in.effective_date());
  row.acknowledge_by =
      row.effective +
      absl::Hours(
          24 *
          context.config->deadlines().transition_acknowledge_within_days());
  submit->on_accepted = [row](WriteTxn& txn, const DispatchResult&) {
    TransitionRow stored = row;
    stored.created = txn.now();
    stored.updated = txn.now();
    return InsertTransition(txn, stored);
  };
  SubmitAsync(context, std::move(submit), std::move(done));
}

void AcknowledgeTransition(
    const ExchangeContext& context, const Actor& actor,
    const sild::v1::AcknowledgeTransitionRequest& request, SubmitDone done) {
  auto status = request.acknowledgement().status();
  if (status != sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED &&
      status != sild::v1::ACKNOWLEDGEMENT_STATUS_NOT_ARRIVED &&
      status != sild::v1::ACKNOWLEDGEMENT_STATUS_REFUSED) {
    done(InvalidField("INVALID_STATUS", "acknowledgement.status",
                      "acknowledge with ENROLLED, NOT_ARRIVED or REFUSED"));
    return;
  }
  auto submit =
      NewPreparedSubmit(actor.agency->ref.registry_code(),
                        request.idempotency_key(), "idempotency_key", request);
  // The acknowledgement stands whatever the decisions: the sender gets at
  // least its operational part (deliver_operational_on_deny).
  submit->refuse_when_none_allowed = false;

  // What the write loads before the acknowledgement goes out and changes
  // after.
  struct Ack {
    sild::v1::AcknowledgeTransitionRequest request;
    Actor actor;
    MessageRow message;
    sild::v1::TransitionAcknowledgement ack;
  };
  auto state = std::make_shared<Ack>();
  state->request = request;
  state->actor = actor;
  const ExchangeContext* ctx = &context;

  submit->before_dispatch =
      [ctx, state](WriteTxn& txn, DispatchRequest& dispatch) -> absl::Status {
    const sild::v1::AcknowledgeTransitionRequest& req = state->request;
    const Actor& who = state->actor;
    const std::string& id = req.transition_id();
    const std::string& me = who.agency->ref.registry_code();
    SILD_ASSIGN_OR_RETURN(auto row, LoadTransition(txn.sql(), id));
    if (!row || row->recipient != me) return TransitionNotFound(id);
    if (row->status != sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING) {
      return MakeError(absl::StatusCode::kFailedPrecondition,
                       "ALREADY_ACKNOWLEDGED", "transition_id",
                       "the hand-over was already acknowledged");
    }
    SILD_ASSIGN_OR_RETURN(auto message,
                          LoadMessage(txn.sql(), ctx->store->cipher(), id));
    if (!message) return TransitionNotFound(id);
    state->message = *std::move(message);
    const Transition& transition = state->message.envelope.transition();
    sild::v1::TransitionAcknowledgement& ack = state->ack;
    ack = req.acknowledgement();
    *ack.mutable_time() = ToProtoTime(txn.now());

    std::string ack_id = NewUuid();
    sild::v1::Envelope& envelope = dispatch.envelope;
    envelope.set_message_id(ack_id);
    envelope.set_kind(sild::v1::MESSAGE_KIND_TRANSITION_ACK);
    Transition* reply = envelope.mutable_transition();
    auto* header = reply->mutable_header();
    header->set_message_id(ack_id);
    header->set_case_id(transition.header().case_id());
    *header->mutable_sender() = who.agency->ref;
    header->set_purpose(transition.header().purpose());
    *header->mutable_created_time() = ToProtoTime(txn.now());
    header->set_schema_version("1.0");
    header->set_kind(sild::v1::MESSAGE_KIND_TRANSITION_ACK);
    header->set_in_reply_to(id);
    header->set_idempotency_key(req.idempotency_key());
    // The acknowledgement names the child so the sender can match it, and
    // nothing else of the hand-over.
    *reply->mutable_subject()->mutable_id() = transition.subject().id();
    *reply->mutable_from_institution() = transition.from_institution();
    *reply->mutable_to_institution() = who.agency->ref;
    *reply->mutable_acknowledgement() = ack;
    const Agency* sender = ctx->directory->FindByRegistryCode(row->sender);
    if (sender != nullptr) {
      dispatch.recipients.push_back(sender);
      *header->add_recipients() = sender->ref;
    }
    dispatch.subject_personal_code = transition.subject().id().value();
    dispatch.sender = who.agency;
    dispatch.professional_id = who.professional_id;
    dispatch.deliver_operational_on_deny = true;
    return absl::OkStatus();
  };

  submit->on_accepted = [ctx, state](WriteTxn& txn,
                                     const DispatchResult&) -> absl::Status {
    const std::string& id = state->request.transition_id();
    *state->message.envelope.mutable_transition()->mutable_acknowledgement() =
        state->ack;
    SILD_RETURN_IF_ERROR(UpdateMessageEnvelope(txn, ctx->store->cipher(), id,
                                               state->message.envelope));
    return UpdateTransitionStatus(txn, id, state->ack.status(), txn.now());
  };

  SubmitAsync(context, std::move(submit), std::move(done));
}

}  // namespace sild::exchange
