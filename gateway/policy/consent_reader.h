// ConsentReader: the decision engine's read-only view of the consent registry.
//
// The store implements it; InMemoryConsentReader (in_memory_consent_reader.h)
// serves tests, benchmarks and tools.
//
// Contract for implementations:
//  - ConsentsForSubject returns every consent recorded for the personal code,
//    in any status (REQUESTED, APPROVED, DECLINED, EXPIRED, WITHDRAWN), each
//    at its current version. The engine judges status and validity itself.
//  - An empty vector means "no consents"; an error means "could not tell", and
//    the engine then denies with REGISTRY_UNAVAILABLE (fail closed).
//  - Must be safe to call from several threads at once.
#ifndef SILD_GATEWAY_POLICY_CONSENT_READER_H_
#define SILD_GATEWAY_POLICY_CONSENT_READER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sild/v1/consent.pb.h"

namespace sild {

class ConsentReader {
 public:
  virtual ~ConsentReader() = default;

  virtual absl::StatusOr<std::vector<sild::v1::Consent>> ConsentsForSubject(
      absl::string_view personal_code) const = 0;
};

}  // namespace sild

#endif  // SILD_GATEWAY_POLICY_CONSENT_READER_H_
