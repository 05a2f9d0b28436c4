// The audit log in a real SQLite store (no gRPC): appends inside group
// commits, rollbacks, checkpoints, restarts, and tampering with the stored
// chain, detected by the same store verification the auditor service runs
// (gateway/auditsvc/store_verifier.h).
#include "gateway/audit/audit_log.h"

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gateway/audit/verifier.h"
#include "gateway/auditsvc/store_verifier.h"
#include "gateway/base/errors.h"
#include "gateway/store/sqlite_connection.h"
#include "gtest/gtest.h"
#include "tests/gateway/audit/audit_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using audit::FailureKind;
using audit::testing::Draft;
using audit::testing::NewEd25519PrivateKeyPem;
using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

// Fails the batch's commit while armed, after the audit log wrote its part.
class FailingCommit final : public TxnParticipant {
 public:
  absl::Status BeforeCommit(WriteTxn&) override {
    if (armed) {
      return absl::UnavailableError("injected commit failure");
    }
    return absl::OkStatus();
  }
  std::atomic<bool> armed{false};
};

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("audit-log");
    WriteFile(dir_ + "/signing.pem", NewEd25519PrivateKeyPem());
    WriteFile(dir_ + "/pseudonym.key", std::string(64, 'a') + "\n");
    WriteFile(dir_ + "/payload.key", std::string(64, 'b') + "\n");
    config_.mutable_sqlite()->set_path(dir_ + "/sild.db");
    config_.set_payload_key_file(dir_ + "/payload.key");
  }
  void TearDown() override { Close(); }

  AuditLog::Options LogOptions(const std::string& chain) {
    AuditLog::Options options;
    options.chain_id = chain;
    options.signing_key_file = dir_ + "/signing.pem";
    options.pseudonym_key_file = dir_ + "/pseudonym.key";
    options.checkpoint_every_records = every_records_;
    options.checkpoint_every = every_;
    return options;
  }

  // Opens the store with the log of `chains[0]` (log_) and any others
  // (extra_), and starts the writer.
  absl::Status Open(std::vector<std::string> chains = {"sild-1"}) {
    auto store = Store::Open(config_, &clock_, {AuditLog::Schema()});
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    for (size_t i = 0; i < chains.size(); ++i) {
      auto log = AuditLog::Open(store_.get(), LogOptions(chains[i]));
      if (!log.ok()) return log.status();
      store_->writer().AddParticipant(log->get());
      (i == 0 ? log_ : extra_) = std::move(*log);
    }
    store_->writer().AddParticipant(&failing_);
    store_->Start();
    return absl::OkStatus();
  }

  void Close() {
    if (store_) store_->Close();
    log_.reset();
    extra_.reset();
    store_.reset();
  }

  absl::Status Append(AuditLog* log, int64_t n) {
    return store_->writer().Run(
        [&](WriteTxn& txn) { return log->Append(txn, Draft(n)).status(); });
  }

  // A chain of `count` records, each appended in its own write.
  void Fill(int64_t count, AuditLog* log = nullptr) {
    for (int64_t i = 1; i <= count; ++i) {
      ASSERT_TRUE(Append(log ? log : log_.get(), i).ok());
    }
  }

  absl::StatusOr<auditsvc::StoreVerifyResult> Verify(
      auditsvc::StoreVerifyRequest request = {}) {
    if (!store_) {
      // Tamper tests verify a closed-and-reopened store without a log: the
      // key comes from the signing key file.
      auto store = Store::Open(config_, &clock_, {AuditLog::Schema()});
      if (!store.ok()) return store.status();
      store_ = std::move(*store);
    }
    std::ifstream in(dir_ + "/signing.pem");
    std::string pem((std::istreambuf_iterator<char>(in)), {});
    auto signer = audit::CheckpointSigner::FromPem(pem);
    if (!signer.ok()) return signer.status();
    auto key =
        audit::CheckpointVerifier::FromPublicKeyPem(signer->public_key_pem());
    if (!key.ok()) return key.status();
    request.batch_size = 7;  // several batches even for small chains
    return auditsvc::VerifyStore(*store_, *key, request);
  }

  // Direct SQL on the closed store, as an intruder with file access would.
  void Tamper(const std::string& sql,
              const std::vector<SqlValue>& params = {}) {
    Close();
    auto db = SqliteConnection::Open(dir_ + "/sild.db", {});
    ASSERT_TRUE(db.ok()) << db.status();
    auto changed = (*db)->Exec(sql, params);
    ASSERT_TRUE(changed.ok()) << changed.status();
    EXPECT_GT(*changed, 0) << sql;
  }

  std::string RecordBlob(int64_t sequence,
                         const std::string& chain = "sild-1") {
    auto db = SqliteConnection::Open(dir_ + "/sild.db", {});
    auto rows = (*db)->Query(
        "SELECT record FROM audit_records WHERE chain_id = ? AND sequence = ?",
        {chain, sequence});
    return rows.ok() && !rows->empty() ? (*rows)[0].Bytes(0) : "";
  }

  AuditCheckpoint StoredCheckpoint(int64_t sequence) {
    auto db = SqliteConnection::Open(dir_ + "/sild.db", {});
    auto rows = (*db)->Query(
        "SELECT checkpoint FROM audit_checkpoints WHERE sequence = ?",
        {sequence});
    AuditCheckpoint cp;
    if (rows.ok() && !rows->empty()) cp.ParseFromString((*rows)[0].Bytes(0));
    return cp;
  }

  // 35 records, checkpoints at 10, 20 and 30, then the store is closed.
  void BuildStandardChain() {
    ASSERT_TRUE(Open().ok());
    Fill(35);
    Close();
  }

  void ExpectFailure(FailureKind kind, int64_t sequence,
                     auditsvc::StoreVerifyRequest request = {}) {
    auto result = Verify(std::move(request));
    ASSERT_TRUE(result.ok()) << result.status();
    const auditsvc::ChainVerifyResult* failed = result->FirstFailure();
    ASSERT_NE(failed, nullptr) << "tampering went unnoticed";
    EXPECT_EQ(audit::FailureKindName(failed->report.kind),
              audit::FailureKindName(kind))
        << failed->report.Describe();
    EXPECT_EQ(failed->report.sequence, sequence) << failed->report.Describe();
    EXPECT_FALSE(failed->report.message.empty());
  }

  std::string dir_;
  config::v1::StoreConfig config_;
  ManualClock clock_{absl::FromUnixSeconds(1767225600)};
  int64_t every_records_ = 10;
  absl::Duration every_ = absl::Hours(1);
  FailingCommit failing_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<AuditLog> extra_;
};

