#include "gateway/rpc/submit_outcome.h"

#include "absl/strings/str_cat.h"
#include "gateway/rpc/grpc_status.h"

namespace sild {

grpc::Status FinishSubmit(const absl::Status& status,
                          const sild::v1::Receipt* receipt,
                          grpc::ServerContextBase* context,
                          sild::v1::Receipt* response) {
  if (status.ok()) {
    *response = *receipt;
    return grpc::Status::OK;
  }
  if (receipt != nullptr) {
    context->AddTrailingMetadata(kAuditSequenceMetadataKey,
                                 absl::StrCat(receipt->audit_sequence()));
    context->AddTrailingMetadata(kMessageIdMetadataKey, receipt->message_id());
  }
  return ToGrpcStatus(status, context);
}

}  // namespace sild
