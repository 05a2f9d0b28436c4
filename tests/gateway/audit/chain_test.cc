#include "gateway/audit/chain.h"

#include <openssl/evp.h>

#include <string>

#include "gateway/audit/canonical.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/gateway/audit/audit_test_util.h"

namespace sild::audit {
namespace {

using sild::v1::AuditRecord;
using testing::Draft;

// The documented hashing, computed with one-shot EVP_Digest so the test
// does not share code with RecordHasher.
std::string Sha256Of(const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EXPECT_EQ(
      EVP_Digest(bytes.data(), bytes.size(), out, &size, EVP_sha256(), nullptr),
      1);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string ExpectedRecordHash(const AuditRecord& record) {
  const std::string leaf =
      Sha256Of(std::string(1, '\x00') + CanonicalRecord(record));
  return Sha256Of(std::string(1, '\x01') + record.previous_hash() + leaf);
}

TEST(AuditChainTest, AppendSealsRecordsIntoAChain) {
  absl::StatusOr<AuditChain> chain = AuditChain::Create("sild-1");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->next_sequence(), 1);
  EXPECT_EQ(chain->head_hash(), std::string(32, '\0'));

  absl::StatusOr<AuditRecord> first = chain->Append(Draft(1));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->sequence(), 1);
  EXPECT_EQ(first->chain_id(), "sild-1");
  EXPECT_EQ(first->previous_hash(), std::string(32, '\0'));
  EXPECT_EQ(first->record_hash(), ExpectedRecordHash(*first));
  EXPECT_EQ(first->detail(), Draft(1).detail()) << "content is kept";

  absl::StatusOr<AuditRecord> second = chain->Append(Draft(2));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->sequence(), 2);
  EXPECT_EQ(second->previous_hash(), first->record_hash());
  EXPECT_EQ(second->record_hash(), ExpectedRecordHash(*second));
  EXPECT_EQ(chain->head_hash(), second->record_hash());
  EXPECT_EQ(chain->next_sequence(), 3);
}

TEST(AuditChainTest, SameContentAtAnotherSequenceHashesDifferently) {
  AuditChain a = *AuditChain::Create("sild-1");
  AuditChain b = *AuditChain::Create("sild-2");
  EXPECT_NE(a.Append(Draft(1))->record_hash(),
            b.Append(Draft(1))->record_hash())
      << "the chain id is hashed";
  AuditRecord first = *a.Append(Draft(5));
  AuditRecord again = *a.Append(Draft(5));
  EXPECT_NE(first.record_hash(), again.record_hash());
}

TEST(AuditChainTest, RestoreContinuesExactlyWhereTheChainStopped) {
  AuditChain uninterrupted = *AuditChain::Create("sild-1");
  AuditChain writer = *AuditChain::Create("sild-1");
  AuditRecord last;
  for (int i = 1; i <= 10; ++i) {
    uninterrupted.Append(Draft(i)).IgnoreError();
    last = *writer.Append(Draft(i));
  }
  absl::StatusOr<AuditChain> restored = AuditChain::Restore(last);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->chain_id(), "sild-1");
  EXPECT_EQ(restored->next_sequence(), 11);
  EXPECT_EQ(restored->head_hash(), last.record_hash());
  for (int i = 11; i <= 15; ++i) {
    AuditRecord a = *uninterrupted.Append(Draft(i));
    AuditRecord b = *restored->Append(Draft(i));
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  }
}

TEST(AuditChainTest, RestoreRefusesADamagedHead) {
  AuditChain chain = *AuditChain::Create("sild-1");
  AuditRecord last = *chain.Append(Draft(1));
  last.set_detail("rewritten");
  absl::StatusOr<AuditChain> restored = AuditChain::Restore(last);
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ErrorReason(restored.status()), "RECORD_HASH_MISMATCH");

  EXPECT_FALSE(AuditChain::Restore(AuditRecord()).ok());
}

TEST(AuditChainTest, RejectsDraftsThatWouldBeSealedWrongly) {
  AuditChain chain = *AuditChain::Create("sild-1");
  struct Case {
    const char* reason;
    std::function<void(AuditRecord&)> edit;
  };
  const Case cases[] = {
      {"INVALID_SEQUENCE", [](AuditRecord& r) { r.set_sequence(9); }},
      {"FOREIGN_CHAIN", [](AuditRecord& r) { r.set_chain_id("sild-2"); }},
      {"CHAIN_LINK_BROKEN",
       [](AuditRecord& r) { r.set_previous_hash(std::string(32, 'x')); }},
      {"ALREADY_SEALED", [](AuditRecord& r) { r.set_record_hash("x"); }},
      {"MISSING_FIELD", [](AuditRecord& r) { r.clear_time(); }},
      // A raw personal code must never reach the log.
      {"INVALID_PSEUDONYM",
       [](AuditRecord& r) { r.set_subject_pseudonym("51205280105"); }},
      {"INVALID_PSEUDONYM",
       [](AuditRecord& r) { r.set_subject_pseudonym(std::string(64, 'A')); }},
  };
  for (const Case& c : cases) {
    AuditRecord draft = Draft(1);
    c.edit(draft);
    absl::StatusOr<AuditRecord> sealed = chain.Append(draft);
    EXPECT_EQ(sealed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorReason(sealed.status()), c.reason) << sealed.status();
  }
  // Nothing advanced; consistent presets are accepted.
  EXPECT_EQ(chain.next_sequence(), 1);
  AuditRecord draft = Draft(1);
  draft.set_sequence(1);
  draft.set_chain_id("sild-1");
  EXPECT_TRUE(chain.Append(draft).ok());
  EXPECT_FALSE(AuditChain::Create("").ok());
}

TEST(AuditChainTest, RejectsDraftsWithUnknownFields) {
  AuditChain chain = *AuditChain::Create("sild-1");
  AuditRecord draft;
  ASSERT_TRUE(draft.ParseFromString(Draft(1).SerializeAsString() +
                                    std::string("\x98\x06\x01", 3)));
  EXPECT_EQ(ErrorReason(chain.Append(draft).status()), "UNKNOWN_FIELDS");
}

}  // namespace
}  // namespace sild::audit
