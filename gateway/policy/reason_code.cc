#include "gateway/policy/reason_code.h"

namespace sild {

absl::string_view ReasonCodeName(ReasonCode code) {
  switch (code) {
    case ReasonCode::kOk:
      return "OK";
    case ReasonCode::kOkMinimised:
      return "OK_MINIMISED";
    case ReasonCode::kNoConsent:
      return "NO_CONSENT";
    case ReasonCode::kConsentExpired:
      return "CONSENT_EXPIRED";
    case ReasonCode::kConsentNotYetValid:
      return "CONSENT_NOT_YET_VALID";
    case ReasonCode::kConsentWithdrawn:
      return "CONSENT_WITHDRAWN";
    case ReasonCode::kConsentDeclined:
      return "CONSENT_DECLINED";
    case ReasonCode::kConsentPending:
      return "CONSENT_PENDING";
    case ReasonCode::kPurposeNotCovered:
      return "PURPOSE_NOT_COVERED";
    case ReasonCode::kRecipientNotCovered:
      return "RECIPIENT_NOT_COVERED";
    case ReasonCode::kCategoryNotCovered:
      return "CATEGORY_NOT_COVERED";
    case ReasonCode::kRepresentativeNotEntitled:
      return "REPRESENTATIVE_NOT_ENTITLED";
    case ReasonCode::kSubjectTooYoungToConsent:
      return "SUBJECT_TOO_YOUNG_TO_CONSENT";
    case ReasonCode::kInvalidSubject:
      return "INVALID_SUBJECT";
    case ReasonCode::kRegistryUnavailable:
      return "REGISTRY_UNAVAILABLE";
  }
  return "UNKNOWN";
}

}  // namespace sild
