// The SqlConnection contract, run on every backend in AllSqlBackends():
// values round-trip exactly, errors carry the documented codes and name the
// statement (never its parameters), savepoints and transactions behave the
// same everywhere, and the prepared-statement cache is invisible.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gateway/base/errors.h"
#include "gateway/store/sql.h"
#include "gtest/gtest.h"
#include "tests/gateway/store/sql_test_backends.h"
#include "tests/gateway/store/store_test_util.h"

namespace sild {
namespace {

using ::sild::testing::HasError;
using ::sild::testing::QueryInt;
using ::sild::testing::SqlBackend;
using ::sild::testing::SqlTestDatabase;

constexpr absl::string_view kSchema =
    "CREATE TABLE item (id BIGINT PRIMARY KEY, n BIGINT, label TEXT, "
    "data BLOB, required TEXT NOT NULL DEFAULT 'x')";
constexpr absl::string_view kInsert =
    "INSERT INTO item (id, n, label, data) VALUES (?, ?, ?, ?)";

class SqlConnectionTest : public ::testing::TestWithParam<SqlBackend> {
 protected:
  void SetUp() override {
    auto database = GetParam().make_database();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    sql_ = Connect();
    ASSERT_NE(sql_, nullptr);
    ASSERT_TRUE(sql_->Exec(kSchema).ok());
  }

  std::unique_ptr<SqlConnection> Connect() {
    auto connection = database_->Connect();
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  // The row with `id`, which must exist.
  SqlRow Row(int64_t id) {
    auto rows =
        sql_->Query("SELECT id, n, label, data FROM item WHERE id = ?", {id});
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok() || rows->size() != 1) {
      ADD_FAILURE() << "no single row " << id;
      return SqlRow({});
    }
    return (*rows)[0];
  }

  int64_t Count() { return QueryInt(*sql_, "SELECT COUNT(*) FROM item"); }

  std::unique_ptr<SqlTestDatabase> database_;
  std::unique_ptr<SqlConnection> sql_;
};

TEST_P(SqlConnectionTest, NullsRoundTripAndReadAsZeroOrEmpty) {
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, nullptr, nullptr}).ok());
  SqlRow row = Row(1);
  ASSERT_EQ(row.size(), 4u);
  EXPECT_FALSE(row.IsNull(0));
  EXPECT_TRUE(row.IsNull(1));
  EXPECT_TRUE(row.IsNull(2));
  EXPECT_TRUE(row.IsNull(3));
  EXPECT_EQ(row.Int(1), 0);
  EXPECT_EQ(row.Text(2), "");
  EXPECT_EQ(row.Bytes(3), "");
  // NULL is not a value: it matches IS NULL, not = ?.
  EXPECT_EQ(QueryInt(*sql_, "SELECT COUNT(*) FROM item WHERE n IS NULL"), 1);
}

TEST_P(SqlConnectionTest, Int64ExtremesRoundTripAndCompare) {
  const std::vector<int64_t> values = {std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::min() + 1,
                                       -1,
                                       0,
                                       1,
                                       int64_t{1} << 53,
                                       (int64_t{1} << 53) + 1,
                                       std::numeric_limits<int64_t>::max()};
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(sql_->Exec(kInsert, {static_cast<int64_t>(i), values[i],
                                     nullptr, nullptr})
                    .ok());
  }
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(Row(static_cast<int64_t>(i)).Int(1), values[i]) << i;
    EXPECT_EQ(QueryInt(*sql_, "SELECT id FROM item WHERE n = ?", {values[i]}),
              static_cast<int64_t>(i));
  }
  // Ordering is numeric, not textual or floating point.
  auto rows = sql_->Query("SELECT n FROM item ORDER BY n", {});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ((*rows)[i].Int(0), values[i]);
  }
}

TEST_P(SqlConnectionTest, Utf8TextRoundTripsAndEmptyIsNotNull) {
  const std::string names[] = {"", "Tõnu Õunapuu", "Jüri Škoda — 🧒",
                               std::string(100000, 'a')};
  for (int64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(sql_->Exec(kInsert, {i, nullptr, names[i], nullptr}).ok());
  }
  for (int64_t i = 0; i < 4; ++i) {
    SqlRow row = Row(i);
    EXPECT_FALSE(row.IsNull(2)) << i;
    EXPECT_EQ(row.Text(2), names[i]) << i;
  }
  EXPECT_EQ(QueryInt(*sql_, "SELECT id FROM item WHERE label = ?",
                     {std::string("Tõnu Õunapuu")}),
            1);
}

