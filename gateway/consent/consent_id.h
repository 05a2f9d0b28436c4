// Consent ids: random UUIDs (version 4, RFC 4122) drawn from OpenSSL's CSPRNG,
// so an id reveals nothing (no time, no counter) and cannot be guessed.
//
//   SILD_ASSIGN_OR_RETURN(std::string id, NewConsentId());
//   // "3f6c2a0e-9b1d-4c57-8e2f-0a4b6d8c1e35"
//
// Thread-safe. Fails INTERNAL only if OpenSSL cannot produce random bytes.
#ifndef SILD_GATEWAY_CONSENT_CONSENT_ID_H_
#define SILD_GATEWAY_CONSENT_CONSENT_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sild {

absl::StatusOr<std::string> NewConsentId();

// True for a lower-case canonical UUID ("8-4-4-4-12" hex digits): what a
// client must send back as a consent id.
bool LooksLikeConsentId(absl::string_view id);

}  // namespace sild

#endif  // SILD_GATEWAY_CONSENT_CONSENT_ID_H_
