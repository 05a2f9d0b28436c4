#include "gateway/policy/in_memory_consent_reader.h"

namespace sild {

void InMemoryConsentReader::Put(const sild::v1::Consent& consent) {
  absl::MutexLock lock(&mu_);
  std::vector<sild::v1::Consent>& consents =
      by_subject_[consent.subject().value()];
  for (sild::v1::Consent& existing : consents) {
    if (existing.consent_id() == consent.consent_id()) {
      existing = consent;
      return;
    }
  }
  consents.push_back(consent);
}

absl::StatusOr<std::vector<sild::v1::Consent>>
InMemoryConsentReader::ConsentsForSubject(
    absl::string_view personal_code) const {
  absl::MutexLock lock(&mu_);
  auto it = by_subject_.find(personal_code);
  if (it == by_subject_.end()) return std::vector<sild::v1::Consent>();
  return it->second;
}

absl::Status InMemoryConsentReader::VisitConsentsForSubject(
    absl::string_view personal_code,
    absl::FunctionRef<void(const sild::v1::Consent&)> visit) const {
  absl::MutexLock lock(&mu_);
  auto it = by_subject_.find(personal_code);
  if (it == by_subject_.end()) return absl::OkStatus();
  for (const sild::v1::Consent& consent : it->second) visit(consent);
  return absl::OkStatus();
}

}  // namespace sild
