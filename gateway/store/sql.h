// A small SQL seam: what the store's repositories need from a database
// connection, so that one set of repositories runs on SQLite (embedded
// default) and PostgreSQL (production).
//
// SQL is written once with `?` placeholders; a connection translates them to
// its own syntax. Use portable SQL: INTEGER/BIGINT, TEXT, BLOB (BYTEA on
// PostgreSQL: write the type as BLOB and the connection maps it), no
// backend-specific functions in repository code.
//
// A SqlConnection is not thread-safe: one thread uses it at a time.
// Errors: UNAVAILABLE for busy/locked/connection loss (retryable),
// ALREADY_EXISTS for unique-constraint violations, INTERNAL otherwise; the
// message names the statement's first words.
#ifndef SILD_GATEWAY_STORE_SQL_H_
#define SILD_GATEWAY_STORE_SQL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sild {

// Bytes stored as BLOB (as opposed to TEXT).
struct SqlBlob {
  std::string bytes;
  bool operator==(const SqlBlob&) const = default;
};

using SqlValue = std::variant<std::nullptr_t, int64_t, std::string, SqlBlob>;

class SqlRow {
 public:
  explicit SqlRow(std::vector<SqlValue> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const {
    return std::holds_alternative<std::nullptr_t>(values_[i]);
  }
  // Typed access; a NULL reads as 0 / "".
  int64_t Int(size_t i) const;
  const std::string& Text(size_t i) const;
  // A BLOB's bytes (TEXT is accepted too).
  const std::string& Bytes(size_t i) const;

 private:
  std::vector<SqlValue> values_;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;

  // Runs one statement (several are refused: use ExecScript); returns the
  // number of rows it changed.
  virtual absl::StatusOr<int64_t> Exec(absl::string_view sql,
                                       const std::vector<SqlValue>& params) = 0;
  absl::StatusOr<int64_t> Exec(absl::string_view sql) { return Exec(sql, {}); }

  // Runs one query and returns all rows.
  virtual absl::StatusOr<std::vector<SqlRow>> Query(
      absl::string_view sql, const std::vector<SqlValue>& params) = 0;

  // Runs several statements separated by ';' without parameters (schema).
  virtual absl::Status ExecScript(absl::string_view script) = 0;

  // Transactions. BeginWrite takes the write lock up front (SQLite
  // BEGIN IMMEDIATE) so a transaction never fails half-way on lock upgrade.
  virtual absl::Status BeginWrite() = 0;
  virtual absl::Status BeginRead() = 0;
  virtual absl::Status Commit() = 0;
  virtual absl::Status Rollback() = 0;
  virtual absl::Status Savepoint(absl::string_view name) = 0;
  virtual absl::Status RollbackToSavepoint(absl::string_view name) = 0;
  virtual absl::Status ReleaseSavepoint(absl::string_view name) = 0;

  // "sqlite" or "postgres", for the few places that must differ.
  virtual absl::string_view backend() const = 0;

  // Makes a durable commit two steps: Commit() only writes, and the
  // returned function, callable from any thread, flushes every commit that
  // returned before it was called. The group committer flushes on its
  // completion thread while the writer runs the next batch. Connections
  // whose Commit() is durable by itself return a null function.
  using CommitSync = std::function<absl::Status()>;
  virtual absl::StatusOr<CommitSync> DeferCommitSync() {
    return CommitSync();
  }
};

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_SQL_H_
