#include "gateway/exchange/transition_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/submit.h"
#include "gateway/exchange/validation.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"

namespace sild::exchange {
namespace {

using sild::v1::Transition;

absl::Status NotFound(const std::string& id) {
  return MakeError(absl::StatusCode::kNotFound, "TRANSITION_NOT_FOUND",
                   "transition_id",
                   absl::StrCat("no transition ", id, " visible to you"));
}

absl::Time DayStart(const sild::v1::Date& d) {
  return absl::FromCivil(absl::CivilDay(d.year(), d.month(), d.day()),
                         absl::UTCTimeZone());
}

bool Has(const std::vector<std::string>& roles, const char* role) {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

}  // namespace

grpc::ServerUnaryReactor* TransitionServiceImpl::Submit(
    grpc::CallbackServerContext* context,
    const sild::v1::SubmitTransitionRequest* request,
    sild::v1::Receipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto fail = [&](const absl::Status& status) {
    reactor->Finish(ToGrpcStatus(status, context));
    return reactor;
  };
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) return fail(caller.status());
  const Transition& in = request->transition();
  if (absl::Status valid = ValidateTransition(in); !valid.ok()) {
    return fail(valid);
  }
  const Agency* recipient = nullptr;
  if (!in.to_institution().registry_code().empty()) {
    auto found = router_->FindAgency(in.to_institution().registry_code(),
                                     "transition.to_institution.registry_code");
    if (!found.ok()) return fail(found.status());
    recipient = *found;
  } else {
    // Left education with no next place: the youth guarantee takes over.
    recipient = router_->UnemploymentInsuranceFund();
    if (recipient == nullptr) {
      return fail(InvalidField("NO_ROUTE", "transition.to_institution",
                               "no next institution given and no "
                               "Unemployment Insurance Fund configured"));
    }
  }
  if (recipient == caller->agency) {
    return fail(InvalidField("INVALID_RECIPIENT",
                             "transition.to_institution.registry_code",
                             "an institution cannot hand over to itself"));
  }

  absl::Time now = context_->store->clock()->Now();
  auto submit = std::make_shared<PreparedSubmit>();
  submit->sender = caller->agency->ref.registry_code();
  submit->idempotency_key = in.header().idempotency_key();
  submit->idempotency_field = "transition.header.idempotency_key";
  submit->request_hash = RequestHash(in);
  sild::v1::Envelope& envelope = submit->dispatch.envelope;
  Transition* transition = envelope.mutable_transition();
  *transition = in;
  std::string id = NewUuid();
  envelope.set_message_id(id);
  envelope.set_kind(sild::v1::MESSAGE_KIND_TRANSITION);
  auto* header = transition->mutable_header();
  header->set_message_id(id);
  *header->mutable_sender() = caller->agency->ref;
  header->clear_recipients();
  *header->add_recipients() = recipient->ref;
  header->set_kind(sild::v1::MESSAGE_KIND_TRANSITION);
  *header->mutable_created_time() = ToProtoTime(now);
  header->set_schema_version("1.0");
  header->clear_basis();
  if (header->case_id().empty()) header->set_case_id(id);
  *transition->mutable_from_institution() = caller->agency->ref;
  if (!in.to_institution().registry_code().empty()) {
    *transition->mutable_to_institution() = recipient->ref;
  }
  transition->clear_acknowledgement();
  transition->mutable_acknowledgement()->set_status(
      sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING);

