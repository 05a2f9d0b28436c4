// The gRPC answer of a call that submits a message (ReferralService.Submit
// and UpdateStatus, TransitionService.Submit and Acknowledge), from plain
// values: the rpc edge knows no exchange types. The exchange's adapters pass
// OutcomeStatus(outcome) and the outcome's receipt
// (gateway/exchange/submit.h).
//
// Stateless, thread-safe; adds trailing metadata to `context`, which must be
// the call's and still open.
#ifndef SILD_GATEWAY_RPC_SUBMIT_OUTCOME_H_
#define SILD_GATEWAY_RPC_SUBMIT_OUTCOME_H_

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "sild/v1/exchange.pb.h"

namespace sild {

// Trailers of a refused submission: the audit record of the refusal and the
// id the refused message had.
inline constexpr char kAuditSequenceMetadataKey[] = "sild-audit-sequence";
inline constexpr char kMessageIdMetadataKey[] = "sild-message-id";

// `status` OK: answers OK with *response = *receipt (accepted or a
// duplicate). Otherwise fails with `status` (ToGrpcStatus: reason and field
// trailers); when `receipt` is given too, the submission was refused (every
// recipient denied, audited) and its audit sequence and message id travel
// as the trailers above. `receipt` may be null only when `status` is not OK.
grpc::Status FinishSubmit(const absl::Status& status,
                          const sild::v1::Receipt* receipt,
                          grpc::ServerContextBase* context,
                          sild::v1::Receipt* response);

}  // namespace sild

#endif  // SILD_GATEWAY_RPC_SUBMIT_OUTCOME_H_
