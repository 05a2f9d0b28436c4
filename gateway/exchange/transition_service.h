// sild.v1.TransitionService: hand-overs between institutions and education
// levels, and to the Unemployment Insurance Fund when a young person left
// education with no next place. The receiving institution acknowledges
// (enrolled, did not arrive, refused); an unacknowledged hand-over raises a
// "lost in transition" escalation after the configured number of days.
//
// A thin adapter over gRPC: authenticates the caller (gateway/rpc/caller.h),
// runs the domain operation (transitions.h: SubmitTransition,
// AcknowledgeTransition) and answers its outcome
// (gateway/rpc/submit_outcome.h); Get reads the store here. Errors are the
// operations' (reason code and field as trailers, gateway/rpc/grpc_status.h).
//
// Thread-safe. Borrows the context and router, which outlive the server's
// calls (owned by the exchange module).
#ifndef SILD_GATEWAY_EXCHANGE_TRANSITION_SERVICE_H_
#define SILD_GATEWAY_EXCHANGE_TRANSITION_SERVICE_H_

#include "gateway/exchange/exchange_context.h"
#include "gateway/exchange/routing.h"
#include "sild/v1/transition_service.grpc.pb.h"

namespace sild::exchange {

class TransitionServiceImpl final
    : public sild::v1::TransitionService::CallbackService {
 public:
  TransitionServiceImpl(const ExchangeContext* context, const Router* router)
      : context_(context), router_(router) {}

  grpc::ServerUnaryReactor* Submit(
      grpc::CallbackServerContext* context,
      const sild::v1::SubmitTransitionRequest* request,
      sild::v1::Receipt* response) override;
  grpc::ServerUnaryReactor* Acknowledge(
      grpc::CallbackServerContext* context,
      const sild::v1::AcknowledgeTransitionRequest* request,
      sild::v1::Receipt* response) override;
  grpc::ServerUnaryReactor* Get(
      grpc::CallbackServerContext* context,
      const sild::v1::GetTransitionRequest* request,
      sild::v1::GetTransitionResponse* response) override;

 private:
  const ExchangeContext* context_;
  const Router* router_;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_TRANSITION_SERVICE_H_