  DispatchRequest& dispatch = submit->dispatch;
  dispatch.subject_personal_code = in.subject().id().value();
  dispatch.recipients = {recipient};
  dispatch.sender = caller->agency;
  dispatch.professional_id = caller->professional_id;
  for (const Agency* m :
       router_->CaseManagers(caller->agency->config.municipality())) {
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
      absl::Hours(24 * context_->config->deadlines()
                           .transition_acknowledge_within_days());
  submit->on_accepted = [row](WriteTxn& txn, const DispatchResult&) {
    TransitionRow stored = row;
    stored.created = txn.now();
    stored.updated = txn.now();
    return InsertTransition(txn, stored);
  };
  SubmitAsync(*context_, std::move(submit),
              [reactor, context, response](absl::StatusOr<SubmitOutcome> out) {
                reactor->Finish(FinishOutcome(out, context, response));
              });
  return reactor;
}

grpc::ServerUnaryReactor* TransitionServiceImpl::Acknowledge(
    grpc::CallbackServerContext* context,
    const sild::v1::AcknowledgeTransitionRequest* request,
    sild::v1::Receipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  auto status = request->acknowledgement().status();
  if (status != sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED &&
      status != sild::v1::ACKNOWLEDGEMENT_STATUS_NOT_ARRIVED &&
      status != sild::v1::ACKNOWLEDGEMENT_STATUS_REFUSED) {
    reactor->Finish(ToGrpcStatus(
        InvalidField("INVALID_STATUS", "acknowledgement.status",
                     "acknowledge with ENROLLED, NOT_ARRIVED or REFUSED"),
        context));
    return reactor;
  }
  auto outcome = std::make_shared<SubmitOutcome>();
  const ExchangeContext* ctx = context_;
  Caller who = *caller;
  sild::v1::AcknowledgeTransitionRequest req = *request;
  std::string request_hash = RequestHash(req);
  context_->store->writer().Submit(
      [ctx, who, req, request_hash, outcome](WriteTxn& txn) -> absl::Status {
        const std::string& id = req.transition_id();
        const std::string& me = who.agency->ref.registry_code();
        if (!req.idempotency_key().empty()) {
          SILD_ASSIGN_OR_RETURN(
              bool duplicate,
              FindOriginalReceipt(txn.sql(), me, req.idempotency_key(),
                                  request_hash, "idempotency_key",
                                  &outcome->receipt));
          if (duplicate) return absl::OkStatus();
        }
        SILD_ASSIGN_OR_RETURN(auto row, LoadTransition(txn.sql(), id));
        if (!row || row->recipient != me) return NotFound(id);
        if (row->status != sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING) {
          return MakeError(absl::StatusCode::kFailedPrecondition,
                           "ALREADY_ACKNOWLEDGED", "transition_id",
                           "the hand-over was already acknowledged");
        }
        const PayloadCipher& cipher = ctx->store->cipher();
        SILD_ASSIGN_OR_RETURN(auto message, LoadMessage(txn.sql(), cipher, id));
        if (!message) return NotFound(id);
        Transition& transition = *message->envelope.mutable_transition();
        sild::v1::TransitionAcknowledgement ack = req.acknowledgement();
        *ack.mutable_time() = ToProtoTime(txn.now());

        DispatchRequest dispatch;
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
        // The acknowledgement names the child so the sender can match it,
        // and nothing else of the hand-over.
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
        SILD_ASSIGN_OR_RETURN(DispatchResult result,
                              Dispatch(txn, *ctx, dispatch));
        *transition.mutable_acknowledgement() = ack;
        SILD_RETURN_IF_ERROR(
            UpdateMessageEnvelope(txn, cipher, id, message->envelope));
        SILD_RETURN_IF_ERROR(
            UpdateTransitionStatus(txn, id, ack.status(), txn.now()));
        outcome->receipt = std::move(result.receipt);
        if (!req.idempotency_key().empty()) {
          SILD_RETURN_IF_ERROR(InsertIdempotencyKey(
              txn, me, req.idempotency_key(), request_hash, outcome->receipt));
        }
        return absl::OkStatus();
      },
      [reactor, context, response, outcome](absl::Status status) {
        if (!status.ok()) {
          reactor->Finish(ToGrpcStatus(status, context));
          return;
        }
        *response = outcome->receipt;
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* TransitionServiceImpl::Get(
    grpc::CallbackServerContext* context,
    const sild::v1::GetTransitionRequest* request,
    sild::v1::GetTransitionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  const std::string& id = request->transition_id();
  const std::string& me = caller->agency->ref.registry_code();
  const PayloadCipher& cipher = context_->store->cipher();
  absl::Status status =
      context_->store->Read([&](SqlConnection& sql) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(auto row, LoadTransition(sql, id));
        if (!row) return NotFound(id);
        SILD_ASSIGN_OR_RETURN(auto roles, PartyRoles(sql, id, me));
        if (roles.empty()) return NotFound(id);
        SILD_ASSIGN_OR_RETURN(auto message, LoadMessage(sql, cipher, id));
        if (!message) return NotFound(id);
        const Transition& current = message->envelope.transition();
        Transition* out = response->mutable_transition();
        if (Has(roles, kRoleSender)) {
          *out = current;
        } else if (Has(roles, kRoleRecipient)) {
          SILD_ASSIGN_OR_RETURN(auto copy, LoadOutboxFor(sql, cipher, id, me));
          if (copy) *out = copy->envelope.transition();
          *out->mutable_acknowledgement() = current.acknowledgement();
        } else {
          context_->projector->ProjectCopy(CategorySet::AlwaysPermitted(),
                                           current, out);
        }
        return absl::OkStatus();
      });
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

}  // namespace sild::exchange
