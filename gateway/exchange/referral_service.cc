#include "gateway/exchange/referral_service.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/base/errors.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/submit.h"
#include "gateway/exchange/validation.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"

namespace sild::exchange {
namespace {

using sild::v1::Referral;
using sild::v1::ReferralStatus;

absl::Status NotFound(const std::string& id) {
  // The same answer whether the referral does not exist or the caller is no
  // party to it.
  return MakeError(absl::StatusCode::kNotFound, "REFERRAL_NOT_FOUND",
                   "referral_id",
                   absl::StrCat("no referral ", id, " visible to you"));
}

bool Has(const std::vector<std::string>& roles, const char* role) {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

// Page tokens are "<created_ms>:<referral_id>", base64url.
std::string PageToken(const ReferralRow& last) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(absl::ToUnixMillis(last.created), ":", last.referral_id));
}

absl::Status ParsePageToken(const std::string& token, int64_t* created_ms,
                            std::string* id) {
  std::string raw;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    parts = absl::StrSplit(raw, absl::MaxSplits(':', 1));
  }
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], created_ms)) {
    return InvalidField("INVALID_PAGE_TOKEN", "page_token",
                        "not a token this gateway issued");
  }
  *id = parts[1];
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckReferralTransition(ReferralStatus from, ReferralStatus to,
                                     bool is_requester, bool is_recipient) {
  using S = ReferralStatus;
  auto terminal = [](ReferralStatus s) {
    return s == S::REFERRAL_STATUS_REJECTED ||
           s == S::REFERRAL_STATUS_COMPLETED ||
           s == S::REFERRAL_STATUS_WITHDRAWN;
  };
  if (to == S::REFERRAL_STATUS_UNSPECIFIED || to == S::REFERRAL_STATUS_SUBMITTED ||
      !sild::v1::ReferralStatus_IsValid(to)) {
    return InvalidField("INVALID_STATUS", "status",
                        "not a status a party can set");
  }
  if (terminal(from)) {
    return MakeError(absl::StatusCode::kFailedPrecondition,
                     "INVALID_TRANSITION", "status",
                     absl::StrCat("the referral is already ",
                                  sild::v1::ReferralStatus_Name(from)));
  }
  if (to == S::REFERRAL_STATUS_WITHDRAWN) {
    if (!is_requester) {
      return MakeError(absl::StatusCode::kPermissionDenied,
                       "NOT_ALLOWED_FOR_ROLE", "status",
                       "only the requester may withdraw a referral");
    }
    return absl::OkStatus();
  }
  if (!is_recipient) {
    return MakeError(absl::StatusCode::kPermissionDenied,
                     "NOT_ALLOWED_FOR_ROLE", "status",
                     "only a recipient may set this status");
  }
  // Allowed forward moves for the recipient.
  static const std::vector<std::pair<S, S>> kAllowed = {
      {S::REFERRAL_STATUS_SUBMITTED, S::REFERRAL_STATUS_RECEIVED},
      {S::REFERRAL_STATUS_SUBMITTED, S::REFERRAL_STATUS_ACCEPTED},
      {S::REFERRAL_STATUS_SUBMITTED, S::REFERRAL_STATUS_REJECTED},
      {S::REFERRAL_STATUS_RECEIVED, S::REFERRAL_STATUS_ACCEPTED},
      {S::REFERRAL_STATUS_RECEIVED, S::REFERRAL_STATUS_REJECTED},
      {S::REFERRAL_STATUS_ACCEPTED, S::REFERRAL_STATUS_IN_PROGRESS},
      {S::REFERRAL_STATUS_ACCEPTED, S::REFERRAL_STATUS_COMPLETED},
      {S::REFERRAL_STATUS_IN_PROGRESS, S::REFERRAL_STATUS_COMPLETED},
  };
  for (const auto& [a, b] : kAllowed) {
    if (a == from && b == to) return absl::OkStatus();
  }
  return MakeError(absl::StatusCode::kFailedPrecondition, "INVALID_TRANSITION",
                   "status",
                   absl::StrCat("a referral cannot go from ",
                                sild::v1::ReferralStatus_Name(from), " to ",
                                sild::v1::ReferralStatus_Name(to)));
}

