// Errors with a stable reason code and the offending field.
//
// Inside the gateway errors are absl::Status values. A status made here
// carries two payloads: the reason code (e.g. "INVALID_PERSONAL_CODE"), which
// clients act on and which never changes meaning, and the field path
// (e.g. "referral.subject.id.value"). The service edge maps them once to a
// grpc::Status whose message reads "REASON: field: text" and whose trailing
// metadata carries "sild-reason" and "sild-field".
#ifndef SILD_GATEWAY_BASE_ERRORS_H_
#define SILD_GATEWAY_BASE_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sild {

inline constexpr absl::string_view kReasonPayloadUrl = "sild.reason";
inline constexpr absl::string_view kFieldPayloadUrl = "sild.field";

// A status with `code`, a stable `reason`, the offending `field` (may be
// empty) and a human `message`.
absl::Status MakeError(absl::StatusCode code, absl::string_view reason,
                       absl::string_view field, absl::string_view message);

inline absl::Status InvalidField(absl::string_view reason,
                                 absl::string_view field,
                                 absl::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, reason, field, message);
}

// The reason code and field of a status made by MakeError, or "" if absent.
std::string ErrorReason(const absl::Status& status);
std::string ErrorField(const absl::Status& status);

// Returns `status` with `prefix` prepended to its field path
// ("subject.id" + "referral" -> "referral.subject.id"), keeping code,
// reason and message.
absl::Status PrefixErrorField(const absl::Status& status,
                              absl::string_view prefix);

}  // namespace sild

#endif  // SILD_GATEWAY_BASE_ERRORS_H_
