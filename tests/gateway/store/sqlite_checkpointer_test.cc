// The WAL checkpointer on real SQLite files: the writer's connection stops
// checkpointing by itself (until the fallback size), the checkpointer copies
// the WAL back on its own thread, a reader's old snapshot neither breaks it
// nor makes it spin, and the store wires it up.
#include "gateway/store/sqlite_checkpointer.h"

#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/gateway/store/store_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::sild::testing::QueryInt;

constexpr int kRowBytes = 3000;  // about one 4 KiB page per row

class SqliteCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = sild::testing::MakeTempDir("sqlite-checkpointer") + "/test.db";
    writer_ = Open();
    ASSERT_NE(writer_, nullptr);
    ASSERT_TRUE(
        writer_->Exec("CREATE TABLE item (id INTEGER PRIMARY KEY, data BLOB)")
            .ok());
  }

  std::unique_ptr<SqliteConnection> Open() {
    auto connection = SqliteConnection::Open(path_, {});
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  // `count` commits of one row each.
  void WriteRows(int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(writer_
                      ->Exec("INSERT INTO item (data) VALUES (?)",
                             {SqlBlob{std::string(kRowBytes, 'x')}})
                      .ok());
    }
  }

  uintmax_t WalFileBytes() {
    return std::filesystem::file_size(path_ + "-wal");
  }

  std::string path_;
  std::unique_ptr<SqliteConnection> writer_;
};

TEST_F(SqliteCheckpointerTest, WriterNoLongerCheckpointsBelowTheFallback) {
  writer_->ObserveWal([](int) {}, /*fallback_pages=*/100000);
  WriteRows(1500);
  // SQLite's own checkpoint (every 8000 pages here, 1000 by default) would
  // have restarted the WAL; the observed connection leaves it all there.
  EXPECT_GT(WalFileBytes(), 1400u * 4096u);
}

TEST_F(SqliteCheckpointerTest, FallbackKeepsTheWalBounded) {
  int reported = 0;
  writer_->ObserveWal([&](int pages) { reported = pages; },
                      /*fallback_pages=*/200);
  WriteRows(2000);
  EXPECT_GT(reported, 0);
  // The writer copied back at 200 pages and the WAL restarted each time.
  EXPECT_LT(WalFileBytes(), 300u * 4200u);
}

TEST_F(SqliteCheckpointerTest, CopiesTheWalOnItsOwnThread) {
  SqliteCheckpointer::Options options;
  options.threshold_pages = 100;
  options.fallback_pages = 100000;
  SqliteCheckpointer checkpointer(Open(), options);
  writer_->ObserveWal([&](int pages) { checkpointer.WalGrew(pages); },
                      options.fallback_pages);
  checkpointer.Start();
  WriteRows(1000);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (checkpointer.stats().pages_copied < 800 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  checkpointer.Stop();
  SqliteCheckpointer::Stats stats = checkpointer.stats();
  EXPECT_GE(stats.pages_copied, 800);
  EXPECT_GE(stats.checkpoints, 2);
  EXPECT_EQ(stats.failures, 0);
  // Every row is in the database file: a fresh connection reading with the
  // WAL gone sees them all.
  writer_.reset();
  auto reader = Open();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(QueryInt(*reader, "SELECT COUNT(*) FROM item"), 1000);
}

TEST_F(SqliteCheckpointerTest, ReaderSnapshotStopsItShortWithoutSpinning) {
  SqliteCheckpointer::Options options;
  options.threshold_pages = 50;
  options.fallback_pages = 100000;
  SqliteCheckpointer checkpointer(Open(), options);
  writer_->ObserveWal([&](int pages) { checkpointer.WalGrew(pages); },
                      options.fallback_pages);
  WriteRows(10);
  // A reader pins a snapshot before most of the writes: the checkpointer
  // cannot copy past it.
  auto reader = Open();
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->BeginRead().ok());
  EXPECT_EQ(QueryInt(*reader, "SELECT COUNT(*) FROM item"), 10);
  WriteRows(300);
  checkpointer.Start();
  absl::SleepFor(absl::Milliseconds(500));
  SqliteCheckpointer::Stats pinned = checkpointer.stats();
  // Retries pause (20 ms) instead of spinning: at most ~25 in 500 ms.
  EXPECT_GE(pinned.checkpoints, 1);
  EXPECT_LE(pinned.checkpoints, 40);
  EXPECT_LT(pinned.pages_copied, 100);
  // The reader still sees its snapshot.
  EXPECT_EQ(QueryInt(*reader, "SELECT COUNT(*) FROM item"), 10);
  ASSERT_TRUE(reader->Commit().ok());
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (checkpointer.stats().pages_copied < 250 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(checkpointer.stats().pages_copied, 250);
  checkpointer.Stop();
}

TEST_F(SqliteCheckpointerTest, StopIsIdempotentAndEndsAWaitingThread) {
  SqliteCheckpointer checkpointer(Open(), {});
  checkpointer.Start();
  absl::Time start = absl::Now();
  checkpointer.Stop();
  checkpointer.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(checkpointer.stats().checkpoints, 0);
}

}  // namespace
}  // namespace sild
