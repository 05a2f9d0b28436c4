// Store: the facade the gateway uses, on SQLite and PostgreSQL. Opening
// applies migrations, reads are snapshots that refuse writes, Close drains
// and is final, data survives a reopen, and bad configurations fail clearly.
#include "gateway/store/store.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gateway/base/clock.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/gateway/store/store_test_util.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::sild::testing::HasError;
using ::sild::testing::QueryInt;

std::vector<Migration> TestSchema() {
  return {{1, "notes",
           "CREATE TABLE note (id BIGINT PRIMARY KEY, body BLOB NOT NULL)"}};
}

GroupCommitter::WriteFn InsertNote(int64_t id) {
  return [id](WriteTxn& txn) {
    return txn.sql()
        .Exec("INSERT INTO note (id, body) VALUES (?, ?)",
              {id, SqlBlob{"sealed"}})
        .status();
  };
}

// Parameterised by backend: "Sqlite" (a file) or "Postgres" (a fresh schema
// on the binary's PostgreSQL test server).
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = sild::testing::MakeTempDir("store");
    std::ofstream(dir_ + "/payload.key")
        << "000102030405060708090a0b0c0d0e0f"
           "101112131415161718191a1b1c1d1e1f\n";
    if (GetParam() == "Postgres") {
      auto server = sild::testing::PostgresTestServer::Shared();
      ASSERT_TRUE(server.ok()) << server.status();
      auto dsn = (*server)->NewSchemaDsn();
      ASSERT_TRUE(dsn.ok()) << dsn.status();
      config_.mutable_postgres()->set_dsn(*dsn);
    } else {
      config_.mutable_sqlite()->set_path(dir_ + "/sild.db");
      config_.mutable_sqlite()->set_busy_timeout_ms(2000);
    }
    config_.set_payload_key_file(dir_ + "/payload.key");
  }

  std::unique_ptr<Store> OpenStore(
      std::vector<Migration> migrations = TestSchema()) {
    auto store = Store::Open(config_, RealClock::Get(), std::move(migrations));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    (*store)->Start();
    return std::move(*store);
  }

  int64_t CountNotes(Store& store) {
    int64_t count = -1;
    EXPECT_TRUE(store
                    .Read([&](SqlConnection& sql) {
                      count = QueryInt(sql, "SELECT COUNT(*) FROM note");
                      return absl::OkStatus();
                    })
                    .ok());
    return count;
  }

  std::string dir_;
  config::v1::StoreConfig config_;
};

// What only an SQLite file (or the choice of backend) can show.
class SqliteStoreTest : public StoreTest {};

TEST_P(SqliteStoreTest, OpenCreatesTheFileAndAppliesMigrations) {
  ASSERT_FALSE(std::filesystem::exists(config_.sqlite().path()));
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(config_.sqlite().path()));
  EXPECT_EQ(store->backend(), "sqlite");
  EXPECT_TRUE(store
                  ->Read([](SqlConnection& sql) {
                    EXPECT_EQ(QueryInt(sql,
                                       "SELECT COUNT(*) FROM "
                                       "schema_migrations WHERE "
                                       "version = 1"),
                              1);
                    EXPECT_EQ(QueryInt(sql, "SELECT COUNT(*) FROM note"), 0);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(StoreTest, WritesAreReadableOnceRunReturns) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->writer().Run(InsertNote(1)).ok());
  EXPECT_EQ(CountNotes(*store), 1);
  // The cipher is the configured key's: a value sealed here opens here.
  auto sealed = store->cipher().Seal("payload", "note:1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*store->cipher().Open(*sealed, "note:1"), "payload");
}

TEST_P(StoreTest, ReadSeesOneSnapshotWhileTheWriterCommits) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->writer().Run(InsertNote(1)).ok());
  absl::Status read = store->Read([&](SqlConnection& sql) {
    EXPECT_EQ(QueryInt(sql, "SELECT COUNT(*) FROM note"), 1);
    // The writer commits two more notes while this read is open.
    EXPECT_TRUE(store->writer().Run(InsertNote(2)).ok());
    EXPECT_TRUE(store->writer().Run(InsertNote(3)).ok());
    EXPECT_EQ(QueryInt(sql, "SELECT COUNT(*) FROM note"), 1);
    EXPECT_EQ(QueryInt(sql, "SELECT MAX(id) FROM note"), 1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(read.ok()) << read;
  EXPECT_EQ(CountNotes(*store), 3);
}

TEST_P(StoreTest, ReadPassesOnTheCallbacksError) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Read([](SqlConnection&) {
    return absl::NotFoundError("no such note");
  }),
            absl::NotFoundError("no such note"));
  // The pooled connection is clean for the next reader.
  EXPECT_EQ(CountNotes(*store), 0);
}

TEST_P(StoreTest, ReadConnectionsRefuseWrites) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::Status status = store->Read([](SqlConnection& sql) {
    return sql.Exec("INSERT INTO note (id, body) VALUES (1, 'x')").status();
  });
  EXPECT_FALSE(status.ok()) << "a write outside the writer was accepted";
  EXPECT_EQ(CountNotes(*store), 0);
}

