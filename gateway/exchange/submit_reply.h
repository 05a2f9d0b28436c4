// The gRPC adapters' answer to a call that submitted through a domain
// operation (referrals.h, transitions.h): a SubmitDone that finishes the
// call's reactor with FinishSubmit (gateway/rpc/submit_outcome.h). Part of
// the service adapters, not of the domain.
//
//   SubmitReferral(ctx, router, actor, referral,
//                  ReplyWithReceipt(reactor, context, response));
//
// `reactor`, `context` and `response` are the call's and stay valid until
// the callback runs (once, on any thread).
#ifndef SILD_GATEWAY_EXCHANGE_SUBMIT_REPLY_H_
#define SILD_GATEWAY_EXCHANGE_SUBMIT_REPLY_H_

#include "gateway/exchange/submit.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace sild::exchange {

SubmitDone ReplyWithReceipt(grpc::ServerUnaryReactor* reactor,
                            grpc::CallbackServerContext* context,
                            sild::v1::Receipt* response);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_SUBMIT_REPLY_H_
