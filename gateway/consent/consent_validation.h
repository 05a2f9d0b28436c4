// Checks a consent a recorder sends to ConsentService.Grant before anything is
// written, and fills the defaults the recorder may leave out.
//
//   absl::StatusOr<v1::Consent> ready =
//       PrepareConsentGrant(request.consent(), config.consent_policy(), now);
//
// Errors are INVALID_ARGUMENT with a stable reason and the field path under
// "consent." (gateway/base/errors.h), the first problem found:
//   INVALID_PERSONAL_CODE          consent.subject.value
//   UNSUPPORTED_IDENTIFIER_SCHEME  consent.subject.scheme (only personal codes)
//   MISSING_GRANTOR / INVALID_GRANTOR  consent.grantor[.subject_self]
//   INVALID_RELATION               consent.grantor.representative.relation
//   REPRESENTATIVE_NOT_ENTITLED    consent.grantor.representative.relation
//       (relation not in consent_policy.representative_relations, or the
//       subject has reached self_consent_age and must consent alone)
//   SUBJECT_TOO_YOUNG_TO_CONSENT   consent.grantor.subject_self
//   NO_RECIPIENTS                  consent.recipients
//   INVALID_REGISTRY_CODE          consent.recipients.registry_codes[i]
//   INVALID_AGENCY_KIND            consent.recipients.kinds[i]
//   NO_PURPOSES / INVALID_PURPOSE  consent.purposes / consent.purposes[i]
//   NO_CATEGORIES / INVALID_CATEGORY  consent.data_categories[i]
//   INVALID_TIMESTAMP              consent.valid_from / consent.valid_until
//   INVALID_PERIOD                 consent.valid_until (not after valid_from)
//   INVALID_STATUS                 consent.status (only REQUESTED, APPROVED,
//                                  DECLINED may be recorded)
//   FIELD_TOO_LONG                 consent.external_reference, .status_note
// Ages are counted on `now`'s calendar date in `zone`. Thread-safe; no state.
#ifndef SILD_GATEWAY_CONSENT_CONSENT_VALIDATION_H_
#define SILD_GATEWAY_CONSENT_CONSENT_VALIDATION_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/consent.pb.h"

namespace sild {

// Returns `consent` validated, with status APPROVED if unset, subject scheme
// EE_PERSONAL_CODE if unset, valid_from = `now` if unset, duplicate list
// entries removed. Gateway-assigned fields (consent_id, version,
// recorded_by, recorded_time, updated_time) are cleared.
absl::StatusOr<sild::v1::Consent> PrepareConsentGrant(
    const sild::v1::Consent& consent,
    const sild::config::v1::ConsentPolicy& policy, absl::Time now,
    absl::TimeZone zone);

// The status to show for a stored consent at `now`: EXPIRED when it is
// REQUESTED or APPROVED and valid_until has passed; otherwise the stored
// status. Expiry is computed, never written (docs/consent.md).
sild::v1::ConsentStatus EffectiveConsentStatus(const sild::v1::Consent& consent,
                                               absl::Time now);

}  // namespace sild

#endif  // SILD_GATEWAY_CONSENT_CONSENT_VALIDATION_H_
