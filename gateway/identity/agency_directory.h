// The configured agencies and how a caller is recognised as one of them.
//
// An agency is who its certificate says: the URI SANs of the verified client
// certificate (e.g. spiffe://sild.example/agency/75001017) are matched
// against the identities in the config. Nothing a payload claims is trusted.
//
// AgencyDirectory is immutable after construction and thread-safe. Matching
// a gRPC peer is the rpc edge's job (IdentifyCaller, gateway/rpc/caller.h).
#ifndef SILD_GATEWAY_IDENTITY_AGENCY_DIRECTORY_H_
#define SILD_GATEWAY_IDENTITY_AGENCY_DIRECTORY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/common.pb.h"

namespace sild {

struct Agency {
  config::v1::AgencyConfig config;
  // The agency as it appears in message headers.
  sild::v1::AgencyRef ref;

  bool HasRole(config::v1::AgencyRole role) const;
};

// The result of identifying a caller: the agency and the certificate
// identity that matched.
struct CallerIdentity {
  const Agency* agency = nullptr;
  std::string identity;
};

class AgencyDirectory {
 public:
  explicit AgencyDirectory(const config::v1::GatewayConfig& config);

  const Agency* FindByIdentity(absl::string_view identity) const;
  const Agency* FindByRegistryCode(absl::string_view registry_code) const;
  const std::vector<std::unique_ptr<Agency>>& agencies() const {
    return agencies_;
  }

 private:
  std::vector<std::unique_ptr<Agency>> agencies_;
  std::map<std::string, const Agency*, std::less<>> by_identity_;
  std::map<std::string, const Agency*, std::less<>> by_code_;
};

// URI subject alternative names of a PEM certificate.
absl::StatusOr<std::vector<std::string>> CertificateUriSans(
    absl::string_view pem);

}  // namespace sild

#endif  // SILD_GATEWAY_IDENTITY_AGENCY_DIRECTORY_H_
