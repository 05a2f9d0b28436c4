// The SQL seam on PostgreSQL (libpq), for the production store that several
// gateway replicas share.
//
//   SILD_ASSIGN_OR_RETURN(auto sql, PostgresConnection::Open(dsn));
//   SILD_RETURN_IF_ERROR(sql->Exec("INSERT INTO t (id) VALUES (?)", {id}));
//
// The repositories' portable SQL is translated here: `?` placeholders become
// `$1..$n` (outside quoted literals); in schema statements (CREATE, ALTER)
// BLOB becomes BYTEA, INTEGER becomes BIGINT (values are 64-bit everywhere),
// and "INTEGER PRIMARY KEY AUTOINCREMENT" becomes an identity column.
// Parameters travel typed (BIGINT, BYTEA in binary) or as text for the
// server to type from context; results come back as text and are read into
// int64 (integer types), bytes (BYTEA) or text.
//
// Transactions: BeginWrite is READ COMMITTED (the store serialises its own
// writes; replicas coordinate with row locks), BeginRead is a REPEATABLE
// READ, READ ONLY snapshot. Errors follow the seam's contract by SQLSTATE:
// unique violation ALREADY_EXISTS (STORE_CONFLICT), other integrity
// violations FAILED_PRECONDITION (STORE_CONSTRAINT), serialization failure,
// deadlock and lock timeouts UNAVAILABLE (STORE_BUSY), a lost connection
// UNAVAILABLE (STORE_UNAVAILABLE), anything else INTERNAL (STORE_ERROR).
// Messages name the statement's first words and the server's primary
// message, never parameter values (data exceptions, which may quote a
// value, are reported by SQLSTATE alone).
//
// TLS to the database is libpq's own: put sslmode=verify-full, sslrootcert,
// sslcert and sslkey in the DSN (docs/store.md). Not thread-safe: one thread
// at a time, like every SqlConnection.
#ifndef SILD_GATEWAY_STORE_POSTGRES_CONNECTION_H_
#define SILD_GATEWAY_STORE_POSTGRES_CONNECTION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/store/sql.h"

struct pg_conn;
struct pg_result;

namespace sild {

class PostgresConnection final : public SqlConnection {
 public:
  // `dsn` is a libpq connection string or URI. Errors never echo it (it may
  // hold a password).
  static absl::StatusOr<std::unique_ptr<PostgresConnection>> Open(
      const std::string& dsn);
  ~PostgresConnection() override;

  absl::StatusOr<int64_t> Exec(absl::string_view sql,
                               const std::vector<SqlValue>& params) override;
  using SqlConnection::Exec;
  absl::StatusOr<std::vector<SqlRow>> Query(
      absl::string_view sql, const std::vector<SqlValue>& params) override;
  absl::Status ExecScript(absl::string_view script) override;
  absl::Status BeginWrite() override;
  absl::Status BeginRead() override;
  absl::Status Commit() override;
  absl::Status Rollback() override;
  absl::Status Savepoint(absl::string_view name) override;
  absl::Status RollbackToSavepoint(absl::string_view name) override;
  absl::Status ReleaseSavepoint(absl::string_view name) override;
  absl::string_view backend() const override { return "postgres"; }

  // The portable SQL as sent to PostgreSQL (exposed for tests).
  static std::string Translate(absl::string_view sql, int* placeholders);

 private:
  explicit PostgresConnection(pg_conn* conn) : conn_(conn) {}
  // Runs one statement; the result is owned by the caller.
  absl::StatusOr<std::unique_ptr<pg_result, void (*)(pg_result*)>> Run(
      absl::string_view sql, const std::vector<SqlValue>& params);

  pg_conn* conn_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_POSTGRES_CONNECTION_H_
