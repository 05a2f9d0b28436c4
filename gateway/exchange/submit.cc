#include "gateway/exchange/submit.h"

#include <openssl/evp.h>

#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace sild::exchange {
namespace {

// If (sender, key) was used before, fills `receipt` with the original
// receipt (marked duplicate) and returns true when the request is the same
// (same `request_hash`), or fails ALREADY_EXISTS IDEMPOTENCY_KEY_REUSED
// naming `field` when it differs. False: a new key.
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

}  // namespace

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

std::shared_ptr<PreparedSubmit> NewPreparedSubmit(
    const std::string& sender, const std::string& key, std::string key_field,
    const google::protobuf::Message& request) {
  auto submit = std::make_shared<PreparedSubmit>();
  submit->sender = sender;
  submit->idempotency_key = key;
  submit->idempotency_field = std::move(key_field);
  submit->request_hash = RequestHash(request);
  return submit;
}

void SubmitAsync(const ExchangeContext& context,
                 std::shared_ptr<PreparedSubmit> submit, SubmitDone done) {
  auto outcome = std::make_shared<SubmitOutcome>();
  const ExchangeContext* ctx = &context;
  // The writer only decides and writes; the rest is done here, in parallel
  // with other callers. A message completed inside the write is prepared by
  // Dispatch, on the writer.
  if (!submit->before_dispatch) {
    if (absl::Status prepared = PrepareDispatch(context, &submit->dispatch);
        !prepared.ok()) {
      done(prepared);
      return;
    }
  }
  context.store->writer().Submit(
      [ctx, submit, outcome](WriteTxn& txn) -> absl::Status {
        const bool keyed = !submit->idempotency_key.empty();
        if (keyed) {
          SILD_ASSIGN_OR_RETURN(
              bool duplicate,
              FindOriginalReceipt(txn.sql(), submit->sender,
                                  submit->idempotency_key, submit->request_hash,
                                  submit->idempotency_field,
                                  &outcome->receipt));
          if (duplicate) return absl::OkStatus();
        }
        if (submit->before_dispatch) {
          SILD_RETURN_IF_ERROR(submit->before_dispatch(txn, submit->dispatch));
        }
        SILD_ASSIGN_OR_RETURN(DispatchResult result,
                              Dispatch(txn, *ctx, submit->dispatch));
        if (result.allowed == 0 && submit->refuse_when_none_allowed) {
          // The refusals are audited and committed; the key stays free so
          // the sender may retry once a basis exists.
          outcome->receipt = std::move(result.receipt);
          outcome->refused = true;
          outcome->refusal_reason = std::move(result.denial_reason);
          outcome->refusal_detail = std::move(result.denial_detail);
          return absl::OkStatus();
        }
        if (submit->on_accepted) {
          SILD_RETURN_IF_ERROR(submit->on_accepted(txn, result));
        }
        outcome->receipt = std::move(result.receipt);
        if (!keyed) return absl::OkStatus();
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

absl::Status OutcomeStatus(const absl::StatusOr<SubmitOutcome>& outcome) {
  if (!outcome.ok()) return outcome.status();
  if (outcome->refused) {
    return MakeError(absl::StatusCode::kPermissionDenied,
                     outcome->refusal_reason, "", outcome->refusal_detail);
  }
  return absl::OkStatus();
}

}  // namespace sild::exchange
