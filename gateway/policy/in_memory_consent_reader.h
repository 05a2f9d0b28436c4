// InMemoryConsentReader: a ConsentReader over consents held in memory, keyed
// by the subject's personal code (Consent.subject.value).
//
//   InMemoryConsentReader reader;
//   reader.Put(consent);  // replaces a consent with the same consent_id
//   DecisionEngine engine(config, &reader);
//
// For tests, benchmarks and offline tools; production reads the store.
// Thread-safe: Put and ConsentsForSubject may run concurrently.
#ifndef SILD_GATEWAY_POLICY_IN_MEMORY_CONSENT_READER_H_
#define SILD_GATEWAY_POLICY_IN_MEMORY_CONSENT_READER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "gateway/policy/consent_reader.h"

namespace sild {

class InMemoryConsentReader final : public ConsentReader {
 public:
  // Adds `consent`, or replaces the one with the same consent_id.
  void Put(const sild::v1::Consent& consent);

  absl::StatusOr<std::vector<sild::v1::Consent>> ConsentsForSubject(
      absl::string_view personal_code) const override;

  // Lends the stored consents under the reader's lock: no copies.
  absl::Status VisitConsentsForSubject(
      absl::string_view personal_code,
      absl::FunctionRef<void(const sild::v1::Consent&)> visit) const override;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<sild::v1::Consent>> by_subject_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sild

#endif  // SILD_GATEWAY_POLICY_IN_MEMORY_CONSENT_READER_H_