TEST_F(AuditLogTest, ConcurrentAppendsInsideGroupCommitFormOneIntactChain) {
  ASSERT_TRUE(Open().ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!Append(log_.get(), t * 100 + i).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->writer().requests(), 200);
  auto result = Verify();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->ok()) << result->FirstFailure()->report.Describe();
  ASSERT_EQ(result->chains.size(), 1u);
  EXPECT_EQ(result->chains[0].report.records_verified, 200);
  EXPECT_EQ(result->chains[0].last_sequence, 200);
  // A checkpoint is cut inside a commit once 10 records are pending, so
  // there are at least 200 / (10 + largest batch) of them.
  EXPECT_GE(result->chains[0].report.checkpoints_verified, 1);
}

TEST_F(AuditLogTest, FailingRequestInABatchRollsBackOnlyItsRecords) {
  ASSERT_TRUE(Open().ok());
  // Hold the writer so the next three requests queue into one batch.
  absl::Notification release;
  store_->writer().Submit(
      [&](WriteTxn&) {
        release.WaitForNotification();
        return absl::OkStatus();
      },
      [](absl::Status) {});
  absl::Notification done_a, done_b, done_c;
  absl::Status status_a, status_b, status_c;
  store_->writer().Submit(
      [&](WriteTxn& txn) { return log_->Append(txn, Draft(1)).status(); },
      [&](absl::Status s) { status_a = s, done_a.Notify(); });
  store_->writer().Submit(
      [&](WriteTxn& txn) -> absl::Status {
        // Two records, then the request fails: both must vanish.
        EXPECT_TRUE(log_->Append(txn, Draft(2)).ok());
        EXPECT_TRUE(log_->Append(txn, Draft(3)).ok());
        return absl::InvalidArgumentError("the disclosure was refused late");
      },
      [&](absl::Status s) { status_b = s, done_b.Notify(); });
  store_->writer().Submit(
      [&](WriteTxn& txn) { return log_->Append(txn, Draft(4)).status(); },
      [&](absl::Status s) { status_c = s, done_c.Notify(); });
  const int64_t batches_before = store_->writer().batches();
  release.Notify();
  done_a.WaitForNotification();
  done_b.WaitForNotification();
  done_c.WaitForNotification();
  EXPECT_TRUE(status_a.ok());
  EXPECT_EQ(status_b.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(status_c.ok());
  EXPECT_EQ(store_->writer().batches() - batches_before, 1)
      << "the three requests did not share a batch";

  // The stored chain is 1 = Draft(1), 2 = Draft(4): no hole, no stray.
  std::vector<AuditRecord> records;
  ASSERT_TRUE(store_
                  ->Read([&](SqlConnection& sql) -> absl::Status {
                    auto read = AuditLog::ReadRecords(sql, "sild-1", 1, 0);
                    if (!read.ok()) return read.status();
                    records = *read;
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].message_id(), Draft(1).message_id());
  EXPECT_EQ(records[1].message_id(), Draft(4).message_id());
  EXPECT_EQ(records[1].sequence(), 2);
  // Later appends continue the same chain.
  ASSERT_TRUE(Append(log_.get(), 5).ok());
  auto result = Verify();
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->FirstFailure()->report.Describe();
  EXPECT_EQ(result->records_verified(), 3);
}

TEST_F(AuditLogTest, BatchWhoseCommitFailsRestoresTheHead) {
  every_records_ = 3;  // the failing batch also cuts a checkpoint
  ASSERT_TRUE(Open().ok());
  Fill(2);
  failing_.armed = true;
  absl::Status failed = store_->writer().Run([&](WriteTxn& txn) {
    for (int i = 3; i <= 5; ++i) {
      auto sealed = log_->Append(txn, Draft(i));
      if (!sealed.ok()) return sealed.status();
    }
    return absl::OkStatus();
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable);
  failing_.armed = false;
  // The next record is 3 again, and the checkpoint the failed batch cut is
  // gone with it.
  AuditRecord sealed;
  ASSERT_TRUE(store_->writer()
                  .Run([&](WriteTxn& txn) -> absl::Status {
                    auto r = log_->Append(txn, Draft(30));
                    if (!r.ok()) return r.status();
                    sealed = *r;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(sealed.sequence(), 3);
  Fill(4);  // sequences 4..7
  auto result = Verify();
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(result->ok()) << result->FirstFailure()->report.Describe();
  EXPECT_EQ(result->records_verified(), 7);
  EXPECT_EQ(result->checkpoints_verified(), 2);  // at 3 and 6
}

TEST_F(AuditLogTest, CheckpointsAreCutEveryNRecords) {
  ASSERT_TRUE(Open().ok());
  Fill(25);
  auto result = Verify();
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(result->ok()) << result->FirstFailure()->report.Describe();
  EXPECT_EQ(result->chains[0].report.checkpoints_verified, 2);  // 10, 20
  EXPECT_EQ(result->chains[0].unsigned_records, 5);
  Close();
  EXPECT_EQ(StoredCheckpoint(10).sequence(), 10);
  EXPECT_EQ(StoredCheckpoint(20).sequence(), 20);
}

TEST_F(AuditLogTest, CheckpointsAreCutByTimeWhenTheWriterIsIdle) {
  every_records_ = 1000;
  every_ = absl::Seconds(5);
  ASSERT_TRUE(Open().ok());
  Fill(3);
  absl::SleepFor(absl::Milliseconds(300));  // a few idle ticks: not due yet
  EXPECT_EQ(Verify()->chains[0].report.checkpoints_verified, 0);
  clock_.Advance(absl::Seconds(6));
  // The writer's idle tick (100 ms of real time) sees the deadline passed.
  int checkpoints = 0;
  for (int i = 0; i < 100 && checkpoints == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    checkpoints =
        static_cast<int>(Verify()->chains[0].report.checkpoints_verified);
  }
  EXPECT_EQ(checkpoints, 1);
  EXPECT_EQ(Verify()->chains[0].unsigned_records, 0);
  Close();
  AuditCheckpoint cp = StoredCheckpoint(3);
  EXPECT_EQ(cp.sequence(), 3);
  EXPECT_EQ(cp.time().seconds(), 1767225600 + 6);
}

TEST_F(AuditLogTest, ReopeningTheStoreContinuesTheChain) {
  ASSERT_TRUE(Open().ok());
  Fill(15);
  Close();
  ASSERT_TRUE(Open().ok());
  AuditRecord sealed;
  ASSERT_TRUE(store_->writer()
                  .Run([&](WriteTxn& txn) -> absl::Status {
                    auto r = log_->Append(txn, Draft(99));
                    if (!r.ok()) return r.status();
                    sealed = *r;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(sealed.sequence(), 16);
  Fill(4);
  ASSERT_TRUE(log_->CheckpointNow().ok());
  auto result = Verify();
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(result->ok()) << result->FirstFailure()->report.Describe();
  EXPECT_EQ(result->records_verified(), 20);
  EXPECT_EQ(result->checkpoints_verified(), 2);  // 10 and the one at 20
  EXPECT_EQ(result->chains[0].unsigned_records, 0);
}

TEST_F(AuditLogTest, UntouchedStoreVerifiesAndARangeToo) {
  BuildStandardChain();
  auto all = Verify();
  ASSERT_TRUE(all.ok());
  ASSERT_TRUE(all->ok()) << all->FirstFailure()->report.Describe();
  EXPECT_EQ(all->records_verified(), 35);
  EXPECT_EQ(all->checkpoints_verified(), 3);
  auditsvc::StoreVerifyRequest range;
  range.chain_id = "sild-1";
  range.from_sequence = 12;
  range.to_sequence = 25;
  auto part = Verify(range);
  ASSERT_TRUE(part.ok());
  ASSERT_TRUE(part->ok()) << part->FirstFailure()->report.Describe();
  EXPECT_EQ(part->records_verified(), 14);
  EXPECT_EQ(part->checkpoints_verified(), 1);  // 20
}

TEST_F(AuditLogTest, OneChangedByteOfAStoredRecordIsDetected) {
  BuildStandardChain();
  std::string blob = RecordBlob(17);
  size_t at = blob.find("Disclosed");
  ASSERT_NE(at, std::string::npos);
  blob[at] = 'd';  // still parses; the hash no longer matches
  Tamper("UPDATE audit_records SET record = ? WHERE sequence = 17",
         {SqlBlob{blob}});
  ExpectFailure(FailureKind::kRecordHashMismatch, 17);
}

TEST_F(AuditLogTest, ADeletedRecordIsDetected) {
  BuildStandardChain();
  Tamper("DELETE FROM audit_records WHERE sequence = 17");
  ExpectFailure(FailureKind::kSequenceGap, 17);
}

TEST_F(AuditLogTest, TwoSwappedRecordsAreDetected) {
  BuildStandardChain();
  std::string a = RecordBlob(17), b = RecordBlob(18);
  Tamper("UPDATE audit_records SET record = ? WHERE sequence = 17",
         {SqlBlob{b}});
  Tamper("UPDATE audit_records SET record = ? WHERE sequence = 18",
         {SqlBlob{a}});
  ExpectFailure(FailureKind::kSequenceOrder, 17);
}

TEST_F(AuditLogTest, SwappedSequenceNumbersAreDetected) {
  BuildStandardChain();
  Tamper("UPDATE audit_records SET sequence = -1 WHERE sequence = 17");
  Tamper("UPDATE audit_records SET sequence = 17 WHERE sequence = 18");
  Tamper("UPDATE audit_records SET sequence = 18 WHERE sequence = -1");
  ExpectFailure(FailureKind::kSequenceOrder, 17);
}

TEST_F(AuditLogTest, ARewrittenAndResealedTailIsCaughtByTheNextCheckpoint) {
  BuildStandardChain();
  // The forger edits record 17 and recomputes every hash after it, but
  // cannot sign: the checkpoint at 20 no longer matches.
  AuditRecord previous;
  ASSERT_TRUE(previous.ParseFromString(RecordBlob(16)));
  auto chain = audit::AuditChain::Restore(previous);
  ASSERT_TRUE(chain.ok());
  for (int64_t seq = 17; seq <= 35; ++seq) {
    AuditRecord draft;
    ASSERT_TRUE(draft.ParseFromString(RecordBlob(seq)));
    draft.clear_sequence();
    draft.clear_chain_id();
    draft.clear_previous_hash();
    draft.clear_record_hash();
    if (seq == 17) draft.set_counterparty("70000000");
    auto sealed = chain->Append(draft);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    Tamper(
        "UPDATE audit_records SET record = ?, record_hash = ? WHERE "
        "sequence = ?",
        {SqlBlob{sealed->SerializeAsString()}, SqlBlob{sealed->record_hash()},
         seq});
  }
  ExpectFailure(FailureKind::kCheckpointHeadMismatch, 20);
}

TEST_F(AuditLogTest, TailCutBeforeTheLastCheckpointIsDetected) {
  BuildStandardChain();
  Tamper("DELETE FROM audit_records WHERE sequence >= 28");
  ExpectFailure(FailureKind::kTruncated, 28);
  Close();
  // The gateway refuses to continue the cut chain (it would reuse record
  // numbers the checkpoint at 30 signed).
  absl::Status reopened = Open();
  EXPECT_EQ(reopened.code(), absl::StatusCode::kDataLoss) << reopened;
  EXPECT_EQ(ErrorReason(reopened), "AUDIT_CORRUPT");
}

TEST_F(AuditLogTest, TailCutAfterTheLastCheckpointIsInvisibleToTheStoreAlone) {
  // The documented limit: records after the last checkpoint are signed by
  // nothing yet, so removing them leaves a consistent, shorter chain. The
  // window is at most checkpoint_every_records records (or T ms).
  BuildStandardChain();
  Tamper("DELETE FROM audit_records WHERE sequence >= 33");
  auto result = Verify();
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok());
  EXPECT_EQ(result->records_verified(), 32);
  EXPECT_EQ(result->chains[0].unsigned_records, 2);
  EXPECT_LT(35 - 30, every_records_);
}

TEST_F(AuditLogTest, CutAtAnEarlierCheckpointIsExposedByAHeldCheckpoint) {
  BuildStandardChain();
  // The auditor kept the checkpoint at 30 from an earlier export.
  AuditCheckpoint held = StoredCheckpoint(30);
  ASSERT_EQ(held.sequence(), 30);
  Tamper("DELETE FROM audit_records WHERE sequence > 20");
  Tamper("DELETE FROM audit_checkpoints WHERE sequence > 20");
  auto alone = Verify();
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(alone->ok()) << "the store alone looks intact at 20";
  auditsvc::StoreVerifyRequest request;
  request.held_checkpoints.push_back(held);
  ExpectFailure(FailureKind::kTruncated, 21, request);
}

TEST_F(AuditLogTest, CheckpointReplacedByOneSignedWithAnotherKeyIsDetected) {
  BuildStandardChain();
  AuditCheckpoint original = StoredCheckpoint(20);
  AuditCheckpoint draft = original;
  draft.clear_signature();
  draft.clear_key_id();
  auto forged = audit::testing::NewSigner().Sign(draft);
  ASSERT_TRUE(forged.ok());
  Tamper("UPDATE audit_checkpoints SET checkpoint = ? WHERE sequence = 20",
         {SqlBlob{forged->SerializeAsString()}});
  ExpectFailure(FailureKind::kCheckpointSignatureInvalid, 20);
}

TEST_F(AuditLogTest, ADeletedCheckpointBreaksTheCheckpointLinks) {
  BuildStandardChain();
  Tamper("DELETE FROM audit_checkpoints WHERE sequence = 20");
  ExpectFailure(FailureKind::kCheckpointLinkBroken, 30);
}

TEST_F(AuditLogTest, ARecordMovedInFromAnotherChainIsDetected) {
  ASSERT_TRUE(Open({"sild-1", "sild-2"}).ok());
  for (int i = 1; i <= 15; ++i) {
    ASSERT_TRUE(Append(log_.get(), i).ok());
    ASSERT_TRUE(Append(extra_.get(), 100 + i).ok());
  }
  Close();
  Tamper(
      "DELETE FROM audit_records WHERE chain_id = 'sild-1' AND "
      "sequence = 12");
  Tamper(
      "UPDATE audit_records SET chain_id = 'sild-1' WHERE "
      "chain_id = 'sild-2' AND sequence = 12");
  auto result = Verify();
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->chains.size(), 2u);
  const auditsvc::ChainVerifyResult* failed = result->FirstFailure();
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->chain_id, "sild-1");
  EXPECT_EQ(failed->report.kind, FailureKind::kForeignChain)
      << failed->report.Describe();
  EXPECT_EQ(failed->report.sequence, 12);
  // sild-2 lost its record 12 to the move.
  EXPECT_EQ(result->chains[1].report.kind, FailureKind::kSequenceGap);
}

}  // namespace
}  // namespace sild
