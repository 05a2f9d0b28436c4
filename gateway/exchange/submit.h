// Submit: the accepted-means-durable path shared by every submitting RPC.
// Idempotency first (a retried key returns the first receipt; the same key
// with a different payload is refused), then Dispatch, then the caller's
// own state rows, all in one group-committed write. The callback runs after
// the commit.
#ifndef SILD_GATEWAY_EXCHANGE_SUBMIT_H_
#define SILD_GATEWAY_EXCHANGE_SUBMIT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/exchange/dispatch.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace sild::exchange {

struct PreparedSubmit {
  std::string sender;
  std::string idempotency_key;
  // Path of the idempotency key in the request, for errors.
  std::string idempotency_field = "header.idempotency_key";
  // SHA-256 of the request as the client sent it.
  std::string request_hash;
  DispatchRequest dispatch;
  // Extra writes once at least one recipient was allowed (the referral or
  // transition row); runs in the same transaction.
  std::function<absl::Status(WriteTxn&, const DispatchResult&)> on_accepted;
};

struct SubmitOutcome {
  sild::v1::Receipt receipt;
  // Nothing was allowed: every recipient's decision was DENY (audited).
  bool refused = false;
  std::string refusal_reason;
  std::string refusal_detail;
};

void SubmitAsync(const ExchangeContext& context,
                 std::shared_ptr<PreparedSubmit> submit,
                 std::function<void(absl::StatusOr<SubmitOutcome>)> done);

// Idempotency: if (sender, key) was used before, fills `receipt` with the
// original receipt (marked duplicate) and returns true when the request is
// the same (same `request_hash`), or fails ALREADY_EXISTS
// IDEMPOTENCY_KEY_REUSED naming `field` when it differs. False: a new key.
absl::StatusOr<bool> FindOriginalReceipt(SqlConnection& sql,
                                         const std::string& sender,
                                         const std::string& key,
                                         const std::string& request_hash,
                                         const std::string& field,
                                         sild::v1::Receipt* receipt);

// SHA-256 of a message's deterministic serialisation.
std::string RequestHash(const google::protobuf::Message& message);

// The gRPC answer for an outcome: OK with the receipt, or PERMISSION_DENIED
// with the decision's reason code (the refusal's audit sequence travels in
// the "sild-audit-sequence" trailer).
grpc::Status FinishOutcome(const absl::StatusOr<SubmitOutcome>& outcome,
                           grpc::ServerContextBase* context,
                           sild::v1::Receipt* response);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_SUBMIT_H_
