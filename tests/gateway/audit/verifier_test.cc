// Tamper detection on real bundle files: each test damages a signed chain
// the way a forger or a broken disk would, writes it to a .sildaudit file,
// reads it back and checks that verification names the first failure.
#include "gateway/audit/verifier.h"

#include <string>
#include <vector>

#include "gateway/audit/bundle.h"
#include "gateway/audit/file_io.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tests/gateway/audit/audit_test_util.h"

namespace sild::audit {
namespace {

using sild::v1::AuditBundle;
using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;
using testing::BuildChain;
using testing::BundleOf;
using testing::Draft;
using testing::SignedChain;

constexpr int kRecords = 200;
constexpr int kCheckpointEvery = 64;  // checkpoints at 64, 128, 192, 200

class TamperTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signer_ = new CheckpointSigner(testing::NewSigner());
    chain_ = new SignedChain(
        BuildChain("sild-1", kRecords, kCheckpointEvery, *signer_));
  }
  static void TearDownTestSuite() {
    delete chain_;
    delete signer_;
  }

  void SetUp() override { bundle_ = BundleOf(*chain_, *signer_); }

  std::string Path() const {
    return testing::TempPath(
        ::testing::UnitTest::GetInstance()->current_test_info()->name() +
        std::string(kBundleExtension));
  }

  // Writes `bundle` to a file, reads it back and verifies what was read.
  VerifyReport VerifyFile(const AuditBundle& bundle,
                          const VerifyOptions& options = {}) {
    const std::string path = Path();
    EXPECT_TRUE(WriteBundleFile(bundle, path).ok());
    absl::StatusOr<AuditBundle> read = ReadBundleFile(path);
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok()) return VerifyReport{};
    return Verify(*read, options);
  }

  // Re-seals records from `from` (1-based position) on with a forger's own
  // chain: every hash is recomputed, only checkpoints can expose it.
  void Rechain(int from) {
    auto* records = bundle_.mutable_records();
    AuditChain forged = *AuditChain::Restore(records->at(from - 2));
    for (int i = from - 1; i < records->size(); ++i) {
      AuditRecord draft = records->at(i);
      draft.clear_sequence();
      draft.clear_previous_hash();
      draft.clear_record_hash();
      *records->Mutable(i) = *forged.Append(std::move(draft));
    }
  }

  void DropCheckpointsAfter(int64_t sequence) {
    auto* checkpoints = bundle_.mutable_checkpoints();
    while (!checkpoints->empty() &&
           checkpoints->at(checkpoints->size() - 1).sequence() > sequence) {
      checkpoints->RemoveLast();
    }
  }

  static CheckpointSigner* signer_;
  static SignedChain* chain_;
  AuditBundle bundle_;
};

CheckpointSigner* TamperTest::signer_ = nullptr;
SignedChain* TamperTest::chain_ = nullptr;

#define EXPECT_FAILURE(report, expected_kind, expected_sequence)        \
  do {                                                                  \
    const VerifyReport& r_ = (report);                                  \
    EXPECT_EQ(FailureKindName(r_.kind), FailureKindName(expected_kind)) \
        << r_.Describe();                                               \
    EXPECT_EQ(r_.sequence, expected_sequence) << r_.Describe();         \
    EXPECT_FALSE(r_.message.empty());                                   \
  } while (0)

TEST_F(TamperTest, UntouchedBundleVerifies) {
  const VerifyReport report = VerifyFile(bundle_);
  EXPECT_TRUE(report.ok()) << report.Describe();
  EXPECT_EQ(report.records_verified, kRecords);
  EXPECT_EQ(report.checkpoints_verified, 4);
  EXPECT_EQ(report.key_id, signer_->key_id());
  EXPECT_EQ(report.Describe(), "intact");
}

TEST_F(TamperTest, OneByteOfARecordFieldChanged) {
  std::string* detail = bundle_.mutable_records(100)->mutable_detail();
  (*detail)[0] ^= 0x20;  // "Disclosed" -> "disclosed"
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kRecordHashMismatch, 101);
}

