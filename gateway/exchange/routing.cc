#include "gateway/exchange/routing.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/registry_code.h"

namespace sild::exchange {

absl::StatusOr<const ::sild::Agency*> Router::FindAgency(
    const std::string& registry_code, const std::string& field) const {
  absl::Status valid = ValidateRegistryCode(registry_code, field);
  if (!valid.ok()) return valid;
  const ::sild::Agency* agency = directory_->FindByRegistryCode(registry_code);
  if (agency == nullptr) {
    return InvalidField(
        "UNKNOWN_RECIPIENT", field,
        absl::StrCat(registry_code, " is not an agency of this federation"));
  }
  return agency;
}

absl::StatusOr<std::vector<const ::sild::Agency*>> Router::ReferralRecipients(
    const sild::v1::Referral& referral, const std::string& prefix) const {
  if (!referral.performer().registry_code().empty()) {
    auto agency = FindAgency(referral.performer().registry_code(),
                             absl::StrCat(prefix, ".performer.registry_code"));
    if (!agency.ok()) return agency.status();
    return std::vector<const ::sild::Agency*>{*agency};
  }
  if (referral.municipality().empty()) {
    return InvalidField("NO_ROUTE", absl::StrCat(prefix, ".performer"),
                        "name a performer agency, or a service and a "
                        "municipality to route by");
  }
  std::vector<const ::sild::Agency*> recipients;
  for (const auto& route : config_->routes()) {
    if (route.service() != referral.service() ||
        route.municipality() != referral.municipality()) {
      continue;
    }
    for (const auto& code : route.registry_codes()) {
      if (const auto* agency = directory_->FindByRegistryCode(code)) {
        recipients.push_back(agency);
      }
    }
  }
  if (recipients.empty()) {
    return InvalidField(
        "NO_ROUTE", absl::StrCat(prefix, ".municipality"),
        absl::StrCat("no agency provides ",
                     sild::v1::ServiceType_Name(referral.service()), " in ",
                     referral.municipality()));
  }
  return recipients;
}

std::vector<const ::sild::Agency*> Router::CaseManagers(
    const std::string& municipality) const {
  std::vector<const ::sild::Agency*> out;
  for (const auto& agency : directory_->agencies()) {
    if (agency->HasRole(config::v1::AGENCY_ROLE_CASE_MANAGER) &&
        (municipality.empty() ||
         agency->config.municipality() == municipality)) {
      out.push_back(agency.get());
    }
  }
  return out;
}

const ::sild::Agency* Router::UnemploymentInsuranceFund() const {
  for (const auto& agency : directory_->agencies()) {
    if (agency->config.kind() ==
        sild::v1::AGENCY_KIND_UNEMPLOYMENT_INSURANCE_FUND) {
      return agency.get();
    }
  }
  return nullptr;
}

}  // namespace sild::exchange
