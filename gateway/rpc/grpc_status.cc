#include "gateway/rpc/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "gateway/base/errors.h"
#include "grpcpp/client_context.h"

namespace sild {

grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase* context) {
  if (status.ok()) return grpc::Status::OK;
  if (context != nullptr) {
    std::string reason = ErrorReason(status);
    std::string field = ErrorField(status);
    if (!reason.empty())
      context->AddTrailingMetadata(kReasonMetadataKey, reason);
    if (!field.empty()) context->AddTrailingMetadata(kFieldMetadataKey, field);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            const grpc::ClientContext* context) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
  if (context != nullptr) {
    const auto& trailers = context->GetServerTrailingMetadata();
    auto reason = trailers.find(kReasonMetadataKey);
    if (reason != trailers.end()) {
      result.SetPayload(kReasonPayloadUrl,
                        absl::Cord(absl::string_view(reason->second.data(),
                                                     reason->second.size())));
    }
    auto field = trailers.find(kFieldMetadataKey);
    if (field != trailers.end()) {
      result.SetPayload(kFieldPayloadUrl,
                        absl::Cord(absl::string_view(field->second.data(),
                                                     field->second.size())));
    }
  }
  return result;
}

}  // namespace sild
