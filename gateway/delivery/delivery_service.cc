#include "gateway/delivery/delivery_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/status_macros.h"
#include "gateway/delivery/delivery_audit.h"
#include "gateway/delivery/transport_health.h"
#include "gateway/exchange/disclosure.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"

namespace sild::delivery {

using exchange::DiscloseTo;
using exchange::Disclosure;
using exchange::DisclosureRequest;
using exchange::ExchangeContext;
using exchange::LoadMessageSummary;
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

absl::StatusOr<Caller> AuthenticateOperator(
    grpc::CallbackServerContext* context, const AgencyDirectory& directory,
    absl::string_view method) {
  SILD_ASSIGN_OR_RETURN(Caller caller, AuthenticateCall(context, directory));
  if (!caller.agency->HasRole(config::v1::AGENCY_ROLE_OPERATOR)) {
    LogInfo("call refused", {{"method", std::string(method)},
                             {"agency", caller.agency->ref.registry_code()},
                             {"reason", "NOT_OPERATOR"}});
    return MakeError(absl::StatusCode::kPermissionDenied, "NOT_OPERATOR", "",
                     "only an agency with the operator role manages "
                     "deliveries");
  }
  return caller;
}

void ToDelivery(const OutboxRow& row, const AgencyDirectory& directory,
                sild::v1::Delivery* out) {
  out->set_delivery_id(row.delivery_id);
  out->set_message_id(row.message_id);
  out->set_kind(row.kind);
  if (const Agency* agency = directory.FindByRegistryCode(row.recipient)) {
    *out->mutable_recipient() = agency->ref;
  } else {
    out->mutable_recipient()->set_registry_code(row.recipient);
  }
  out->set_state(row.state);
  out->set_attempts(row.attempts);
  out->set_last_error(row.last_error);
  auto ms = [](absl::Time t) {
    return t == absl::InfinitePast() ? int64_t{0} : absl::ToUnixMillis(t);
  };
  out->set_created_unix_ms(ms(row.created));
  out->set_next_attempt_unix_ms(ms(row.next_attempt));
  out->set_delivered_unix_ms(ms(row.delivered));
  out->set_transport(row.transport);
}

// Page tokens are the last delivery id of the page, base64url.
std::string PageToken(int64_t last_id) {
  return absl::WebSafeBase64Escape(absl::StrCat(last_id));
}

absl::StatusOr<int64_t> ParsePageToken(const std::string& token) {
  if (token.empty()) return 0;
  std::string raw;
  int64_t id = 0;
  if (!absl::WebSafeBase64Unescape(token, &raw) ||
      !absl::SimpleAtoi(raw, &id) || id < 0) {
    return InvalidField("INVALID_PAGE_TOKEN", "page_token",
                        "not a token this gateway issued");
  }
  return id;
}

}  // namespace