TEST_F(TamperTest, OneByteChangedInTheSerializedFile) {
  const std::string path = Path();
  ASSERT_TRUE(WriteBundleFile(bundle_, path).ok());
  std::string bytes = *ReadFileBytes(path);
  // Record 57's message id ends in ...057; make it ...058.
  const size_t at = bytes.find("100000000057");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 11] = '8';
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::StatusOr<AuditBundle> read = ReadBundleFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FAILURE(Verify(*read), FailureKind::kRecordHashMismatch, 57);
}

TEST_F(TamperTest, ContentRewrittenWithRecomputedHashBreaksTheNextLink) {
  AuditRecord* record = bundle_.mutable_records(99);
  record->set_outcome(sild::v1::AUDIT_OUTCOME_ALLOW);
  record->set_reason_code("OK");
  record->clear_record_hash();
  AuditChain resealer = *AuditChain::Restore(bundle_.records(98));
  record->clear_sequence();
  record->clear_previous_hash();
  *record = *resealer.Append(*record);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kChainLinkBroken, 101);
}

TEST_F(TamperTest, ChainRewrittenFromARecordOnIsCaughtByTheNextCheckpoint) {
  bundle_.mutable_records(99)->set_reason_code("OK");
  Rechain(100);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kCheckpointHeadMismatch,
                 128);
}

TEST_F(TamperTest, RecordDeleted) {
  bundle_.mutable_records()->DeleteSubrange(99, 1);  // sequence 100
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kSequenceGap, 100);
}

TEST_F(TamperTest, RecordDeletedAndChainRenumbered) {
  bundle_.mutable_records()->DeleteSubrange(99, 1);
  Rechain(100);  // renumbers 101.. to 100..
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kCheckpointHeadMismatch,
                 128);
}

TEST_F(TamperTest, TwoRecordsSwapped) {
  bundle_.mutable_records()->SwapElements(119, 120);  // 120 <-> 121
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kSequenceOrder, 120);
}

TEST_F(TamperTest, TwoRecordsSwappedWithTheirNumbers) {
  bundle_.mutable_records()->SwapElements(119, 120);
  bundle_.mutable_records(119)->set_sequence(120);
  bundle_.mutable_records(120)->set_sequence(121);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kChainLinkBroken, 120);
}

TEST_F(TamperTest, RecordDuplicated) {
  *bundle_.mutable_records()->Add() = bundle_.records(kRecords - 1);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kSequenceOrder,
                 kRecords + 1);
}

TEST_F(TamperTest, TailTruncatedAfterTheLastPeriodicCheckpoint) {
  // Records 196..200 cut off; last_sequence still claims 200.
  bundle_.mutable_records()->DeleteSubrange(195, 5);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kTruncated, 196);
}

TEST_F(TamperTest, TailTruncatedAndLastSequenceLowered) {
  bundle_.mutable_records()->DeleteSubrange(195, 5);
  bundle_.set_last_sequence(195);
  // The export checkpoint at 200 still signs records the bundle lacks.
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kTruncated, 196);
  // Dropping it too leaves records 193..195 without a signature.
  DropCheckpointsAfter(195);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kUnsignedTail, 193);
}

TEST_F(TamperTest, TailTruncatedBeforeTheLastCheckpoint) {
  bundle_.mutable_records()->DeleteSubrange(150, kRecords - 150);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kTruncated, 151);
  bundle_.set_last_sequence(150);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kTruncated, 151);
  DropCheckpointsAfter(150);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kUnsignedTail, 129);
}

// The documented limit: a cut exactly at an earlier checkpoint looks like
// an earlier export. Only a later checkpoint the auditor already holds (or
// a published one) exposes it.
TEST_F(TamperTest, CutExactlyAtAnEarlierCheckpointIsNotDetectableAlone) {
  bundle_.mutable_records()->DeleteSubrange(128, kRecords - 128);
  bundle_.set_last_sequence(128);
  DropCheckpointsAfter(128);
  EXPECT_TRUE(VerifyFile(bundle_).ok());
}

