// Authenticates the caller of a gRPC call: every handler starts with
//
//   auto caller = AuthenticateCall(context, directory);
//   if (!caller.ok()) { reactor->Finish(ToGrpcStatus(caller.status(),
//   context)); ... }
//
// and logs refusals (peer address, reason) as structured lines.
// IdentifyCaller errors are UNAUTHENTICATED with reason codes
// NO_CLIENT_CERTIFICATE, NO_AGENCY_IDENTITY or UNKNOWN_AGENCY.
#ifndef SILD_GATEWAY_RPC_CALLER_H_
#define SILD_GATEWAY_RPC_CALLER_H_

#include "absl/status/statusor.h"
#include "gateway/identity/agency_directory.h"
#include "grpcpp/security/auth_context.h"
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

// Identifies the peer of a call from its TLS auth context (the handshake has
// already verified the certificate chain, expiry and CRL): the first of the
// certificate's URI SANs that names a configured agency.
absl::StatusOr<CallerIdentity> IdentifyCaller(
    const grpc::AuthContext& auth_context, const AgencyDirectory& directory);

absl::StatusOr<Caller> AuthenticateCall(grpc::ServerContextBase* context,
                                        const AgencyDirectory& directory);

}  // namespace sild

#endif  // SILD_GATEWAY_RPC_CALLER_H_
