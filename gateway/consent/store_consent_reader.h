// ConsentReaders over the consent registry in the store, for the decision
// engine (gateway/policy/consent_reader.h).
//
// StoreConsentReader reads committed consents through Store::Read: the
// gateway's DecisionEngine (GatewayComponents::decisions) uses it, e.g. for
// ConsentService.Check. It is thread-safe.
//
// TxnConsentReader reads through a write transaction's connection. A caller
// that decides and commits in one write (the exchange: decide per recipient,
// then write audit and outbox rows) builds one per request on the writer
// thread, so no withdrawal can commit between the decision and the
// disclosure:
//
//   store->writer().Submit([&](WriteTxn& txn) -> absl::Status {
//     TxnConsentReader consents(txn, registry);
//     Decision d = components.decisions->Decide(request, consents);
//     if (d.allow && d.basis.has_consent()) {
//       SILD_RETURN_IF_ERROR(registry.RecordDisclosure(
//           txn, d.basis.consent().consent_id(), d.basis.consent().version(),
//           recipient_code, message_id));
//     }
//     ...
//   }, done);
//
// A TxnConsentReader must not outlive its transaction and is used by the
// writer thread only. Errors from either reader (store unavailable, a
// payload that does not open) make the engine deny REGISTRY_UNAVAILABLE.
#ifndef SILD_GATEWAY_CONSENT_STORE_CONSENT_READER_H_
#define SILD_GATEWAY_CONSENT_STORE_CONSENT_READER_H_

#include <vector>

#include "gateway/consent/consent_registry.h"
#include "gateway/policy/consent_reader.h"

namespace sild {

class StoreConsentReader final : public ConsentReader {
 public:
  // Both must outlive the reader.
  StoreConsentReader(Store* store, const ConsentRegistry* registry)
      : store_(store), registry_(registry) {}

  absl::StatusOr<std::vector<sild::v1::Consent>> ConsentsForSubject(
      absl::string_view personal_code) const override;

 private:
  Store* store_;
  const ConsentRegistry* registry_;
};

class TxnConsentReader final : public ConsentReader {
 public:
  TxnConsentReader(WriteTxn& txn, const ConsentRegistry& registry)
      : txn_(txn), registry_(registry) {}

  absl::StatusOr<std::vector<sild::v1::Consent>> ConsentsForSubject(
      absl::string_view personal_code) const override {
    return registry_.ConsentsForSubjectInTxn(txn_, personal_code);
  }

 private:
  WriteTxn& txn_;
  const ConsentRegistry& registry_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_CONSENT_STORE_CONSENT_READER_H_