TEST_P(StoreTest, ConcurrentReadersBesideTheWriterSeeOnlyGrowth) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::atomic<bool> writing{true};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (writing.load()) {
        int64_t now = CountNotes(*store);
        if (now < last) errors.fetch_add(1);
        last = now;
      }
    });
  }
  for (int64_t id = 0; id < 100; ++id) {
    ASSERT_TRUE(store->writer().Run(InsertNote(id)).ok());
  }
  writing = false;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(CountNotes(*store), 100);
}

TEST_P(StoreTest, CloseDrainsIsIdempotentAndIsFinal) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::atomic<int> committed{0};
  for (int64_t id = 0; id < 20; ++id) {
    store->writer().Submit(InsertNote(id), [&](absl::Status status) {
      if (status.ok()) committed.fetch_add(1);
    });
  }
  store->Close();
  EXPECT_EQ(committed.load(), 20) << "Close must commit what was queued";
  store->Close();

  absl::Status read =
      store->Read([](SqlConnection&) { return absl::OkStatus(); });
  EXPECT_TRUE(HasError(read, absl::StatusCode::kUnavailable, "STORE_STOPPED"));
  EXPECT_TRUE(HasError(store->writer().Run(InsertNote(99)),
                       absl::StatusCode::kUnavailable, "STORE_STOPPED"));
  store.reset();  // destruction after Close

  auto reopened = OpenStore();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(CountNotes(*reopened), 20);
}

TEST_P(StoreTest, ReopeningKeepsDataAndAddsNewMigrations) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->writer().Run(InsertNote(7)).ok());
  }
  std::vector<Migration> next = TestSchema();
  next.push_back({2, "tags", "CREATE TABLE tag (note_id BIGINT NOT NULL)"});
  auto store = OpenStore(next);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(CountNotes(*store), 1);
  EXPECT_TRUE(store
                  ->Read([](SqlConnection& sql) {
                    EXPECT_EQ(QueryInt(sql, "SELECT COUNT(*) FROM tag"), 0);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(StoreTest, DatabaseOfAnotherBuildIsRefused) {
  { ASSERT_NE(OpenStore(), nullptr); }
  auto store = Store::Open(config_, RealClock::Get(),
                           {{1, "renamed", "CREATE TABLE x (id BIGINT)"}});
  EXPECT_TRUE(HasError(store.status(), absl::StatusCode::kFailedPrecondition,
                       "SCHEMA_MISMATCH"));
}

TEST_P(SqliteStoreTest, UnreachablePostgresIsUnavailableWithoutEchoingTheDsn) {
  // Port 1 on loopback: nothing listens there.
  config_.mutable_postgres()->set_dsn(
      "host=127.0.0.1 port=1 dbname=sild password=secret-1 "
      "connect_timeout=5");
  auto store = Store::Open(config_, RealClock::Get(), TestSchema());
  EXPECT_TRUE(HasError(store.status(), absl::StatusCode::kUnavailable,
                       "STORE_UNAVAILABLE"));
  EXPECT_EQ(ErrorField(store.status()), "store.postgres");
  EXPECT_EQ(store.status().message().find("secret-1"), std::string::npos)
      << store.status();
}

TEST_P(SqliteStoreTest, UnreadablePostgresDsnFileIsNamed) {
  config_.mutable_postgres()->set_dsn_file(dir_ + "/no-such-dsn");
  auto store = Store::Open(config_, RealClock::Get(), TestSchema());
  EXPECT_EQ(ErrorField(store.status()), "store.postgres.dsn_file");
}

TEST_P(SqliteStoreTest, InMemoryDatabaseIsRefused) {
  // Each connection would get its own empty database: readers would never
  // see a write.
  config_.mutable_sqlite()->set_path(":memory:");
  auto store = Store::Open(config_, RealClock::Get(), TestSchema());
  EXPECT_TRUE(HasError(store.status(), absl::StatusCode::kFailedPrecondition,
                       "STORE_UNAVAILABLE"));
  EXPECT_EQ(ErrorField(store.status()), "store.sqlite.path");
}

TEST_P(SqliteStoreTest, BadKeyFileFailsTheOpen) {
  std::ofstream(dir_ + "/payload.key", std::ios::trunc) << "too short\n";
  auto store = Store::Open(config_, RealClock::Get(), TestSchema());
  EXPECT_TRUE(HasError(store.status(), absl::StatusCode::kFailedPrecondition,
                       "BAD_KEY_FILE"));
  EXPECT_FALSE(std::filesystem::exists(config_.sqlite().path()))
      << "nothing is created before the key is known good";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Backends, SqliteStoreTest, ::testing::Values("Sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sild