TEST_P(SqlConnectionTest, BlobKeepsAllByteValues) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  // Descending too, so a NUL-terminated or sign-extended copy shows.
  std::string reversed(every_byte.rbegin(), every_byte.rend());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, nullptr, SqlBlob{every_byte}})
          .ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{2}, nullptr, nullptr, SqlBlob{reversed}})
          .ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{3}, nullptr, nullptr, SqlBlob{""}}).ok());
  EXPECT_EQ(Row(1).Bytes(3), every_byte);
  EXPECT_EQ(Row(2).Bytes(3), reversed);
  SqlRow empty = Row(3);
  EXPECT_FALSE(empty.IsNull(3)) << "an empty BLOB is not NULL";
  EXPECT_EQ(empty.Bytes(3), "");
  // A BLOB parameter compares byte for byte.
  EXPECT_EQ(QueryInt(*sql_, "SELECT id FROM item WHERE data = ?",
                     {SqlBlob{every_byte}}),
            1);
}

TEST_P(SqlConnectionTest, ExecReturnsChangedRows) {
  for (int64_t i = 0; i < 5; ++i) {
    auto changed = sql_->Exec(kInsert, {i, i % 2, nullptr, nullptr});
    ASSERT_TRUE(changed.ok());
    EXPECT_EQ(*changed, 1);
  }
  auto changed = sql_->Exec("UPDATE item SET label = ? WHERE n = ?",
                            {std::string("odd"), int64_t{1}});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 2);
  changed = sql_->Exec("DELETE FROM item WHERE id > ?", {int64_t{100}});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 0);
}

TEST_P(SqlConnectionTest, ParameterCountMismatchIsAnErrorNamingTheStatement) {
  absl::Status too_few = sql_->Exec(kInsert, {int64_t{1}, int64_t{2}}).status();
  EXPECT_TRUE(HasError(too_few, absl::StatusCode::kInternal, "STORE_ERROR"));
  EXPECT_NE(too_few.message().find("INSERT INTO item"), absl::string_view::npos)
      << too_few;
  absl::Status too_many =
      sql_->Query("SELECT id FROM item WHERE id = ?", {int64_t{1}, int64_t{2}})
          .status();
  EXPECT_TRUE(HasError(too_many, absl::StatusCode::kInternal, "STORE_ERROR"));
  EXPECT_NE(too_many.message().find("SELECT id FROM item"),
            absl::string_view::npos)
      << too_many;
  EXPECT_EQ(Count(), 0);
  // The statement is still usable with the right parameters.
  EXPECT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, nullptr, nullptr}).ok());
}

TEST_P(SqlConnectionTest, UniqueViolationIsAlreadyExistsWithStoreConflict) {
  ASSERT_TRUE(
      sql_->Exec("CREATE UNIQUE INDEX item_label ON item (label)").ok());
  ASSERT_TRUE(sql_->Exec(kInsert, {int64_t{1}, int64_t{10},
                                   std::string("first"), nullptr})
                  .ok());
  // Primary key.
  absl::Status duplicate_key =
      sql_->Exec(kInsert, {int64_t{1}, int64_t{20}, nullptr, nullptr}).status();
  EXPECT_TRUE(HasError(duplicate_key, absl::StatusCode::kAlreadyExists,
                       "STORE_CONFLICT"));
  // Unique index.
  absl::Status duplicate_label =
      sql_->Exec(kInsert,
                 {int64_t{2}, int64_t{20}, std::string("first"), nullptr})
          .status();
  EXPECT_TRUE(HasError(duplicate_label, absl::StatusCode::kAlreadyExists,
                       "STORE_CONFLICT"));
  EXPECT_EQ(Count(), 1);
  EXPECT_EQ(Row(1).Int(1), 10);
}

TEST_P(SqlConnectionTest, OtherConstraintIsFailedPrecondition) {
  absl::Status status =
      sql_->Exec("INSERT INTO item (id, required) VALUES (?, ?)",
                 {int64_t{1}, nullptr})
          .status();
  EXPECT_TRUE(HasError(status, absl::StatusCode::kFailedPrecondition,
                       "STORE_CONSTRAINT"));
  EXPECT_EQ(Count(), 0);
}

