// Builders shared by the audit tests and the audit benchmark: Ed25519 keys
// made on the spot, realistic record drafts, and whole signed chains.
#ifndef SILD_TESTS_GATEWAY_AUDIT_AUDIT_TEST_UTIL_H_
#define SILD_TESTS_GATEWAY_AUDIT_AUDIT_TEST_UTIL_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/audit/bundle.h"
#include "gateway/audit/chain.h"
#include "gateway/audit/checkpoint.h"
#include "gateway/audit/pseudonym.h"
#include "gtest/gtest.h"
#include "sild/v1/audit.pb.h"

namespace sild::audit::testing {

// A path in the test temp folder, unique to this process so parallel runs
// from several build trees do not clash.
inline std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/sild-audit-", ::getpid(), "-",
                      name);
}

// A fresh Ed25519 private key as PKCS#8 PEM ("" if OpenSSL fails).
inline std::string NewEd25519PrivateKeyPem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  std::string pem;
  if (PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr,
                               nullptr) == 1) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(size));
  }
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

inline CheckpointSigner NewSigner() {
  return *CheckpointSigner::FromPem(NewEd25519PrivateKeyPem());
}

inline google::protobuf::Timestamp TimeAt(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp time;
  time.set_seconds(seconds);
  time.set_nanos(nanos);
  return time;
}

// A disclosure or refusal as the gateway records it; `n` varies the content.
inline sild::v1::AuditRecord Draft(int64_t n) {
  static const Pseudonymizer* const kPseudonyms =
      new Pseudonymizer(*Pseudonymizer::FromKey(std::string(32, '\x42')));
  sild::v1::AuditRecord draft;
  *draft.mutable_time() =
      TimeAt(1767225600 + n, static_cast<int32_t>(n % 1000) * 1000);
  draft.mutable_actor()->set_registry_code("75016705");
  draft.mutable_actor()->set_professional_id(absl::StrCat("teacher-", n % 17));
  const bool deny = n % 5 == 0;
  draft.set_action(sild::v1::AUDIT_ACTION_DISCLOSURE);
  draft.set_message_id(
      absl::StrCat("6f1c2a9e-0000-4000-8000-", 100000000000 + n));
  draft.set_message_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  draft.set_subject_pseudonym(
      kPseudonyms->Pseudonym(absl::StrCat(50000000000 + n * 7)));
  draft.set_purpose(sild::v1::PURPOSE_SUPPORT_SERVICE);
  if (n % 2 == 0) {
    draft.mutable_basis()->mutable_consent()->set_consent_id(
        absl::StrCat("consent-", n));
    draft.mutable_basis()->mutable_consent()->set_version(3);
  } else {
    draft.mutable_basis()->set_rule_id("child-protection-notification");
    draft.mutable_basis()->set_citation("Child Protection Act § 27");
  }
  draft.add_categories(sild::v1::DATA_CATEGORY_IDENTITY);
  draft.add_categories(sild::v1::DATA_CATEGORY_EDUCATION);
  draft.set_outcome(deny ? sild::v1::AUDIT_OUTCOME_DENY
                         : sild::v1::AUDIT_OUTCOME_ALLOW);
  draft.set_reason_code(deny ? "NO_CONSENT" : "OK");
  draft.set_counterparty("77000369");
  draft.set_detail(deny ? "No consent covers special needs data for this "
                          "recipient."
                        : "Disclosed under consent.");
  return draft;
}

struct SignedChain {
  std::vector<sild::v1::AuditRecord> records;
  std::vector<sild::v1::AuditCheckpoint> checkpoints;
};

// `count` records of chain `chain_id`, a checkpoint after every
// `checkpoint_every` records and a final one at the last record, as an
// export cuts.
inline SignedChain BuildChain(const std::string& chain_id, int64_t count,
                              int64_t checkpoint_every,
                              const CheckpointSigner& signer) {
  SignedChain out;
  AuditChain chain = *AuditChain::Create(chain_id);
  out.records.reserve(static_cast<size_t>(count));
  for (int64_t i = 1; i <= count; ++i) {
    out.records.push_back(*chain.Append(Draft(i)));
    if (i % checkpoint_every == 0 || i == count) {
      const sild::v1::AuditCheckpoint* previous =
          out.checkpoints.empty() ? nullptr : &out.checkpoints.back();
      out.checkpoints.push_back(
          *signer.SignHead(chain, TimeAt(1767225600 + i, 500), previous));
    }
  }
  return out;
}

inline sild::v1::AuditBundle BundleOf(const SignedChain& chain,
                                      const CheckpointSigner& signer) {
  return *AssembleBundle(chain.records, chain.checkpoints,
                         signer.public_key_pem(), TimeAt(1767312000));
}

}  // namespace sild::audit::testing

#endif  // SILD_TESTS_GATEWAY_AUDIT_AUDIT_TEST_UTIL_H_
