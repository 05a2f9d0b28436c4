// sild.v1.ReferralService: Submit, Get, List, UpdateStatus.
//
// Only the parties to a referral see it: the requester (what it sent), the
// recipients (their minimised copy) and the case managers of its
// municipality (operational fields only). Anyone else gets NOT_FOUND, never
// a hint that the referral exists. Status changes follow the lifecycle
// (recipient: received, accepted, rejected with a reason, in progress,
// completed; requester: withdrawn) and travel to the other parties as
// messages. Thread-safe.
#ifndef SILD_GATEWAY_EXCHANGE_REFERRAL_SERVICE_H_
#define SILD_GATEWAY_EXCHANGE_REFERRAL_SERVICE_H_

#include <functional>
#include <string>

#include "gateway/exchange/dispatch.h"
#include "gateway/exchange/routing.h"
#include "gateway/exchange/submit.h"
#include "sild/v1/referral_service.grpc.pb.h"

namespace sild::exchange {

// Whether `role` ("requester" or "recipient") may move a referral from
// `from` to `to`; INVALID_TRANSITION / NOT_ALLOWED_FOR_ROLE otherwise.
absl::Status CheckReferralTransition(sild::v1::ReferralStatus from,
                                     sild::v1::ReferralStatus to,
                                     bool is_requester, bool is_recipient);

// The body of ReferralService.Submit after authentication, shared with the
// connector ingress (gateway/exchange/ingress.h): validates `referral`,
// routes it and submits it as sent by `sender` (the authenticated caller or
// the agency whose ingress it came from, never what the payload claims).
// `done` runs exactly once: after the commit, or at once when validation or
// routing fails.
void SubmitReferralFrom(const ExchangeContext& context, const Router& router,
                        const Agency& sender,
                        const sild::v1::Referral& referral,
                        const std::string& professional_id,
                        std::function<void(absl::StatusOr<SubmitOutcome>)> done);

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
