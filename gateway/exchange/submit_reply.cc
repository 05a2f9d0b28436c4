#include "gateway/exchange/submit_reply.h"

#include "gateway/rpc/submit_outcome.h"

namespace sild::exchange {

SubmitDone ReplyWithReceipt(grpc::ServerUnaryReactor* reactor,
                            grpc::CallbackServerContext* context,
                            sild::v1::Receipt* response) {
  return [reactor, context, response](absl::StatusOr<SubmitOutcome> out) {
    reactor->Finish(FinishSubmit(OutcomeStatus(out),
                                 out.ok() ? &out->receipt : nullptr, context,
                                 response));
  };
}

}  // namespace sild::exchange
