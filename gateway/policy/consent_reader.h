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
//  - VisitConsentsForSubject is optional: the default calls
//    ConsentsForSubject. A reader that holds consents in memory overrides it
//    to lend them without copying; the decision engine calls only it.
#ifndef SILD_GATEWAY_POLICY_CONSENT_READER_H_
#define SILD_GATEWAY_POLICY_CONSENT_READER_H_

#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sild/v1/consent.pb.h"

namespace sild {

class ConsentReader {
 public:
  virtual ~ConsentReader() = default;

  virtual absl::StatusOr<std::vector<sild::v1::Consent>> ConsentsForSubject(
      absl::string_view personal_code) const = 0;

  // Calls `visit` once for each consent ConsentsForSubject would return; the
  // reference is valid only during the call, and `visit` must not call back
  // into the reader. Errors as ConsentsForSubject; on error `visit` may have
  // seen some consents already, and the caller must ignore them.
  virtual absl::Status VisitConsentsForSubject(
      absl::string_view personal_code,
      absl::FunctionRef<void(const sild::v1::Consent&)> visit) const {
    absl::StatusOr<std::vector<sild::v1::Consent>> consents =
        ConsentsForSubject(personal_code);
    if (!consents.ok()) return consents.status();
    for (const sild::v1::Consent& consent : *consents) visit(consent);
    return absl::OkStatus();
  }
};

}  // namespace sild

#endif  // SILD_GATEWAY_POLICY_CONSENT_READER_H_
