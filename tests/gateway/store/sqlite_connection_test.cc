// What the SQLite connection promises beyond the portable contract: WAL and
// synchronous=FULL really on, readers beside a writer, a second writer
// refused with STORE_BUSY after the busy timeout, one prepared statement per
// SQL text.
#include "gateway/store/sqlite_connection.h"

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/gateway/store/store_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::sild::testing::HasError;
using ::sild::testing::QueryInt;

class SqliteConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = sild::testing::MakeTempDir("sqlite-connection") + "/test.db";
    writer_ = Open(5000);
    ASSERT_NE(writer_, nullptr);
    ASSERT_TRUE(
        writer_->Exec("CREATE TABLE item (id BIGINT PRIMARY KEY)").ok());
  }

  std::unique_ptr<SqliteConnection> Open(int busy_timeout_ms,
                                         bool read_only = false) {
    SqliteConnection::Options options;
    options.busy_timeout_ms = busy_timeout_ms;
    options.read_only = read_only;
    auto connection = SqliteConnection::Open(path_, options);
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  std::string path_;
  std::unique_ptr<SqliteConnection> writer_;
};

TEST_F(SqliteConnectionTest, WalAndSynchronousFullAreReallyOn) {
  auto other = Open(5000);
  ASSERT_NE(other, nullptr);
  for (SqliteConnection* sql : {writer_.get(), other.get()}) {
    auto mode = sql->Query("PRAGMA journal_mode", {});
    ASSERT_TRUE(mode.ok());
    EXPECT_EQ((*mode)[0].Text(0), "wal");
    // 2 = FULL: the WAL is synced at every commit (NORMAL would lose the
    // last commits on power loss).
    EXPECT_EQ(QueryInt(*sql, "PRAGMA synchronous"), 2);
    EXPECT_EQ(QueryInt(*sql, "PRAGMA foreign_keys"), 1);
  }
  ASSERT_TRUE(writer_->Exec("INSERT INTO item (id) VALUES (1)").ok());
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(SqliteConnectionTest, OpenInMissingFolderIsUnavailableNamingThePath) {
  auto connection = SqliteConnection::Open(path_ + ".d/missing/test.db", {});
  ASSERT_FALSE(connection.ok());
  EXPECT_TRUE(HasError(connection.status(), absl::StatusCode::kUnavailable,
                       "STORE_UNAVAILABLE"));
  EXPECT_EQ(ErrorField(connection.status()), "store.sqlite.path");
}

TEST_F(SqliteConnectionTest, ReadOnlyConnectionReadsButRefusesWrites) {
  ASSERT_TRUE(writer_->Exec("INSERT INTO item (id) VALUES (1)").ok());
  auto reader = Open(5000, /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(QueryInt(*reader, "SELECT COUNT(*) FROM item"), 1);
  EXPECT_FALSE(reader->Exec("INSERT INTO item (id) VALUES (2)").ok());
  EXPECT_EQ(QueryInt(*writer_, "SELECT COUNT(*) FROM item"), 1);
}

TEST_F(SqliteConnectionTest, ReadersRunBesideAnOpenWriteTransaction) {
  auto reader = Open(/*busy_timeout_ms=*/0);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(writer_->BeginWrite().ok());
  ASSERT_TRUE(writer_->Exec("INSERT INTO item (id) VALUES (1)").ok());
  // No busy wait allowed (timeout 0): WAL readers never wait for the writer.
  EXPECT_EQ(QueryInt(*reader, "SELECT COUNT(*) FROM item"), 0);
  ASSERT_TRUE(writer_->Commit().ok());
  EXPECT_EQ(QueryInt(*reader, "SELECT COUNT(*) FROM item"), 1);
}

TEST_F(SqliteConnectionTest, SecondWriterGetsStoreBusyAfterTheBusyTimeout) {
  constexpr int kTimeoutMs = 150;
  auto second = Open(kTimeoutMs);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(writer_->BeginWrite().ok());

  absl::Time start = absl::Now();
  absl::Status status = second->BeginWrite();
  absl::Duration waited = absl::Now() - start;
  EXPECT_TRUE(HasError(status, absl::StatusCode::kUnavailable, "STORE_BUSY"));
  // It waited for the lock (the busy handler ran) rather than failing at once.
  EXPECT_GE(waited, absl::Milliseconds(kTimeoutMs * 8 / 10));
  EXPECT_NE(status.message().find("BEGIN IMMEDIATE"), absl::string_view::npos)
      << status;

  // A script that needs the lock is just as retryable.
  EXPECT_TRUE(HasError(second->ExecScript("INSERT INTO item (id) VALUES (9);"),
                       absl::StatusCode::kUnavailable, "STORE_BUSY"));

  // Once the first writer commits, the second gets the lock; the failed
  // BEGIN left it usable.
  ASSERT_TRUE(writer_->Exec("INSERT INTO item (id) VALUES (1)").ok());
  ASSERT_TRUE(writer_->Commit().ok());
  ASSERT_TRUE(second->BeginWrite().ok());
  ASSERT_TRUE(second->Exec("INSERT INTO item (id) VALUES (2)").ok());
  ASSERT_TRUE(second->Commit().ok());
  EXPECT_EQ(QueryInt(*writer_, "SELECT COUNT(*) FROM item"), 2);
}

TEST_F(SqliteConnectionTest, SecondWriterWaitsForALockReleasedInTime) {
  auto second = Open(/*busy_timeout_ms=*/5000);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(writer_->BeginWrite().ok());
  std::thread committer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(writer_->Commit().ok());
  });
  EXPECT_TRUE(second->BeginWrite().ok()) << "the busy handler should wait";
  committer.join();
  EXPECT_TRUE(second->Commit().ok());
}

TEST_F(SqliteConnectionTest, OnePreparedStatementPerSqlText) {
  size_t before = writer_->cached_statement_count();
  ASSERT_TRUE(writer_->BeginWrite().ok());  // one sync, not 500
  for (int64_t i = 0; i < 500; ++i) {
    ASSERT_TRUE(writer_->Exec("INSERT INTO item (id) VALUES (?)", {i}).ok());
    ASSERT_EQ(
        QueryInt(*writer_, "SELECT COUNT(*) FROM item WHERE id <= ?", {i}),
        i + 1);
  }
  ASSERT_TRUE(writer_->Commit().ok());
  // BEGIN IMMEDIATE and COMMIT are cached statements too.
  EXPECT_EQ(writer_->cached_statement_count(), before + 4);
  // A statement that fails to compile is not cached.
  EXPECT_FALSE(writer_->Exec("INSERT INTO nowhere VALUES (1)").ok());
  EXPECT_EQ(writer_->cached_statement_count(), before + 4);
}

TEST_F(SqliteConnectionTest, ForeignKeysAreEnforced) {
  ASSERT_TRUE(writer_
                  ->Exec("CREATE TABLE child (id BIGINT PRIMARY KEY, item_id "
                         "BIGINT NOT NULL REFERENCES item (id))")
                  .ok());
  absl::Status status =
      writer_->Exec("INSERT INTO child (id, item_id) VALUES (1, 42)").status();
  EXPECT_TRUE(HasError(status, absl::StatusCode::kFailedPrecondition,
                       "STORE_CONSTRAINT"));
}

}  // namespace
}  // namespace sild
