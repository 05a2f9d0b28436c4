#include "gateway/exchange/submit.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"
#include "gateway/rpc/grpc_status.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace sild::exchange {

std::string RequestHash(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), size);
}

absl::StatusOr<bool> FindOriginalReceipt(SqlConnection& sql,
                                         const std::string& sender,
                                         const std::string& key,
                                         const std::string& request_hash,
                                         const std::string& field,
                                         sild::v1::Receipt* receipt) {
  SILD_ASSIGN_OR_RETURN(auto existing, FindIdempotencyKey(sql, sender, key));
  if (!existing) return false;
  if (existing->request_hash != request_hash) {
    return MakeError(absl::StatusCode::kAlreadyExists, "IDEMPOTENCY_KEY_REUSED",
                     field,
                     "this idempotency key was used for a different request");
  }
  *receipt = existing->receipt;
  receipt->set_duplicate(true);
  return true;
}

void SubmitAsync(const ExchangeContext& context,
                 std::shared_ptr<PreparedSubmit> submit,
                 std::function<void(absl::StatusOr<SubmitOutcome>)> done) {
  auto outcome = std::make_shared<SubmitOutcome>();
  const ExchangeContext* ctx = &context;
  // The writer only decides and writes; the rest is done here, in parallel
  // with other callers.
  if (absl::Status prepared = PrepareDispatch(context, &submit->dispatch);
      !prepared.ok()) {
    done(prepared);
    return;
  }
  context.store->writer().Submit(
      [ctx, submit, outcome](WriteTxn& txn) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(
            bool duplicate,
            FindOriginalReceipt(txn.sql(), submit->sender,
                                submit->idempotency_key, submit->request_hash,
                                submit->idempotency_field, &outcome->receipt));
        if (duplicate) return absl::OkStatus();
        SILD_ASSIGN_OR_RETURN(DispatchResult result,
                              Dispatch(txn, *ctx, submit->dispatch));
        outcome->receipt = std::move(result.receipt);
        if (result.allowed == 0) {
          // The refusals are audited and committed; the key stays free so
          // the sender may retry once a basis exists.
          outcome->refused = true;
          outcome->refusal_reason = result.denial_reason;
          outcome->refusal_detail = result.denial_detail;
          return absl::OkStatus();
        }
        if (submit->on_accepted) {
          DispatchResult accepted;
          accepted.receipt = outcome->receipt;
          accepted.allowed = result.allowed;
          SILD_RETURN_IF_ERROR(submit->on_accepted(txn, accepted));
        }
        return InsertIdempotencyKey(txn, submit->sender,
                                    submit->idempotency_key,
                                    submit->request_hash, outcome->receipt);
      },
      [outcome, done = std::move(done)](absl::Status status) {
        if (!status.ok()) {
          done(status);
          return;
        }
        done(std::move(*outcome));
      });
}

grpc::Status FinishOutcome(const absl::StatusOr<SubmitOutcome>& outcome,
                           grpc::ServerContextBase* context,
                           sild::v1::Receipt* response) {
  if (!outcome.ok()) return ToGrpcStatus(outcome.status(), context);
  if (outcome->refused) {
    context->AddTrailingMetadata(
        "sild-audit-sequence", absl::StrCat(outcome->receipt.audit_sequence()));
    context->AddTrailingMetadata("sild-message-id",
                                 outcome->receipt.message_id());
    return ToGrpcStatus(
        MakeError(absl::StatusCode::kPermissionDenied, outcome->refusal_reason,
                  "", outcome->refusal_detail),
        context);
  }
  *response = outcome->receipt;
  return grpc::Status::OK;
}

}  // namespace sild::exchange
