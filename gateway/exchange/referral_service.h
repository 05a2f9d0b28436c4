// sild.v1.ReferralService: Submit, Get, List, UpdateStatus over gRPC.
//
// A thin adapter: authenticates the caller (gateway/rpc/caller.h), runs the
// domain operation (referrals.h: SubmitReferral, ChangeReferralStatus) and
// answers its outcome (gateway/rpc/submit_outcome.h); Get and List read the
// store here. Errors are the operations' (reason code and field as the
// "sild-reason" and "sild-field" trailers, gateway/rpc/grpc_status.h).
//
// Only the parties to a referral see it: the requester (what it sent), the
// recipients (their minimised copy) and the case managers of its
// municipality (operational fields only). Anyone else gets NOT_FOUND, never
// a hint that the referral exists. Status changes follow the lifecycle
// (recipient: received, accepted, rejected with a reason, in progress,
// completed; requester: withdrawn) and travel to the other parties as
// messages.
//
// Thread-safe. Borrows the context and router, which outlive the server's
// calls (owned by the exchange module).
#ifndef SILD_GATEWAY_EXCHANGE_REFERRAL_SERVICE_H_
#define SILD_GATEWAY_EXCHANGE_REFERRAL_SERVICE_H_

#include "gateway/exchange/exchange_context.h"
#include "gateway/exchange/routing.h"
#include "sild/v1/referral_service.grpc.pb.h"

namespace sild::exchange {

class ReferralServiceImpl final
    : public sild::v1::ReferralService::CallbackService {
 public:
  ReferralServiceImpl(const ExchangeContext* context, const Router* router)
      : context_(context), router_(router) {}

  grpc::ServerUnaryReactor* Submit(
      grpc::CallbackServerContext* context,
      const sild::v1::SubmitReferralRequest* request,
      sild::v1::Receipt* response) override;
  grpc::ServerUnaryReactor* Get(
      grpc::CallbackServerContext* context,
      const sild::v1::GetReferralRequest* request,
      sild::v1::GetReferralResponse* response) override;
  grpc::ServerUnaryReactor* List(
      grpc::CallbackServerContext* context,
      const sild::v1::ListReferralsRequest* request,
      sild::v1::ListReferralsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateStatus(
      grpc::CallbackServerContext* context,
      const sild::v1::UpdateReferralStatusRequest* request,
      sild::v1::Receipt* response) override;

 private:
  const ExchangeContext* context_;
  const Router* router_;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_REFERRAL_SERVICE_H_
