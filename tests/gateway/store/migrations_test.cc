// ApplyMigrations on every backend: version order, idempotence, a database
// from another build refused, all-or-nothing, and concurrent starts that
// apply each migration once.
#include "gateway/store/migrations.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/store/sqlite_connection.h"
#include "gtest/gtest.h"
#include "tests/gateway/store/sql_test_backends.h"
#include "tests/gateway/store/store_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::sild::testing::HasError;
using ::sild::testing::QueryInt;
using ::sild::testing::SqlBackend;
using ::sild::testing::SqlTestDatabase;

// Migration 1 makes a log; each later one appends its version, so the log
// records the order they ran in (and a migration run twice shows twice).
Migration LogTable() {
  return {1, "log",
          "CREATE TABLE migration_log (seq BIGINT PRIMARY KEY, "
          "version BIGINT NOT NULL)"};
}
Migration Appending(int version, std::string name) {
  return {version, std::move(name),
          absl::StrCat("INSERT INTO migration_log (seq, version) SELECT "
                       "COUNT(*) + 1, ",
                       version, " FROM migration_log")};
}

class MigrationsTest : public ::testing::TestWithParam<SqlBackend> {
 protected:
  void SetUp() override {
    auto database = GetParam().make_database();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    sql_ = Connect();
    ASSERT_NE(sql_, nullptr);
  }

  std::unique_ptr<SqlConnection> Connect() {
    auto connection = database_->Connect();
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  // The versions in migration_log, in the order they ran.
  std::vector<int64_t> RunOrder(SqlConnection& sql) {
    std::vector<int64_t> order;
    auto rows = sql.Query("SELECT version FROM migration_log ORDER BY seq", {});
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) {
      for (const auto& row : *rows) order.push_back(row.Int(0));
    }
    return order;
  }

  std::vector<std::pair<int64_t, std::string>> Applied(SqlConnection& sql) {
    std::vector<std::pair<int64_t, std::string>> applied;
    auto rows = sql.Query(
        "SELECT version, name FROM schema_migrations ORDER BY version", {});
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) {
      for (const auto& row : *rows) {
        applied.emplace_back(row.Int(0), row.Text(1));
      }
    }
    return applied;
  }

  bool TableExists(SqlConnection& sql, absl::string_view table) {
    return sql.Query(absl::StrCat("SELECT COUNT(*) FROM ", table), {}).ok();
  }

  std::unique_ptr<SqlTestDatabase> database_;
  std::unique_ptr<SqlConnection> sql_;
};

TEST_P(MigrationsTest, AppliesInVersionOrderWhateverTheListOrder) {
  ASSERT_TRUE(ApplyMigrations(*sql_, {Appending(30, "c"), LogTable(),
                                      Appending(4, "a"), Appending(12, "b")})
                  .ok());
  EXPECT_EQ(RunOrder(*sql_), (std::vector<int64_t>{4, 12, 30}));
  using Row = std::pair<int64_t, std::string>;
  EXPECT_EQ(Applied(*sql_),
            (std::vector<Row>{{1, "log"}, {4, "a"}, {12, "b"}, {30, "c"}}));
  EXPECT_GT(QueryInt(*sql_, "SELECT MIN(applied_at) FROM schema_migrations"),
            0);
}

TEST_P(MigrationsTest, RerunIsANoOpAndLaterVersionsApplyAlone) {
  std::vector<Migration> first = {LogTable(), Appending(2, "two")};
  ASSERT_TRUE(ApplyMigrations(*sql_, first).ok());
  ASSERT_TRUE(ApplyMigrations(*sql_, first).ok());
  auto fresh = Connect();
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(ApplyMigrations(*fresh, first).ok());
  EXPECT_EQ(RunOrder(*sql_), (std::vector<int64_t>{2}));

  std::vector<Migration> later = first;
  later.push_back(Appending(3, "three"));
  ASSERT_TRUE(ApplyMigrations(*fresh, later).ok());
  EXPECT_EQ(RunOrder(*sql_), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Applied(*sql_).size(), 3u);
}

TEST_P(MigrationsTest, ChangedNameOfAnAppliedVersionIsSchemaMismatch) {
  ASSERT_TRUE(
      ApplyMigrations(*sql_, {LogTable(), Appending(2, "consents")}).ok());
  absl::Status status = ApplyMigrations(
      *sql_, {LogTable(), Appending(2, "exchange"), Appending(3, "three")});
  EXPECT_TRUE(HasError(status, absl::StatusCode::kFailedPrecondition,
                       "SCHEMA_MISMATCH"));
  EXPECT_NE(status.message().find("consents"), absl::string_view::npos);
  EXPECT_NE(status.message().find("exchange"), absl::string_view::npos);
  // Nothing after the mismatch ran, and the connection is not left inside
  // a transaction.
  EXPECT_EQ(RunOrder(*sql_), (std::vector<int64_t>{2}));
  EXPECT_TRUE(sql_->BeginWrite().ok());
  EXPECT_TRUE(sql_->Rollback().ok());
}

