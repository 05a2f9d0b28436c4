// SqlConnection on SQLite: the embedded default store.
//
// Opened in WAL mode with synchronous=FULL (a committed transaction survives
// power loss; the store's writer moves the flush off its thread with
// DeferCommitSync), foreign keys on, and a busy timeout. Prepared statements
// are cached per SQL text. Not thread-safe; open one connection per thread (WAL
// lets readers run beside the single writer).
#ifndef SILD_GATEWAY_STORE_SQLITE_CONNECTION_H_
#define SILD_GATEWAY_STORE_SQLITE_CONNECTION_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gateway/store/sql.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sild {

class SqliteConnection final : public SqlConnection {
 public:
  struct Options {
    int busy_timeout_ms = 5000;
    bool read_only = false;
  };

  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(
      const std::string& path, const Options& options);
  ~SqliteConnection() override;

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
  absl::string_view backend() const override { return "sqlite"; }
  // Switches this (writer) connection to synchronous=NORMAL, so COMMIT
  // appends to the WAL without an fsync, and returns the flush that makes
  // those commits durable: fdatasync of the WAL file on a descriptor of its
  // own. Together they are synchronous=FULL with the flush moved off the
  // writer; a commit is acknowledged only after a flush that began after it.
  absl::StatusOr<CommitSync> DeferCommitSync() override;

  // Prepared statements held in the cache (one per distinct SQL text).
  size_t cached_statement_count() const { return statements_.size(); }

  // One PASSIVE checkpoint (copies what no reader still needs from the WAL
  // into the database file; never waits for the writer or readers).
  struct WalCheckpoint {
    int wal_pages = 0;     // pages in the WAL
    int copied_pages = 0;  // of those, pages now in the database file
  };
  absl::StatusOr<WalCheckpoint> CheckpointWal();

  // Replaces SQLite's automatic checkpoints on this connection: after each
  // commit `observer` learns how many pages the WAL holds (a checkpointer
  // elsewhere does the work), and this connection checkpoints by itself
  // only once the WAL reaches `fallback_pages`.
  void ObserveWal(std::function<void(int pages)> observer, int fallback_pages);

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  static int OnWalCommit(void* self, sqlite3* db, const char* schema,
                         int pages);
  absl::StatusOr<std::vector<SqlRow>> EnableWal(int busy_timeout_ms);
  absl::StatusOr<sqlite3_stmt*> Prepare(absl::string_view sql);
  absl::Status Bind(sqlite3_stmt* stmt, const std::vector<SqlValue>& params);
  absl::Status Error(int code, absl::string_view sql) const;

  sqlite3* db_;
  std::function<void(int)> wal_observer_;
  int wal_fallback_pages_ = 0;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_SQLITE_CONNECTION_H_