TEST_F(TamperTest, CheckpointSignedWithAnotherKey) {
  CheckpointSigner forger = testing::NewSigner();
  AuditCheckpoint* cp = bundle_.mutable_checkpoints(1);  // at 128
  *cp = *forger.Sign(*cp);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kCheckpointSignatureInvalid,
                 128);
}

TEST_F(TamperTest, WholeBundleResignedIsCaughtOnlyByPinningTheKey) {
  CheckpointSigner forger = testing::NewSigner();
  for (AuditCheckpoint& cp : *bundle_.mutable_checkpoints()) {
    cp = *forger.Sign(cp);
  }
  bundle_.set_public_key_pem(forger.public_key_pem());
  EXPECT_TRUE(VerifyFile(bundle_).ok()) << "self-consistent forgery";
  VerifyOptions pinned;
  pinned.pinned_key_id = signer_->key_id();
  EXPECT_FAILURE(VerifyFile(bundle_, pinned), FailureKind::kKeyMismatch, 0);
}

TEST_F(TamperTest, CheckpointKeyIdEdited) {
  bundle_.mutable_checkpoints(2)->set_key_id(std::string(32, 'k'));
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kKeyMismatch, 192);
}

TEST_F(TamperTest, CheckpointRemovedFromBetweenTwoOthers) {
  bundle_.mutable_checkpoints()->DeleteSubrange(1, 1);  // at 128
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kCheckpointLinkBroken, 192);
}

TEST_F(TamperTest, RecordMovedInFromAnotherChain) {
  const SignedChain other = BuildChain("sild-2", 90, 1000, *signer_);
  *bundle_.mutable_records(80) = other.records[80];  // its sequence 81
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kForeignChain, 81);
}

TEST_F(TamperTest, RecordWithFieldsThisVerifierDoesNotKnow) {
  AuditRecord extended;
  ASSERT_TRUE(extended.ParseFromString(bundle_.records(10).SerializeAsString() +
                                       std::string("\x98\x06\x01", 3)));
  *bundle_.mutable_records(10) = extended;
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kUnknownFields, 11);
}

TEST_F(TamperTest, RangeNotStartingAtOneVerifiesFromItsAnchor) {
  std::vector<AuditRecord> records(chain_->records.begin() + 64,
                                   chain_->records.end());
  AuditBundle range =
      *AssembleBundle(records, chain_->checkpoints, signer_->public_key_pem(),
                      testing::TimeAt(1767312000));
  EXPECT_EQ(range.first_sequence(), 65);
  const VerifyReport report = VerifyFile(range);
  EXPECT_TRUE(report.ok()) << report.Describe();
  EXPECT_EQ(report.records_verified, kRecords - 64);

  // Forging the anchor (and the first record's link to it) contradicts
  // the checkpoint at 64.
  range.set_anchor_previous_hash(std::string(32, 'f'));
  range.mutable_records(0)->set_previous_hash(std::string(32, 'f'));
  EXPECT_FAILURE(VerifyFile(range), FailureKind::kCheckpointHeadMismatch, 64);
}

TEST_F(TamperTest, ChainStartMustLinkToGenesis) {
  bundle_.set_anchor_previous_hash(std::string(32, 'a'));
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kChainLinkBroken, 1);
}

TEST_F(TamperTest, EmbeddedKeyEditedOrMissing) {
  std::string pem = bundle_.public_key_pem();
  pem.insert(pem.size() - 1, "\n");
  bundle_.set_public_key_pem(pem);
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kMalformedBundle, 0);
  bundle_.clear_public_key_pem();
  EXPECT_FAILURE(VerifyFile(bundle_), FailureKind::kMalformedBundle, 0);
}

TEST_F(TamperTest, ReportsProgress) {
  std::vector<int64_t> seen;
  VerifyOptions options;
  options.progress_every = 20;
  options.progress = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, kRecords);
    seen.push_back(done);
  };
  EXPECT_TRUE(Verify(bundle_, options).ok());
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen.front(), 20);
  EXPECT_EQ(seen.back(), kRecords);
}

