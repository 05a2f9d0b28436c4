#include "gateway/rpc/caller.h"

#include "gateway/base/errors.h"
#include "gateway/base/log.h"

namespace sild {

absl::StatusOr<Caller> AuthenticateCall(grpc::ServerContextBase* context,
                                        const AgencyDirectory& directory) {
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  absl::StatusOr<CallerIdentity> identity =
      auth ? IdentifyCaller(*auth, directory)
           : MakeError(absl::StatusCode::kUnauthenticated,
                       "NO_CLIENT_CERTIFICATE", "", "no TLS peer");
  if (!identity.ok()) {
    LogWarning("call refused",
               {{"reason", ErrorReason(identity.status())},
                {"peer", context->peer()},
                {"detail", std::string(identity.status().message())}});
    return identity.status();
  }
  Caller caller{identity->agency, identity->identity, ""};
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(kProfessionalIdMetadataKey);
  if (it != metadata.end()) {
    caller.professional_id.assign(it->second.data(), it->second.size());
  }
  return caller;
}

}  // namespace sild
