// Validation of submitted messages: bad input gets INVALID_ARGUMENT with a
// stable reason code and the offending field's path, before anything is
// written.
#ifndef SILD_GATEWAY_EXCHANGE_VALIDATION_H_
#define SILD_GATEWAY_EXCHANGE_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "sild/v1/referral.pb.h"
#include "sild/v1/transition.pb.h"

namespace sild::exchange {

// Longest free text accepted in one field.
inline constexpr size_t kMaxFreeTextBytes = 16 * 1024;

absl::Status ValidateHeaderForSubmit(const sild::v1::MessageHeader& header,
                                     const std::string& field);
// The subject must carry a valid Estonian personal code: decisions and the
// audit trail key on it.
absl::Status ValidateSubject(const sild::v1::Person& subject,
                             const std::string& field);
absl::Status ValidateReferral(const sild::v1::Referral& referral);
absl::Status ValidateTransition(const sild::v1::Transition& transition);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_VALIDATION_H_