grpc::ServerUnaryReactor* DeliveryServiceImpl::List(
    grpc::CallbackServerContext* context,
    const sild::v1::ListDeliveriesRequest* request,
    sild::v1::ListDeliveriesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    SILD_RETURN_IF_ERROR(AuthenticateOperator(context, *context_->directory,
                                              "DeliveryService.List")
                             .status());
    DeliveryFilter filter;
    filter.state = request->state();
    if (!sild::v1::DeliveryState_IsValid(filter.state)) {
      return InvalidField("INVALID_STATE", "state", "not a delivery state");
    }
    filter.recipient = request->recipient_registry_code();
    if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
      return InvalidField("INVALID_PAGE_SIZE", "page_size",
                          absl::StrCat("must be 0 (default ", kDefaultPageSize,
                                       ") to ", kMaxPageSize));
    }
    filter.limit =
        request->page_size() == 0 ? kDefaultPageSize : request->page_size();
    SILD_ASSIGN_OR_RETURN(filter.after_id,
                          ParsePageToken(request->page_token()));
    std::vector<OutboxRow> rows;
    SILD_RETURN_IF_ERROR(
        context_->store->Read([&](SqlConnection& sql) -> absl::Status {
          SILD_ASSIGN_OR_RETURN(rows, ListDeliveries(sql, filter));
          return absl::OkStatus();
        }));
    for (const OutboxRow& row : rows) {
      ToDelivery(row, *context_->directory, response->add_deliveries());
    }
    if (static_cast<int>(rows.size()) == filter.limit) {
      response->set_next_page_token(PageToken(rows.back().delivery_id));
    }
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::ListTransports(
    grpc::CallbackServerContext* context,
    const sild::v1::ListTransportsRequest* /*request*/,
    sild::v1::ListTransportsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = AuthenticateOperator(context, *context_->directory,
                                             "DeliveryService.ListTransports")
                            .status();
  if (status.ok() && context_->transport_health != nullptr) {
    for (auto& state : context_->transport_health->Snapshot()) {
      *response->add_transports() = std::move(state);
    }
  }
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::Replay(
    grpc::CallbackServerContext* context,
    const sild::v1::ReplayDeliveryRequest* request,
    sild::v1::ReplayDeliveryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller = AuthenticateOperator(
      context, *context_->directory, "DeliveryService.Replay");
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  int64_t id = request->delivery_id();
  if (id <= 0) {
    reactor->Finish(ToGrpcStatus(
        InvalidField("INVALID_DELIVERY_ID", "delivery_id", "must be positive"),
        context));
    return reactor;
  }
  auto result = std::make_shared<sild::v1::ReplayDeliveryResponse>();
  const ExchangeContext* ctx = context_;
  Caller operator_caller = *caller;
  context_->store->writer().Submit(
      [ctx, operator_caller, id, result](WriteTxn& txn) -> absl::Status {
        result->Clear();
        const PayloadCipher& cipher = ctx->store->cipher();
        SILD_ASSIGN_OR_RETURN(auto row, LoadOutbox(txn.sql(), cipher, id));
        if (!row) {
          return MakeError(absl::StatusCode::kNotFound, "DELIVERY_NOT_FOUND",
                           "delivery_id", absl::StrCat("no delivery ", id));
        }
        if (row->state != sild::v1::DELIVERY_STATE_DEAD) {
          return MakeError(
              absl::StatusCode::kFailedPrecondition, "NOT_DEAD_LETTER",
              "delivery_id",
              absl::StrCat("delivery ", id, " is ",
                           sild::v1::DeliveryState_Name(row->state),
                           ", not a dead letter; only dead letters are "
                           "replayed"));
        }
        SILD_ASSIGN_OR_RETURN(auto message,
                              LoadMessageSummary(txn.sql(), row->message_id));
        if (!message) {
          return MakeError(
              absl::StatusCode::kDataLoss, "MESSAGE_MISSING", "",
              absl::StrCat("delivery ", id, " has no stored message"));
        }
        SILD_ASSIGN_OR_RETURN(
            std::string subject,
            SubjectPersonalCode(txn.sql(), cipher, *ctx->audit_log, *message));

        const Agency* sender =
            ctx->directory->FindByRegistryCode(message->sender);
        const Agency* recipient =
            ctx->directory->FindByRegistryCode(row->recipient);
        bool allow = false;
        std::string reason;
        std::string detail;
        if (sender == nullptr || recipient == nullptr) {
          // No decision can be made for an agency that is gone.
          reason = sender == nullptr ? "UNKNOWN_SENDER" : "UNKNOWN_RECIPIENT";
          detail = absl::StrCat(
              "agency ", sender == nullptr ? message->sender : row->recipient,
              " is not configured any more");
          SILD_RETURN_IF_ERROR(MarkRefusedOnReplay(
              txn, id, absl::StrCat("refused on replay: ", reason)));
          sild::v1::AuditRecord draft = DeliveryAuditDraft(*row, &*message);
          draft.clear_categories();
          draft.clear_basis();
          draft.set_outcome(sild::v1::AUDIT_OUTCOME_DENY);
          draft.set_detail(
              absl::StrCat("replay of dead letter ", id, " refused: ", detail));
          draft.set_action(sild::v1::AUDIT_ACTION_ADMINISTRATIVE);
          draft.set_reason_code(reason);
          draft.mutable_actor()->set_registry_code(
              operator_caller.agency->ref.registry_code());
          draft.mutable_actor()->set_professional_id(
              operator_caller.professional_id);
          SILD_RETURN_IF_ERROR(
              ctx->audit_log->Append(txn, std::move(draft)).status());
        } else {
          // The same disclosure step as a new message, on the copy the dead
          // letter holds (never more than was disclosed the first time).
          DisclosureRequest disclosure;
          disclosure.envelope = &row->envelope;
          disclosure.subject_personal_code = subject;
          disclosure.subject_pseudonym = message->subject_pseudonym;
          disclosure.present = ctx->projector->CategoriesPresent(row->envelope);
          disclosure.sender = sender;
          disclosure.recipient = recipient;
          disclosure.actor_registry_code =
              operator_caller.agency->ref.registry_code();
          disclosure.actor_professional_id = operator_caller.professional_id;
          disclosure.replay_of = &*row;
          SILD_ASSIGN_OR_RETURN(Disclosure d,
                                DiscloseTo(txn, *ctx, disclosure));
          allow = d.decision.allow;
          reason = std::string(d.decision.reason_code());
          detail = d.decision.detail;
          if (d.queued && ctx->on_outbox_changed) {
            txn.AfterCommitOnce(&ctx->on_outbox_changed,
                                ctx->on_outbox_changed);
          }
        }

        SILD_ASSIGN_OR_RETURN(auto after, LoadOutbox(txn.sql(), cipher, id));
        if (after)
          ToDelivery(*after, *ctx->directory, result->mutable_delivery());
        result->set_allowed(allow);
        result->set_reason_code(reason);
        result->set_detail(detail);
        return absl::OkStatus();
      },
      [reactor, context, response, result](absl::Status status) {
        if (status.ok()) *response = *result;
        reactor->Finish(ToGrpcStatus(status, context));
      });
  return reactor;
}

}  // namespace sild::delivery