TEST_P(MigrationsTest, FailingMigrationLeavesNothingBehind) {
  Migration broken = {2, "broken",
                      "CREATE TABLE half_done (id BIGINT PRIMARY KEY);"
                      "INSERT INTO half_done (id) VALUES (1);"
                      "INSERT INTO no_such_table (id) VALUES (1);"};
  absl::Status status = ApplyMigrations(*sql_, {LogTable(), broken});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no_such_table"), absl::string_view::npos)
      << status;
  // Not even the migrations before it, nor the bookkeeping table: one
  // transaction.
  EXPECT_FALSE(TableExists(*sql_, "half_done"));
  EXPECT_FALSE(TableExists(*sql_, "migration_log"));
  EXPECT_FALSE(TableExists(*sql_, "schema_migrations"));

  // The connection is usable and a fixed build applies cleanly.
  broken.sql = "CREATE TABLE half_done (id BIGINT PRIMARY KEY)";
  ASSERT_TRUE(ApplyMigrations(*sql_, {LogTable(), broken}).ok());
  EXPECT_TRUE(TableExists(*sql_, "half_done"));
  EXPECT_EQ(Applied(*sql_).size(), 2u);
}

TEST_P(MigrationsTest, DuplicateVersionsAreRefusedBeforeAnythingRuns) {
  absl::Status status = ApplyMigrations(
      *sql_, {LogTable(), Appending(2, "a"), Appending(2, "b")});
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(ErrorReason(status), "DUPLICATE_MIGRATION");
  EXPECT_NE(status.message().find("version 2"), absl::string_view::npos)
      << status;
  EXPECT_FALSE(TableExists(*sql_, "migration_log"));
  EXPECT_FALSE(TableExists(*sql_, "schema_migrations"));
}

TEST_P(MigrationsTest, ConcurrentStartsBothSucceedAndEachMigrationRunsOnce) {
  // Each thread is one gateway starting: its own connection, opened at the
  // same moment as the others, on a database nobody has touched yet.
  sql_.reset();
  constexpr int kStarters = 4;
  std::vector<Migration> migrations = {LogTable(), Appending(2, "a"),
                                       Appending(3, "b")};
  std::atomic<int> ready{0};
  std::vector<absl::Status> results(kStarters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kStarters) std::this_thread::yield();
      auto connection = database_->Connect();
      if (!connection.ok()) {
        results[i] = connection.status();
        return;
      }
      results[i] = ApplyMigrations(**connection, migrations);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kStarters; ++i)
    EXPECT_TRUE(results[i].ok()) << results[i];
  auto check = Connect();
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(RunOrder(*check), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Applied(*check).size(), 3u);
}

// Two gateway processes starting on one SQLite file: SQLite's file locks,
// not just threads sharing a process, serialise them.
TEST(SqliteMigrationsTest, TwoProcessesOnOneFileApplyEachMigrationOnce) {
  const std::string path =
      sild::testing::MakeTempDir("migrations-processes") + "/test.db";
  // A slow migration keeps the write lock long enough that the other
  // process waits for it (the busy handler across processes).
  std::vector<Migration> migrations = {
      LogTable(),
      Appending(2, "a"),
      Appending(3, "b"),
      {4, "bulk",
       "CREATE TABLE bulk (i BIGINT PRIMARY KEY);"
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
       "WHERE i < 200000) INSERT INTO bulk (i) SELECT i FROM n;"}};
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 2; ++i) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(go[1]);
      char byte;
      // Start together: both wait for the parent's signal (EOF).
      while (read(go[0], &byte, 1) > 0) {
      }
      auto connection = SqliteConnection::Open(path, {});
      absl::Status status = connection.ok()
                                ? ApplyMigrations(**connection, migrations)
                                : connection.status();
      if (!status.ok())
        fprintf(stderr, "starter: %s\n", status.ToString().c_str());
      _exit(status.ok() ? 0 : 3);
    }
    children.push_back(child);
  }
  close(go[0]);
  close(go[1]);
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "a starter failed with " << status;
  }
  auto check = SqliteConnection::Open(path, {});
  ASSERT_TRUE(check.ok()) << check.status();
  auto rows =
      (*check)->Query("SELECT version FROM migration_log ORDER BY seq", {});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].Int(0), 2);
  EXPECT_EQ((*rows)[1].Int(0), 3);
  EXPECT_EQ(QueryInt(**check, "SELECT COUNT(*) FROM schema_migrations"), 4);
  EXPECT_EQ(QueryInt(**check, "SELECT COUNT(*) FROM bulk"), 200000);
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrationsTest,
                         ::testing::ValuesIn(testing::AllSqlBackends()),
                         testing::SqlBackendName);

}  // namespace
}  // namespace sild
