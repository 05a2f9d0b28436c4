// Authenticates the caller of a gRPC call: every handler starts with
//
//   auto caller = AuthenticateCall(context, directory);
//   if (!caller.ok()) { reactor->Finish(ToGrpcStatus(caller.status(),
//   context)); ... }
//
// and logs refusals (peer address, reason) as structured lines.
#ifndef SILD_GATEWAY_RPC_CALLER_H_
#define SILD_GATEWAY_RPC_CALLER_H_

#include "absl/status/statusor.h"
#include "gateway/identity/agency_directory.h"
#include "grpcpp/server_context.h"

namespace sild {

// Request metadata naming the professional acting for the agency; recorded in
// the audit trail, never used for authorisation.
inline constexpr char kProfessionalIdMetadataKey[] = "x-sild-professional-id";

struct Caller {
  const Agency* agency = nullptr;
  std::string identity;
  // From x-sild-professional-id, may be empty.
  std::string professional_id;
};

absl::StatusOr<Caller> AuthenticateCall(grpc::ServerContextBase* context,
                                        const AgencyDirectory& directory);

}  // namespace sild

#endif  // SILD_GATEWAY_RPC_CALLER_H_
