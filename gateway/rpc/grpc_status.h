// The one place where absl::Status becomes grpc::Status.
//
// The gRPC status code follows the absl code; the message is the status
// message ("REASON: field: text"); the stable reason code and the offending
// field also travel as trailing metadata "sild-reason" and "sild-field" so a
// client in any language can act on them without parsing text.
#ifndef SILD_GATEWAY_RPC_GRPC_STATUS_H_
#define SILD_GATEWAY_RPC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace sild {

inline constexpr char kReasonMetadataKey[] = "sild-reason";
inline constexpr char kFieldMetadataKey[] = "sild-field";

// Maps `status`; if `context` is given, adds the trailing metadata.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase* context = nullptr);

// The reverse, for clients: a grpc::Status plus the trailing metadata of the
// call becomes an absl::Status with reason and field payloads.
absl::Status FromGrpcStatus(const grpc::Status& status,
                            const grpc::ClientContext* context = nullptr);

}  // namespace sild

#endif  // SILD_GATEWAY_RPC_GRPC_STATUS_H_
