#include "gateway/consent/consent_validation.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"
#include "gateway/consent/consent_time.h"

namespace sild {
namespace {

using consent_time::ToTime;
using consent_time::ToTimestamp;
using sild::v1::Consent;

constexpr size_t kMaxExternalReference = 256;
constexpr size_t kMaxStatusNote = 2000;
// google.protobuf.Timestamp's range: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

absl::Status CheckTimestamp(const google::protobuf::Timestamp& t,
                            absl::string_view field) {
  if (t.seconds() < kMinSeconds || t.seconds() > kMaxSeconds || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return InvalidField("INVALID_TIMESTAMP", field,
                        "not a valid timestamp (years 1 to 9999)");
  }
  return absl::OkStatus();
}

// Removes repeated values, keeping the first of each.
template <typename Repeated>
void Dedupe(Repeated* values) {
  auto end = values->begin();
  for (auto it = values->begin(); it != values->end(); ++it) {
    if (std::find(values->begin(), end, *it) == end) *end++ = *it;
  }
  values->Truncate(static_cast<int>(end - values->begin()));
}

void DedupeStrings(google::protobuf::RepeatedPtrField<std::string>* values) {
  std::vector<std::string> kept;
  for (const std::string& v : *values) {
    if (std::find(kept.begin(), kept.end(), v) == kept.end()) kept.push_back(v);
  }
  values->Clear();
  for (std::string& v : kept) values->Add(std::move(v));
}

absl::Status CheckGrantor(const Consent& consent,
                          const config::v1::ConsentPolicy& policy,
                          const PersonalCode& subject, absl::Time now,
                          absl::TimeZone zone) {
  const v1::ConsentGrantor& grantor = consent.grantor();
  const int self_age = policy.self_consent_age();
  const int age = AgeOn(subject, absl::ToCivilDay(now, zone));
  switch (grantor.grantor_case()) {
    case v1::ConsentGrantor::GRANTOR_NOT_SET:
      return InvalidField("MISSING_GRANTOR", "consent.grantor",
                          "say who gave the consent: the subject or a "
                          "representative");
    case v1::ConsentGrantor::kSubjectSelf:
      if (!grantor.subject_self()) {
        return InvalidField("INVALID_GRANTOR", "consent.grantor.subject_self",
                            "subject_self must be true when set");
      }
      if (self_age <= 0 || age < self_age) {
        return InvalidField(
            "SUBJECT_TOO_YOUNG_TO_CONSENT", "consent.grantor.subject_self",
            self_age <= 0
                ? std::string("consent_policy.self_consent_age is not "
                              "configured, so nobody may consent alone")
                : absl::StrCat("the subject is ", age,
                               " and consents alone only from ", self_age,
                               "; a representative must consent"));
      }
      return absl::OkStatus();
    case v1::ConsentGrantor::kRepresentative: {
      const v1::Representative& rep = grantor.representative();
      const int relation = rep.relation();
      if (relation == v1::REPRESENTATIVE_RELATION_UNSPECIFIED ||
          !v1::RepresentativeRelation_IsValid(relation)) {
        return InvalidField("INVALID_RELATION",
                            "consent.grantor.representative.relation",
                            "name the representative's relation to the "
                            "subject");
      }
      const auto& allowed = policy.representative_relations();
      if (std::find(allowed.begin(), allowed.end(), relation) ==
          allowed.end()) {
        return InvalidField(
            "REPRESENTATIVE_NOT_ENTITLED",
            "consent.grantor.representative.relation",
            absl::StrCat("consent_policy.representative_relations does not "
                         "let a ",
                         v1::RepresentativeRelation_Name(relation),
                         " consent for a child"));
      }
      if (self_age > 0 && age >= self_age) {
        return InvalidField(
            "REPRESENTATIVE_NOT_ENTITLED",
            "consent.grantor.representative.relation",
            absl::StrCat("the subject is ", age, " (self-consent age ",
                         self_age, ") and must consent alone"));
      }
      const v1::PersonIdentifier& id = rep.person().id();
      if (!id.value().empty() &&
          (id.scheme() == v1::IDENTIFIER_SCHEME_UNSPECIFIED ||
           id.scheme() == v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE)) {
        SILD_RETURN_IF_ERROR(
            ParsePersonalCode(id.value(),
                              "consent.grantor.representative.person.id.value")
                .status());
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Consent> PrepareConsentGrant(
    const Consent& input, const config::v1::ConsentPolicy& policy,
    absl::Time now, absl::TimeZone zone) {
  Consent consent = input;
  consent.clear_consent_id();
  consent.clear_version();
  consent.clear_recorded_by();
  consent.clear_recorded_time();
  consent.clear_updated_time();

  // Subject: consents are kept and decided by Estonian personal code.
  v1::PersonIdentifier* subject = consent.mutable_subject();
  if (subject->scheme() == v1::IDENTIFIER_SCHEME_UNSPECIFIED) {
    subject->set_scheme(v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  }
  if (subject->scheme() != v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE) {
    return InvalidField("UNSUPPORTED_IDENTIFIER_SCHEME",
                        "consent.subject.scheme",
                        "consents are recorded for Estonian personal codes");
  }
  SILD_ASSIGN_OR_RETURN(
      PersonalCode code,
      ParsePersonalCode(subject->value(), "consent.subject.value"));
  subject->clear_issuer_registry_code();

  SILD_RETURN_IF_ERROR(CheckGrantor(consent, policy, code, now, zone));

  v1::ConsentRecipients* recipients = consent.mutable_recipients();
  if (recipients->registry_codes().empty() && recipients->kinds().empty()) {
    return InvalidField("NO_RECIPIENTS", "consent.recipients",
                        "name at least one recipient registry code or kind");
  }
  for (int i = 0; i < recipients->registry_codes_size(); ++i) {
    SILD_RETURN_IF_ERROR(ValidateRegistryCode(
        recipients->registry_codes(i),
        absl::StrCat("consent.recipients.registry_codes[", i, "]")));
  }
  for (int i = 0; i < recipients->kinds_size(); ++i) {
    const int kind = recipients->kinds(i);
    if (kind == v1::AGENCY_KIND_UNSPECIFIED || !v1::AgencyKind_IsValid(kind)) {
      return InvalidField("INVALID_AGENCY_KIND",
                          absl::StrCat("consent.recipients.kinds[", i, "]"),
                          absl::StrCat("unknown agency kind ", kind));
    }
  }
  DedupeStrings(recipients->mutable_registry_codes());
  Dedupe(recipients->mutable_kinds());

  if (consent.purposes().empty()) {
    return InvalidField("NO_PURPOSES", "consent.purposes",
                        "name at least one purpose");
  }
  for (int i = 0; i < consent.purposes_size(); ++i) {
    const int purpose = consent.purposes(i);
    if (purpose == v1::PURPOSE_UNSPECIFIED || !v1::Purpose_IsValid(purpose)) {
      return InvalidField(
          "INVALID_PURPOSE", absl::StrCat("consent.purposes[", i, "]"),
          absl::StrCat("unknown or unspecified purpose ", purpose));
    }
  }
  Dedupe(consent.mutable_purposes());

  if (consent.data_categories().empty()) {
    return InvalidField("NO_CATEGORIES", "consent.data_categories",
                        "name at least one data category");
  }
  for (int i = 0; i < consent.data_categories_size(); ++i) {
    const int category = consent.data_categories(i);
    if (category == v1::DATA_CATEGORY_UNSPECIFIED ||
        !v1::DataCategory_IsValid(category)) {
      return InvalidField(
          "INVALID_CATEGORY", absl::StrCat("consent.data_categories[", i, "]"),
          absl::StrCat("unknown or unspecified data category ", category));
    }
  }
  Dedupe(consent.mutable_data_categories());

  if (consent.has_valid_from()) {
    SILD_RETURN_IF_ERROR(
        CheckTimestamp(consent.valid_from(), "consent.valid_from"));
  } else {
    *consent.mutable_valid_from() = ToTimestamp(now);
  }
  if (consent.has_valid_until()) {
    SILD_RETURN_IF_ERROR(
        CheckTimestamp(consent.valid_until(), "consent.valid_until"));
    if (ToTime(consent.valid_until()) <= ToTime(consent.valid_from())) {
      return InvalidField("INVALID_PERIOD", "consent.valid_until",
                          "valid_until must be after valid_from");
    }
  }

  switch (consent.status()) {
    case v1::CONSENT_STATUS_UNSPECIFIED:
      consent.set_status(v1::CONSENT_STATUS_APPROVED);
      break;
    case v1::CONSENT_STATUS_REQUESTED:
    case v1::CONSENT_STATUS_APPROVED:
    case v1::CONSENT_STATUS_DECLINED:
      break;
    default:
      return InvalidField("INVALID_STATUS", "consent.status",
                          "a consent is recorded as REQUESTED, APPROVED or "
                          "DECLINED; expiry is computed and withdrawal is "
                          "its own call");
  }
  if (consent.external_reference().size() > kMaxExternalReference) {
    return InvalidField(
        "FIELD_TOO_LONG", "consent.external_reference",
        absl::StrCat("at most ", kMaxExternalReference, " bytes"));
  }
  if (consent.status_note().size() > kMaxStatusNote) {
    return InvalidField("FIELD_TOO_LONG", "consent.status_note",
                        absl::StrCat("at most ", kMaxStatusNote, " bytes"));
  }
  return consent;
}

v1::ConsentStatus EffectiveConsentStatus(const Consent& consent,
                                         absl::Time now) {
  const v1::ConsentStatus status = consent.status();
  if ((status == v1::CONSENT_STATUS_APPROVED ||
       status == v1::CONSENT_STATUS_REQUESTED) &&
      consent.has_valid_until() && now >= ToTime(consent.valid_until())) {
    return v1::CONSENT_STATUS_EXPIRED;
  }
  return status;
}

}  // namespace sild
