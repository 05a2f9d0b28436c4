// Estonian organisation registry code (registrikood) validation: 8 digits,
// the last a check digit over the first seven (weights 1..7, then 3..9, as
// for personal codes). Errors: INVALID_ARGUMENT, reason INVALID_REGISTRY_CODE.
#ifndef SILD_GATEWAY_BASE_REGISTRY_CODE_H_
#define SILD_GATEWAY_BASE_REGISTRY_CODE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sild {

absl::Status ValidateRegistryCode(absl::string_view code,
                                  absl::string_view field = "registry_code");

}  // namespace sild

#endif  // SILD_GATEWAY_BASE_REGISTRY_CODE_H_