namespace {

absl::Time AcknowledgeBy(const ExchangeContext& context,
                         const Referral& referral, absl::Time now) {
  for (const auto& deadline : context.config->deadlines().referral_deadlines()) {
    bool purpose_ok = deadline.purpose() == sild::v1::PURPOSE_UNSPECIFIED ||
                      deadline.purpose() == referral.header().purpose();
    bool service_ok = deadline.service() == sild::v1::SERVICE_TYPE_UNSPECIFIED ||
                      deadline.service() == referral.service();
    if (purpose_ok && service_ok) {
      return now + absl::Hours(deadline.acknowledge_within_hours());
    }
  }
  const auto& by = referral.respond_by();
  if (by.year() > 0) {
    return absl::FromCivil(absl::CivilDay(by.year(), by.month(), by.day()) + 1,
                           absl::UTCTimeZone());
  }
  return absl::InfinitePast();
}

}  // namespace

void SubmitReferralFrom(
    const ExchangeContext& context, const Router& router, const Agency& sender,
    const Referral& in, const std::string& professional_id,
    std::function<void(absl::StatusOr<SubmitOutcome>)> done) {
  if (absl::Status valid = ValidateReferral(in); !valid.ok()) {
    done(valid);
    return;
  }
  auto recipients = router.ReferralRecipients(in, "referral");
  if (!recipients.ok()) {
    done(recipients.status());
    return;
  }

  absl::Time now = context.store->clock()->Now();
  auto submit = std::make_shared<PreparedSubmit>();
  submit->sender = sender.ref.registry_code();
  submit->idempotency_key = in.header().idempotency_key();
  submit->idempotency_field = "referral.header.idempotency_key";
  submit->request_hash = RequestHash(in);

  // Normalise: the gateway, not the payload, says who sent what when.
  sild::v1::Envelope& envelope = submit->dispatch.envelope;
  Referral* referral = envelope.mutable_referral();
  *referral = in;
  std::string message_id = NewUuid();
  if (message_id.empty()) {
    done(absl::InternalError("no randomness"));
    return;
  }
  envelope.set_message_id(message_id);
  envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  auto* header = referral->mutable_header();
  header->set_message_id(message_id);
  *header->mutable_sender() = sender.ref;
  header->clear_recipients();
  for (const Agency* r : *recipients) *header->add_recipients() = r->ref;
  header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  *header->mutable_created_time() = ToProtoTime(now);
  header->set_schema_version("1.0");
  header->clear_basis();
  if (header->case_id().empty()) header->set_case_id(message_id);
  if (referral->urgency() == sild::v1::URGENCY_UNSPECIFIED) {
    referral->set_urgency(sild::v1::URGENCY_ROUTINE);
  }
  referral->set_status(sild::v1::REFERRAL_STATUS_SUBMITTED);
  referral->clear_history();
  auto* change = referral->add_history();
  change->set_status(sild::v1::REFERRAL_STATUS_SUBMITTED);
  *change->mutable_time() = ToProtoTime(now);
  *change->mutable_changed_by() = sender.ref;
  if (referral->has_requested_by()) {
    *change->mutable_professional() = referral->requested_by();
  }

  DispatchRequest& dispatch = submit->dispatch;
  dispatch.subject_personal_code = in.subject().id().value();
  dispatch.recipients = *recipients;
  dispatch.sender = &sender;
  dispatch.professional_id = professional_id;
  std::string municipality = !in.municipality().empty()
                                 ? in.municipality()
                                 : sender.config.municipality();
  for (const Agency* manager : router.CaseManagers(municipality)) {
    dispatch.case_managers.push_back(manager->ref.registry_code());
  }

  ReferralRow row;
  row.referral_id = message_id;
  row.status = sild::v1::REFERRAL_STATUS_SUBMITTED;
  row.service = in.service();
  row.urgency = referral->urgency();
  row.requester = submit->sender;
  row.case_id = header->case_id();
  row.municipality = municipality;
  row.created = now;
  row.updated = now;
  row.acknowledge_by = AcknowledgeBy(context, *referral, now);
  submit->on_accepted = [row](WriteTxn& txn, const DispatchResult&) {
    ReferralRow stored = row;
    stored.created = txn.now();
    stored.updated = txn.now();
    return InsertReferral(txn, stored);
  };

  SubmitAsync(context, std::move(submit), std::move(done));
}