TEST_P(SqlConnectionTest, ErrorsNameTheStatementButNeverItsParameters) {
  absl::Status missing_table =
      sql_->Exec("INSERT INTO no_such_table (id) VALUES (?)", {int64_t{1}})
          .status();
  EXPECT_FALSE(missing_table.ok());
  EXPECT_NE(missing_table.message().find("INSERT INTO no_such_table"),
            absl::string_view::npos)
      << missing_table;

  absl::Status syntax = sql_->Query("SELEKT id FROM item", {}).status();
  EXPECT_TRUE(HasError(syntax, absl::StatusCode::kInternal, "STORE_ERROR"));
  EXPECT_NE(syntax.message().find("SELEKT id FROM item"),
            absl::string_view::npos)
      << syntax;

  // Values may be personal data: an error must not echo them.
  const std::string personal_code = "50307150000";
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, personal_code, nullptr}).ok());
  ASSERT_TRUE(
      sql_->Exec("CREATE UNIQUE INDEX item_label ON item (label)").ok());
  absl::Status conflict =
      sql_->Exec(kInsert, {int64_t{2}, nullptr, personal_code, nullptr})
          .status();
  ASSERT_FALSE(conflict.ok());
  EXPECT_NE(conflict.message().find("INSERT INTO item"),
            absl::string_view::npos)
      << conflict;
  EXPECT_EQ(conflict.message().find(personal_code), absl::string_view::npos)
      << conflict;
}

TEST_P(SqlConnectionTest, SeveralStatementsInOneExecAreRefused) {
  absl::Status status =
      sql_->Exec(
              "INSERT INTO item (id) VALUES (1); INSERT INTO item (id) "
              "VALUES (2)")
          .status();
  EXPECT_TRUE(HasError(status, absl::StatusCode::kInternal, "STORE_ERROR"))
      << "the second statement would be dropped silently";
  EXPECT_EQ(Count(), 0);
  // A trailing ';' is still one statement.
  EXPECT_TRUE(sql_->Exec("INSERT INTO item (id) VALUES (3);").ok());
  EXPECT_EQ(Count(), 1);
}

TEST_P(SqlConnectionTest, ExecScriptRunsEveryStatementAndMapsErrors) {
  ASSERT_TRUE(sql_->ExecScript("CREATE TABLE a (id BIGINT PRIMARY KEY);"
                               "INSERT INTO a (id) VALUES (1);"
                               "INSERT INTO a (id) VALUES (2);")
                  .ok());
  EXPECT_EQ(QueryInt(*sql_, "SELECT COUNT(*) FROM a"), 2);
  absl::Status duplicate = sql_->ExecScript(
      "INSERT INTO a (id) VALUES (3); "
      "INSERT INTO a (id) VALUES (1);");
  EXPECT_TRUE(
      HasError(duplicate, absl::StatusCode::kAlreadyExists, "STORE_CONFLICT"));
}

TEST_P(SqlConnectionTest, CommitIsVisibleToOthersAndRollbackIsNot) {
  auto other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(sql_->BeginWrite().ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, nullptr, nullptr}).ok());
  EXPECT_EQ(Count(), 1) << "a transaction sees its own writes";
  EXPECT_EQ(QueryInt(*other, "SELECT COUNT(*) FROM item"), 0)
      << "uncommitted data must be invisible";
  ASSERT_TRUE(sql_->Rollback().ok());
  EXPECT_EQ(QueryInt(*other, "SELECT COUNT(*) FROM item"), 0);

  ASSERT_TRUE(sql_->BeginWrite().ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{2}, nullptr, nullptr, nullptr}).ok());
  ASSERT_TRUE(sql_->Commit().ok());
  EXPECT_EQ(QueryInt(*other, "SELECT COUNT(*) FROM item"), 1);
}

TEST_P(SqlConnectionTest, SavepointRollbackKeepsEarlierWork) {
  ASSERT_TRUE(sql_->BeginWrite().ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, nullptr, nullptr}).ok());
  ASSERT_TRUE(sql_->Savepoint("request").ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{2}, nullptr, nullptr, nullptr}).ok());
  // A failed statement inside the savepoint (this aborts the whole
  // transaction on PostgreSQL until the savepoint is rolled back).
  EXPECT_FALSE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, nullptr, nullptr}).ok());
  ASSERT_TRUE(sql_->RollbackToSavepoint("request").ok());
  ASSERT_TRUE(sql_->ReleaseSavepoint("request").ok());
  // The savepoint name is reusable, and a released savepoint keeps its work.
  ASSERT_TRUE(sql_->Savepoint("request").ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{3}, nullptr, nullptr, nullptr}).ok());
  ASSERT_TRUE(sql_->ReleaseSavepoint("request").ok());
  ASSERT_TRUE(sql_->Commit().ok());

  auto rows = sql_->Query("SELECT id FROM item ORDER BY id", {});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].Int(0), 1);
  EXPECT_EQ((*rows)[1].Int(0), 3);
}

