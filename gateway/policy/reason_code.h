// Reason codes of decisions: stable strings that clients, the audit trail and
// operators act on. A code never changes meaning; new ones may be added.
// docs/policy.md has the table with when each is given.
//
// Thread-safe; no state.
#ifndef SILD_GATEWAY_POLICY_REASON_CODE_H_
#define SILD_GATEWAY_POLICY_REASON_CODE_H_

#include "absl/strings/string_view.h"

namespace sild {

enum class ReasonCode {
  kOk,                         // ALLOW: every requested category covered
  kOkMinimised,                // ALLOW: some categories removed
  kNoConsent,                  // DENY: the subject has no consent at all
  kConsentExpired,             // DENY: valid_until passed, or status EXPIRED
  kConsentNotYetValid,         // DENY: before valid_from
  kConsentWithdrawn,           // DENY: status WITHDRAWN
  kConsentDeclined,            // DENY: status DECLINED
  kConsentPending,             // DENY: status REQUESTED (not yet answered)
  kPurposeNotCovered,          // DENY: no consent names the purpose
  kRecipientNotCovered,        // DENY: no consent names the recipient
  kCategoryNotCovered,         // DENY: no requested category is covered
  kRepresentativeNotEntitled,  // DENY: the grantor may not consent for them
  kSubjectTooYoungToConsent,   // DENY: own consent below self_consent_age
  kInvalidSubject,             // DENY: the personal code is not valid
  kRegistryUnavailable,        // DENY: the consent registry could not answer
};

// "OK", "OK_MINIMISED", "NO_CONSENT", ...
absl::string_view ReasonCodeName(ReasonCode code);

// True for the two ALLOW codes.
inline bool IsAllowReason(ReasonCode code) {
  return code == ReasonCode::kOk || code == ReasonCode::kOkMinimised;
}

}  // namespace sild

#endif  // SILD_GATEWAY_POLICY_REASON_CODE_H_
