#include "gateway/exchange/referral_service.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/referrals.h"
#include "gateway/exchange/submit.h"
#include "gateway/exchange/submit_reply.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"

namespace sild::exchange {

using delivery::LoadOutboxFor;
namespace {

using sild::v1::Referral;

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
  SubmitReferral(*context_, *router_, {caller->agency, caller->professional_id},
                 request->referral(),
                 ReplyWithReceipt(reactor, context, response));
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
  absl::Status status =
      context_->store->Read([&](SqlConnection& sql) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(auto referral_row, LoadReferral(sql, id));
        if (!referral_row) return ReferralNotFound(id);
        SILD_ASSIGN_OR_RETURN(auto roles, PartyRoles(sql, id, me));
        if (roles.empty()) return ReferralNotFound(id);
        SILD_ASSIGN_OR_RETURN(auto message, LoadMessage(sql, cipher, id));
        if (!message) return ReferralNotFound(id);
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
          context_->projector->ProjectCopy(permitted, change,
                                           out->add_history());
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
  filter.limit =
      request->page_size() <= 0 ? 50 : std::min(request->page_size(), 500);
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
  ChangeReferralStatus(*context_, *router_,
                       {caller->agency, caller->professional_id}, *request,
                       ReplyWithReceipt(reactor, context, response));
  return reactor;
}

}  // namespace sild::exchange
