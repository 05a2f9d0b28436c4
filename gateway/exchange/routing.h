// Routing: who receives a message. A referral names a specific agency
// (performer) or a service type + municipality that the service directory
// (config routes) maps to the agencies providing it. Case managers of a
// municipality (agencies with the case-manager role there) are parties to
// its referrals: they may list them and receive escalations.
#ifndef SILD_GATEWAY_EXCHANGE_ROUTING_H_
#define SILD_GATEWAY_EXCHANGE_ROUTING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/identity/agency_directory.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/referral.pb.h"

namespace sild::exchange {

class Router {
 public:
  Router(const config::v1::GatewayConfig* config,
         const AgencyDirectory* directory)
      : config_(config), directory_(directory) {}

  // Recipients of a referral. Errors: INVALID_ARGUMENT UNKNOWN_RECIPIENT
  // (performer not configured) or NO_ROUTE (no agency provides the service
  // in the municipality), naming the field under `field_prefix`.
  absl::StatusOr<std::vector<const ::sild::Agency*>> ReferralRecipients(
      const sild::v1::Referral& referral,
      const std::string& field_prefix) const;

  // A configured agency by registry code, or INVALID_ARGUMENT
  // UNKNOWN_RECIPIENT naming `field`.
  absl::StatusOr<const ::sild::Agency*> FindAgency(const std::string& registry_code,
                                       const std::string& field) const;

  // Case-manager agencies serving `municipality`.
  std::vector<const ::sild::Agency*> CaseManagers(
      const std::string& municipality) const;

  // The Unemployment Insurance Fund agency (first configured), or nullptr.
  const ::sild::Agency* UnemploymentInsuranceFund() const;

 private:
  const config::v1::GatewayConfig* config_;
  const AgencyDirectory* directory_;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_ROUTING_H_