TEST_F(TamperTest, StreamingVerifierFollowsTheStore) {
  absl::StatusOr<RecordStreamVerifier> stream =
      RecordStreamVerifier::Create("sild-1", 1, GenesisHash());
  ASSERT_TRUE(stream.ok()) << stream.status();
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(stream->Add(chain_->records[i]));
  EXPECT_EQ(stream->head_hash(), chain_->checkpoints[0].head_hash());
  EXPECT_EQ(stream->next_sequence(), 65);

  AuditRecord damaged = chain_->records[64];
  damaged.set_counterparty("70000000");
  EXPECT_FALSE(stream->Add(damaged));
  EXPECT_FAILURE(stream->report(), FailureKind::kRecordHashMismatch, 65);
  // Sticky: a later good record does not clear the failure.
  EXPECT_FALSE(stream->Add(chain_->records[64]));
  EXPECT_EQ(stream->report().records_verified, 64);

  EXPECT_FALSE(RecordStreamVerifier::Create("sild-1", 0, GenesisHash()).ok());
  EXPECT_FALSE(RecordStreamVerifier::Create("sild-1", 1, "short").ok());
}

// Every single-bit change anywhere in a bundle file is caught, except in
// exported_time, which nothing signs (docs/audit.md).
TEST(BundleFileTest, EveryFlippedBitOutsideExportTimeIsDetected) {
  const CheckpointSigner signer = testing::NewSigner();
  const AuditBundle bundle =
      BundleOf(BuildChain("sild-1", 12, 5, signer), signer);
  const std::string file = *SerializeBundle(bundle);
  AuditBundle without_time = bundle;
  without_time.clear_exported_time();
  const std::string shorter = *SerializeBundle(without_time);
  // The exported_time entry is the span where the two files differ (the
  // header's length field aside).
  size_t begin = kBundleHeaderSize;
  while (file[begin] == shorter[begin]) ++begin;
  const size_t end = begin + (file.size() - shorter.size());
  ASSERT_EQ(file.substr(end), shorter.substr(begin));
  ASSERT_TRUE(Verify(*ParseBundle(file)).ok());

  google::protobuf::LogSilencer quiet;  // invalid UTF-8 is logged
  int undetected = 0;
  for (size_t i = 0; i < file.size(); ++i) {
    if (i >= begin && i < end) continue;
    for (uint8_t mask : {0x01, 0x80}) {
      std::string damaged = file;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      absl::StatusOr<AuditBundle> parsed = ParseBundle(damaged);
      if (parsed.ok() && Verify(*parsed).ok()) {
        ++undetected;
        ADD_FAILURE() << "bit flip at byte " << i << " mask " << int{mask}
                      << " went undetected";
      }
    }
  }
  EXPECT_EQ(undetected, 0);
}

TEST(BundleFileTest, RejectsWhatIsNotABundle) {
  EXPECT_EQ(ParseBundle("hello").status().code(),
            absl::StatusCode::kInvalidArgument);
  const CheckpointSigner signer = testing::NewSigner();
  const std::string file =
      *SerializeBundle(BundleOf(BuildChain("sild-1", 3, 5, signer), signer));
  EXPECT_EQ(ParseBundle(file.substr(0, file.size() - 1)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseBundle(file + "x").status().code(),
            absl::StatusCode::kDataLoss);
  std::string future = file;
  future[11] = 2;  // format version 2
  EXPECT_EQ(ParseBundle(future).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadBundleFile("/nonexistent/x.sildaudit").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(BundleFileTest, AssembleRequiresAFinalCheckpoint) {
  const CheckpointSigner signer = testing::NewSigner();
  SignedChain chain = BuildChain("sild-1", 12, 5, signer);
  chain.checkpoints.pop_back();  // the export checkpoint at 12
  EXPECT_EQ(AssembleBundle(chain.records, chain.checkpoints,
                           signer.public_key_pem(), testing::TimeAt(0))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(AssembleBundle({}, chain.checkpoints, signer.public_key_pem(),
                              testing::TimeAt(0))
                   .ok());
}

}  // namespace
}  // namespace sild::audit