grpc::ServerUnaryReactor* ReferralServiceImpl::Submit(
    grpc::CallbackServerContext* context,
    const sild::v1::SubmitReferralRequest* request,
    sild::v1::Receipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  SubmitReferralFrom(
      *context_, *router_, *caller->agency, request->referral(),
      caller->professional_id,
      [reactor, context, response](absl::StatusOr<SubmitOutcome> out) {
        reactor->Finish(FinishOutcome(out, context, response));
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReferralServiceImpl::Get(
    grpc::CallbackServerContext* context,
    const sild::v1::GetReferralRequest* request,
    sild::v1::GetReferralResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  const std::string& id = request->referral_id();
  const std::string& me = caller->agency->ref.registry_code();
  const PayloadCipher& cipher = context_->store->cipher();
  absl::Status status = context_->store->Read([&](SqlConnection& sql)
                                                   -> absl::Status {
    SILD_ASSIGN_OR_RETURN(auto referral_row, LoadReferral(sql, id));
    if (!referral_row) return NotFound(id);
    SILD_ASSIGN_OR_RETURN(auto roles, PartyRoles(sql, id, me));
    if (roles.empty()) return NotFound(id);
    SILD_ASSIGN_OR_RETURN(auto message, LoadMessage(sql, cipher, id));
    if (!message) return NotFound(id);
    const Referral& current = message->envelope.referral();
    Referral* out = response->mutable_referral();
    if (Has(roles, kRoleSender)) {
      *out = current;
      return absl::OkStatus();
    }
    CategorySet permitted = CategorySet::AlwaysPermitted();
    if (Has(roles, kRoleRecipient)) {
      SILD_ASSIGN_OR_RETURN(auto copy, LoadOutboxFor(sql, cipher, id, me));
      if (copy) {
        *out = copy->envelope.referral();
        permitted = copy->permitted;
      }
    } else {
      // Case managers see that a referral exists and where it stands.
      context_->projector->ProjectCopy(permitted, current, out);
    }
    // Status and history as they are now, minimised like the copy.
    out->set_status(current.status());
    out->clear_history();
    for (const auto& change : current.history()) {
      context_->projector->ProjectCopy(permitted, change, out->add_history());
    }
    return absl::OkStatus();
  });
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

grpc::ServerUnaryReactor* ReferralServiceImpl::List(
    grpc::CallbackServerContext* context,
    const sild::v1::ListReferralsRequest* request,
    sild::v1::ListReferralsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  ReferralListFilter filter;
  filter.agency = caller->agency->ref.registry_code();
  switch (request->role()) {
    case sild::v1::ListReferralsRequest::ROLE_SENT:
      filter.role = kRoleSender;
      break;
    case sild::v1::ListReferralsRequest::ROLE_RECEIVED:
      filter.role = kRoleRecipient;
      break;
    case sild::v1::ListReferralsRequest::ROLE_CASE_MANAGED:
      filter.role = kRoleCaseManager;
      break;
    default:
      break;
  }
  filter.status = request->status();
  filter.case_id = request->case_id();
  filter.limit = request->page_size() <= 0 ? 50
                                           : std::min(request->page_size(), 500);
  absl::Status status;
  if (!request->page_token().empty()) {
    status = ParsePageToken(request->page_token(), &filter.before_created_ms,
                            &filter.before_id);
  }
  if (status.ok()) {
    status = context_->store->Read([&](SqlConnection& sql) -> absl::Status {
      SILD_ASSIGN_OR_RETURN(auto rows, ListReferrals(sql, filter));
      for (const ReferralRow& row : rows) {
        auto* summary = response->add_referrals();
        summary->set_referral_id(row.referral_id);
        summary->set_status(row.status);
        summary->set_service(row.service);
        summary->set_urgency(row.urgency);
        summary->set_case_id(row.case_id);
        summary->set_created_unix_ms(absl::ToUnixMillis(row.created));
        summary->set_updated_unix_ms(absl::ToUnixMillis(row.updated));
        if (const Agency* requester =
                context_->directory->FindByRegistryCode(row.requester)) {
          *summary->mutable_requester() = requester->ref;
        }
        SILD_ASSIGN_OR_RETURN(
            auto parties,
            sql.Query("SELECT registry_code FROM message_parties WHERE "
                      "message_id = ? AND role = ? ORDER BY registry_code",
                      {row.referral_id, std::string(kRoleRecipient)}));
        for (const auto& party : parties) {
          if (const Agency* a =
                  context_->directory->FindByRegistryCode(party.Text(0))) {
            *summary->add_recipients() = a->ref;
          }
        }
      }
      if (static_cast<int>(rows.size()) == filter.limit) {
        response->set_next_page_token(PageToken(rows.back()));
      }
      return absl::OkStatus();
    });
  }
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

grpc::ServerUnaryReactor* ReferralServiceImpl::UpdateStatus(
    grpc::CallbackServerContext* context,
    const sild::v1::UpdateReferralStatusRequest* request,
    sild::v1::Receipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  if (request->status() == sild::v1::REFERRAL_STATUS_REJECTED &&
      request->rejection_reason() == sild::v1::REJECTION_REASON_UNSPECIFIED) {
    reactor->Finish(ToGrpcStatus(
        InvalidField("MISSING_REJECTION_REASON", "rejection_reason",
                     "a rejection needs a reason"),
        context));
    return reactor;
  }
  if (request->note().size() > kMaxFreeTextBytes) {
    reactor->Finish(ToGrpcStatus(
        InvalidField("TEXT_TOO_LONG", "note", "note too long"), context));
    return reactor;
  }
  auto outcome = std::make_shared<SubmitOutcome>();
  const ExchangeContext* ctx = context_;
  const Router* router = router_;
  Caller who = *caller;
  sild::v1::UpdateReferralStatusRequest req = *request;
  std::string request_hash = RequestHash(req);
  context_->store->writer().Submit(
      [ctx, router, who, req, request_hash,
       outcome](WriteTxn& txn) -> absl::Status {
        const std::string& id = req.referral_id();
        const std::string& me = who.agency->ref.registry_code();
        if (!req.idempotency_key().empty()) {
          SILD_ASSIGN_OR_RETURN(
              bool duplicate,
              FindOriginalReceipt(txn.sql(), me, req.idempotency_key(),
                                  request_hash, "idempotency_key",
                                  &outcome->receipt));
          if (duplicate) return absl::OkStatus();
        }
        SILD_ASSIGN_OR_RETURN(auto row, LoadReferral(txn.sql(), id));
        if (!row) return NotFound(id);
        SILD_ASSIGN_OR_RETURN(auto roles, PartyRoles(txn.sql(), id, me));
        bool is_requester = Has(roles, kRoleSender);
        bool is_recipient = Has(roles, kRoleRecipient);
        if (!is_requester && !is_recipient) return NotFound(id);
        SILD_RETURN_IF_ERROR(CheckReferralTransition(
            row->status, req.status(), is_requester, is_recipient));
        const PayloadCipher& cipher = ctx->store->cipher();
        SILD_ASSIGN_OR_RETURN(auto message, LoadMessage(txn.sql(), cipher, id));
        if (!message) return NotFound(id);
        Referral& referral = *message->envelope.mutable_referral();

        sild::v1::ReferralStatusChange change;
        change.set_status(req.status());
        change.set_rejection_reason(req.rejection_reason());
        change.set_note(req.note());
        *change.mutable_time() = ToProtoTime(txn.now());
        *change.mutable_changed_by() = who.agency->ref;
        if (req.has_professional()) {
          *change.mutable_professional() = req.professional();
        }

        // The other parties get the change as a message.
        DispatchRequest dispatch;
        std::string update_id = NewUuid();
        sild::v1::Envelope& envelope = dispatch.envelope;
        envelope.set_message_id(update_id);
        envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
        auto* update = envelope.mutable_status_update();
        auto* header = update->mutable_header();
        header->set_message_id(update_id);
        header->set_case_id(referral.header().case_id());
        *header->mutable_sender() = who.agency->ref;
        header->set_purpose(referral.header().purpose());
        *header->mutable_created_time() = ToProtoTime(txn.now());
        header->set_schema_version("1.0");
        header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
        header->set_in_reply_to(id);
        header->set_idempotency_key(req.idempotency_key());
        update->set_referral_id(id);
        *update->mutable_change() = change;
        if (is_recipient && !is_requester) {
          if (const Agency* requester =
                  ctx->directory->FindByRegistryCode(row->requester)) {
            dispatch.recipients.push_back(requester);
          }
        } else {
          SILD_ASSIGN_OR_RETURN(
              auto parties,
              txn.sql().Query("SELECT registry_code FROM message_parties "
                              "WHERE message_id = ? AND role = ?",
                              {id, std::string(kRoleRecipient)}));
          for (const auto& party : parties) {
            if (const Agency* a =
                    ctx->directory->FindByRegistryCode(party.Text(0))) {
              dispatch.recipients.push_back(a);
            }
          }
        }
        for (const Agency* r : dispatch.recipients) {
          *header->add_recipients() = r->ref;
        }
        dispatch.subject_personal_code = referral.subject().id().value();
        dispatch.sender = who.agency;
        dispatch.professional_id = who.professional_id;
        dispatch.deliver_operational_on_deny = true;
        for (const Agency* manager : router->CaseManagers(row->municipality)) {
          dispatch.case_managers.push_back(manager->ref.registry_code());
        }
        SILD_ASSIGN_OR_RETURN(DispatchResult result,
                              Dispatch(txn, *ctx, dispatch));

        // The audit trail records the status change itself too.
        sild::v1::AuditRecord draft;
        draft.mutable_actor()->set_registry_code(me);
        draft.mutable_actor()->set_professional_id(who.professional_id);
        draft.set_action(sild::v1::AUDIT_ACTION_STATUS_CHANGE);
        draft.set_message_id(id);
        draft.set_message_kind(sild::v1::MESSAGE_KIND_REFERRAL);
        draft.set_subject_pseudonym(
            ctx->audit_log->Pseudonym(referral.subject().id().value()));
        draft.set_purpose(referral.header().purpose());
        draft.set_outcome(sild::v1::AUDIT_OUTCOME_SUCCESS);
        draft.set_reason_code(sild::v1::ReferralStatus_Name(req.status()));
        draft.set_detail(absl::StrCat(
            "referral moved from ", sild::v1::ReferralStatus_Name(row->status),
            " to ", sild::v1::ReferralStatus_Name(req.status())));
        SILD_ASSIGN_OR_RETURN(auto sealed,
                              ctx->audit_log->Append(txn, std::move(draft)));

        referral.set_status(req.status());
        *referral.add_history() = change;
        SILD_RETURN_IF_ERROR(
            UpdateMessageEnvelope(txn, cipher, id, message->envelope));
        SILD_RETURN_IF_ERROR(
            UpdateReferralStatus(txn, id, req.status(), txn.now()));
        outcome->receipt = std::move(result.receipt);
        outcome->receipt.set_audit_sequence(sealed.sequence());
        outcome->receipt.set_audit_record_hash(sealed.record_hash());
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

}  // namespace sild::exchange
