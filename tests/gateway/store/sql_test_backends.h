// The SQL backends that the portable store tests run on. Each backend makes
// a fresh empty database per test and opens connections to it; suites are
// instantiated over AllSqlBackends(), so a new backend (PostgreSQL) joins
// every portable suite by adding one entry there.
#ifndef SILD_TESTS_GATEWAY_STORE_SQL_TEST_BACKENDS_H_
#define SILD_TESTS_GATEWAY_STORE_SQL_TEST_BACKENDS_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/store/postgres_connection.h"
#include "gateway/store/sql.h"
#include "gateway/store/sqlite_connection.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/test_env.h"

namespace sild::testing {

// One test's database. Connect() may be called many times (from any thread)
// for independent connections to the same database.
class SqlTestDatabase {
 public:
  virtual ~SqlTestDatabase() = default;
  virtual absl::StatusOr<std::unique_ptr<SqlConnection>> Connect() = 0;
};

struct SqlBackend {
  std::string name;  // test-name suffix, [A-Za-z0-9]
  std::function<absl::StatusOr<std::unique_ptr<SqlTestDatabase>>()>
      make_database;
};

class SqliteTestDatabase final : public SqlTestDatabase {
 public:
  SqliteTestDatabase()
      : path_(MakeTempDir("sql-backend-sqlite") + "/test.db") {}
  absl::StatusOr<std::unique_ptr<SqlConnection>> Connect() override {
    auto connection = SqliteConnection::Open(path_, {});
    if (!connection.ok()) return connection.status();
    return std::unique_ptr<SqlConnection>(std::move(*connection));
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A fresh schema on the binary's PostgreSQL test server per database.
class PostgresTestDatabase final : public SqlTestDatabase {
 public:
  explicit PostgresTestDatabase(std::string dsn) : dsn_(std::move(dsn)) {}
  absl::StatusOr<std::unique_ptr<SqlConnection>> Connect() override {
    auto connection = PostgresConnection::Open(dsn_);
    if (!connection.ok()) return connection.status();
    return std::unique_ptr<SqlConnection>(std::move(*connection));
  }

 private:
  std::string dsn_;
};

inline SqlBackend PostgresBackend() {
  return {"Postgres", []() -> absl::StatusOr<std::unique_ptr<SqlTestDatabase>> {
            auto server = PostgresTestServer::Shared();
            if (!server.ok()) return server.status();
            auto dsn = (*server)->NewSchemaDsn();
            if (!dsn.ok()) return dsn.status();
            return std::make_unique<PostgresTestDatabase>(*std::move(dsn));
          }};
}

inline SqlBackend SqliteBackend() {
  return {"Sqlite", []() -> absl::StatusOr<std::unique_ptr<SqlTestDatabase>> {
            return std::make_unique<SqliteTestDatabase>();
          }};
}

// Every backend the portable suites run on: SQLite files and schemas on a
// real PostgreSQL server (started once per test binary).
inline std::vector<SqlBackend> AllSqlBackends() {
  return {SqliteBackend(), PostgresBackend()};
}

// gtest prints the parameter of a failing test with this.
inline void PrintTo(const SqlBackend& backend, std::ostream* os) {
  *os << backend.name;
}

inline std::string SqlBackendName(
    const ::testing::TestParamInfo<SqlBackend>& info) {
  return info.param.name;
}

}  // namespace sild::testing

#endif  // SILD_TESTS_GATEWAY_STORE_SQL_TEST_BACKENDS_H_