TEST_P(SqlConnectionTest, RollbackUndoesReleasedSavepoints) {
  ASSERT_TRUE(sql_->BeginWrite().ok());
  ASSERT_TRUE(sql_->Savepoint("request").ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, nullptr, nullptr, nullptr}).ok());
  ASSERT_TRUE(sql_->ReleaseSavepoint("request").ok());
  ASSERT_TRUE(sql_->Rollback().ok());
  EXPECT_EQ(Count(), 0);
}

TEST_P(SqlConnectionTest, ReadTransactionIsASnapshot) {
  auto writer = Connect();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(
      writer->Exec(kInsert, {int64_t{1}, nullptr, nullptr, nullptr}).ok());

  ASSERT_TRUE(sql_->BeginRead().ok());
  EXPECT_EQ(Count(), 1);
  // The writer commits while the read transaction is open.
  ASSERT_TRUE(writer->BeginWrite().ok());
  ASSERT_TRUE(
      writer->Exec(kInsert, {int64_t{2}, nullptr, nullptr, nullptr}).ok());
  ASSERT_TRUE(writer->Exec("DELETE FROM item WHERE id = ?", {int64_t{1}}).ok());
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ(QueryInt(*sql_, "SELECT COUNT(*) FROM item WHERE id = 1"), 1)
      << "a read transaction must not see later commits";
  EXPECT_EQ(Count(), 1);
  ASSERT_TRUE(sql_->Commit().ok());

  EXPECT_EQ(QueryInt(*sql_, "SELECT COUNT(*) FROM item WHERE id = 2"), 1);
  EXPECT_EQ(QueryInt(*sql_, "SELECT COUNT(*) FROM item WHERE id = 1"), 0);
}

TEST_P(SqlConnectionTest, SameStatementRunsManyTimesWithFreshParameters) {
  constexpr int64_t kRows = 2000;
  ASSERT_TRUE(sql_->BeginWrite().ok());
  for (int64_t i = 0; i < kRows; ++i) {
    // Every other row leaves label NULL: a binding kept from the previous
    // run would show up as a stale label.
    SqlValue label =
        i % 2 == 0 ? SqlValue(absl::StrCat("row", i)) : SqlValue(nullptr);
    ASSERT_TRUE(sql_->Exec(kInsert, {i, i * 3, label, nullptr}).ok()) << i;
  }
  ASSERT_TRUE(sql_->Commit().ok());
  for (int64_t i = 0; i < kRows; i += 7) {
    SqlRow row = Row(i);
    EXPECT_EQ(row.Int(1), i * 3);
    EXPECT_EQ(row.IsNull(2), i % 2 != 0) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(row.Text(2), absl::StrCat("row", i));
    }
  }
  // A statement that failed is reusable (the cached statement was reset).
  EXPECT_FALSE(
      sql_->Exec(kInsert, {int64_t{0}, nullptr, nullptr, nullptr}).ok());
  EXPECT_TRUE(sql_->Exec(kInsert, {kRows, nullptr, nullptr, nullptr}).ok());
  // A query abandoned half-way does not exist: Query reads every row, so the
  // same query runs again from the start.
  auto first = sql_->Query("SELECT id FROM item WHERE id < ? ORDER BY id",
                           {int64_t{10}});
  auto second =
      sql_->Query("SELECT id FROM item WHERE id < ? ORDER BY id", {int64_t{5}});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size(), 10u);
  EXPECT_EQ(second->size(), 5u);
  EXPECT_EQ(Count(), kRows + 1);
}

TEST_P(SqlConnectionTest, SchemaChangeDoesNotBreakCachedStatements) {
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{1}, int64_t{5}, nullptr, nullptr}).ok());
  EXPECT_EQ(QueryInt(*sql_, "SELECT COUNT(*) FROM item"), 1);
  ASSERT_TRUE(sql_->Exec("ALTER TABLE item ADD COLUMN extra BIGINT").ok());
  ASSERT_TRUE(
      sql_->Exec(kInsert, {int64_t{2}, int64_t{6}, nullptr, nullptr}).ok());
  EXPECT_EQ(QueryInt(*sql_, "SELECT COUNT(*) FROM item"), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, SqlConnectionTest,
                         ::testing::ValuesIn(testing::AllSqlBackends()),
                         testing::SqlBackendName);

}  // namespace
}  // namespace sild
