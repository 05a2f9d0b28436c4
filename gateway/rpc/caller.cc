#include "gateway/rpc/caller.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"

namespace sild {

absl::StatusOr<CallerIdentity> IdentifyCaller(
    const grpc::AuthContext& auth_context, const AgencyDirectory& directory) {
  auto unauthenticated = [](absl::string_view reason, absl::string_view text) {
    return MakeError(absl::StatusCode::kUnauthenticated, reason, "", text);
  };
  std::vector<grpc::string_ref> pems =
      auth_context.FindPropertyValues("x509_pem_cert");
  if (!auth_context.IsPeerAuthenticated() || pems.empty()) {
    return unauthenticated("NO_CLIENT_CERTIFICATE",
                           "a client certificate from the federation CA is "
                           "required");
  }
  auto uris = CertificateUriSans(
      absl::string_view(pems.front().data(), pems.front().size()));
  if (!uris.ok()) {
    return unauthenticated("NO_AGENCY_IDENTITY", uris.status().message());
  }
  if (uris->empty()) {
    return unauthenticated(
        "NO_AGENCY_IDENTITY",
        "the client certificate has no URI subject alternative name naming "
        "an agency");
  }
  for (const std::string& uri : *uris) {
    if (const Agency* agency = directory.FindByIdentity(uri)) {
      return CallerIdentity{agency, uri};
    }
  }
  return unauthenticated("UNKNOWN_AGENCY",
                         absl::StrCat("no configured agency has the identity ",
                                      absl::StrJoin(*uris, ", ")));
}

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
