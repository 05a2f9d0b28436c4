#include "gateway/exchange/transition_service.h"

#include <algorithm>

#include "gateway/base/status_macros.h"
#include "gateway/exchange/submit.h"
#include "gateway/exchange/submit_reply.h"
#include "gateway/exchange/transitions.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"

namespace sild::exchange {

using delivery::LoadOutboxFor;
namespace {

using sild::v1::Transition;

bool Has(const std::vector<std::string>& roles, const char* role) {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

}  // namespace

grpc::ServerUnaryReactor* TransitionServiceImpl::Submit(
    grpc::CallbackServerContext* context,
    const sild::v1::SubmitTransitionRequest* request,
    sild::v1::Receipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  SubmitTransition(
      *context_, *router_, {caller->agency, caller->professional_id},
      request->transition(), ReplyWithReceipt(reactor, context, response));
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
  AcknowledgeTransition(*context_, {caller->agency, caller->professional_id},
                        *request, ReplyWithReceipt(reactor, context, response));
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
        if (!row) return TransitionNotFound(id);
        SILD_ASSIGN_OR_RETURN(auto roles, PartyRoles(sql, id, me));
        if (roles.empty()) return TransitionNotFound(id);
        SILD_ASSIGN_OR_RETURN(auto message, LoadMessage(sql, cipher, id));
        if (!message) return TransitionNotFound(id);
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
