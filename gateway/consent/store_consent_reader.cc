#include "gateway/consent/store_consent_reader.h"

namespace sild {

absl::StatusOr<std::vector<sild::v1::Consent>>
StoreConsentReader::ConsentsForSubject(absl::string_view personal_code) const {
  std::vector<sild::v1::Consent> consents;
  absl::Status status = store_->Read([&](SqlConnection& sql) -> absl::Status {
    absl::StatusOr<std::vector<sild::v1::Consent>> read =
        registry_->ConsentsForSubject(sql, personal_code);
    if (!read.ok()) return read.status();
    consents = std::move(*read);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return consents;
}

}  // namespace sild
