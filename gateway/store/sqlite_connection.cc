#include "gateway/store/sqlite_connection.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"

namespace sild {
namespace {

// The first words of a statement, for error messages (never parameters).
std::string StatementHead(absl::string_view sql) {
  size_t start = sql.find_first_not_of(" \n\t");
  if (start == absl::string_view::npos) return "";
  absl::string_view head = sql.substr(start, 48);
  size_t newline = head.find('\n');
  if (newline != absl::string_view::npos) head = head.substr(0, newline);
  return std::string(head);
}

// Maps an (extended) SQLite result code to the seam's error contract.
absl::Status SqliteError(int code, absl::string_view message) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return MakeError(absl::StatusCode::kUnavailable, "STORE_BUSY", "",
                       message);
    case SQLITE_CONSTRAINT:
      if (code == SQLITE_CONSTRAINT_UNIQUE ||
          code == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return MakeError(absl::StatusCode::kAlreadyExists, "STORE_CONFLICT", "",
                         message);
      }
      return MakeError(absl::StatusCode::kFailedPrecondition,
                       "STORE_CONSTRAINT", "", message);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return MakeError(absl::StatusCode::kUnavailable, "STORE_UNAVAILABLE", "",
                       message);
    default:
      return MakeError(absl::StatusCode::kInternal, "STORE_ERROR", "", message);
  }
}

absl::Status FlushError(absl::string_view what, const std::string& path) {
  return MakeError(absl::StatusCode::kUnavailable, "STORE_UNAVAILABLE", "",
                   absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

int SyncFd(int fd) {
  int rc;
  do {
    rc = ::fdatasync(fd);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// Flushes the WAL file of one database through a descriptor of its own.
// fdatasync flushes the file's pages whichever descriptor wrote them. The
// WAL keeps its inode while the writer's connection is open (a restart
// after a checkpoint rewrites it in place); should it ever be replaced, the
// new file is opened and its directory flushed too, so the new name is
// durable before anything written there is acknowledged.
class WalFlusher {
 public:
  explicit WalFlusher(std::string path) : path_(std::move(path)) {}
  ~WalFlusher() {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Flush() {
    absl::MutexLock lock(&mu_);
    struct stat named;
    if (::stat(path_.c_str(), &named) != 0) {
      return FlushError("cannot find the write-ahead log", path_);
    }
    if (fd_ < 0 || named.st_ino != inode_ || named.st_dev != device_) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return FlushError("cannot open the write-ahead log", path_);
      struct stat opened;
      if (::fstat(fd_, &opened) != 0) {
        return FlushError("cannot stat the write-ahead log", path_);
      }
      inode_ = opened.st_ino;
      device_ = opened.st_dev;
      std::string dir = path_.substr(0, path_.find_last_of('/') + 1);
      int dir_fd = ::open(dir.empty() ? "." : dir.c_str(),
                          O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir_fd < 0 || SyncFd(dir_fd) != 0) {
        absl::Status error = FlushError("cannot flush the folder of", path_);
        if (dir_fd >= 0) ::close(dir_fd);
        return error;
      }
      ::close(dir_fd);
    }
    if (SyncFd(fd_) != 0) return FlushError("cannot flush", path_);
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  ino_t inode_ ABSL_GUARDED_BY(mu_) = 0;
  dev_t device_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const std::string& path, const Options& options) {
  sqlite3* db = nullptr;
  int flags = options.read_only ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return MakeError(absl::StatusCode::kUnavailable, "STORE_UNAVAILABLE",
                     "store.sqlite.path",
                     absl::StrCat("cannot open ", path, ": ", message));
  }
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  // Pages are read through a memory map instead of a pread copy each, and
  // each connection keeps up to 64 MiB of pages: the store's indexes stay
  // hot under load. Statement journals (the undo log of each request's
  // savepoint inside a group commit) stay in memory: spilled to a
  // temporary file past 64 KiB, they cost a write syscall per page. All
  // three are caches or undo state; durability is unchanged.
  SILD_RETURN_IF_ERROR(connection->ExecScript(
      "PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536;"
      " PRAGMA temp_store=MEMORY;"));
  if (!options.read_only) {
    SILD_ASSIGN_OR_RETURN(auto rows,
                          connection->EnableWal(options.busy_timeout_ms));
    // Checkpoints every 8000 pages (32 MiB of WAL) instead of 1000: index
    // pages rewritten by many commits are copied back once, not each time.
    SILD_RETURN_IF_ERROR(connection->ExecScript(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        " PRAGMA wal_autocheckpoint=8000;"));
    // journal_mode returns the mode in force; verify WAL actually took (it
    // does not on some file systems).
    if (rows.empty() || (rows[0].Text(0) != "wal" && path != ":memory:")) {
      return MakeError(absl::StatusCode::kFailedPrecondition,
                       "STORE_UNAVAILABLE", "store.sqlite.path",
                       absl::StrCat(path, ": WAL journal mode not available"));
    }
  } else {
    SILD_RETURN_IF_ERROR(connection->ExecScript("PRAGMA foreign_keys=ON;"));
  }
  return connection;
}

absl::StatusOr<std::vector<SqlRow>> SqliteConnection::EnableWal(
    int busy_timeout_ms) {
  // While another process creates the same file or switches it to WAL,
  // SQLite answers SQLITE_BUSY at once, without the busy handler: two
  // gateways starting together would fail. Retry within the busy timeout.
  absl::Time deadline = absl::Now() + absl::Milliseconds(busy_timeout_ms);
  absl::Duration pause = absl::Milliseconds(1);
  while (true) {
    auto rows = Query("PRAGMA journal_mode=WAL", {});
    if (rows.ok() || ErrorReason(rows.status()) != "STORE_BUSY" ||
        absl::Now() >= deadline) {
      return rows;
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(50));
  }
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status SqliteConnection::Error(int code, absl::string_view sql) const {
  return SqliteError(
      code, absl::StrCat(StatementHead(sql), ": ", sqlite3_errmsg(db_)));
}

absl::StatusOr<sqlite3_stmt*> SqliteConnection::Prepare(absl::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return it->second;
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return Error(rc, sql);
  // SQLite compiles only the first statement; running it alone would drop
  // the rest silently (PostgreSQL's extended protocol refuses them too).
  absl::string_view rest(tail,
                         static_cast<size_t>(sql.data() + sql.size() - tail));
  if (stmt == nullptr ||
      rest.find_first_not_of(" \t\r\n;") != absl::string_view::npos) {
    sqlite3_finalize(stmt);
    return MakeError(absl::StatusCode::kInternal, "STORE_ERROR", "",
                     absl::StrCat(StatementHead(sql),
                                  ": expected exactly one statement (use "
                                  "ExecScript for several)"));
  }
  statements_.emplace(std::string(sql), stmt);
  return stmt;
}

absl::Status SqliteConnection::Bind(sqlite3_stmt* stmt,
                                    const std::vector<SqlValue>& params) {
  if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt)) {
    return MakeError(
        absl::StatusCode::kInternal, "STORE_ERROR", "",
        absl::StrCat(StatementHead(sqlite3_sql(stmt)), ": statement expects ",
                     sqlite3_bind_parameter_count(stmt), " parameters, got ",
                     params.size()));
  }
  // SQLITE_STATIC: no copy of each text and blob (payloads are kilobytes).
  // `params` outlives every step: Exec and Query step the statement to the
  // end and reset it before they return, and Prepare clears the bindings
  // before the statement is used again.
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    int rc = SQLITE_OK;
    const SqlValue& value = params[i];
    if (std::holds_alternative<std::nullptr_t>(value)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_STATIC,
                               SQLITE_UTF8);
    } else {
      const auto& b = std::get<SqlBlob>(value);
      rc = sqlite3_bind_blob64(stmt, index, b.bytes.data(), b.bytes.size(),
                               SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) return Error(rc, sqlite3_sql(stmt));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteConnection::Exec(
    absl::string_view sql, const std::vector<SqlValue>& params) {
  SILD_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
  SILD_RETURN_IF_ERROR(Bind(stmt, params));
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return Error(rc, sql);
  return static_cast<int64_t>(sqlite3_changes64(db_));
}

absl::StatusOr<std::vector<SqlRow>> SqliteConnection::Query(
    absl::string_view sql, const std::vector<SqlValue>& params) {
  SILD_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
  SILD_RETURN_IF_ERROR(Bind(stmt, params));
  std::vector<SqlRow> rows;
  int columns = sqlite3_column_count(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::vector<SqlValue> values;
    values.reserve(columns);
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          values.emplace_back(nullptr);
          break;
        case SQLITE_INTEGER:
          values.emplace_back(
              static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        case SQLITE_BLOB: {
          const void* data = sqlite3_column_blob(stmt, c);
          int size = sqlite3_column_bytes(stmt, c);
          // A zero-length BLOB reads back as a null pointer.
          values.emplace_back(SqlBlob{
              data == nullptr ? std::string()
                              : std::string(static_cast<const char*>(data),
                                            static_cast<size_t>(size))});
          break;
        }
        default: {
          const unsigned char* text = sqlite3_column_text(stmt, c);
          int size = sqlite3_column_bytes(stmt, c);
          values.emplace_back(std::string(reinterpret_cast<const char*>(text),
                                          static_cast<size_t>(size)));
        }
      }
    }
    rows.emplace_back(std::move(values));
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return Error(rc, sql);
  return rows;
}

absl::Status SqliteConnection::ExecScript(absl::string_view script) {
  std::string text(script);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    // Same mapping as Exec: a busy script is retryable, a duplicate is a
    // conflict; not everything is INTERNAL.
    return SqliteError(rc, absl::StrCat(StatementHead(script), ": ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<SqlConnection::CommitSync> SqliteConnection::DeferCommitSync() {
  const char* db_path = sqlite3_db_filename(db_, "main");
  if (db_path == nullptr || db_path[0] == '\0') {
    return MakeError(absl::StatusCode::kFailedPrecondition, "STORE_UNAVAILABLE",
                     "store.sqlite.path",
                     "an in-memory database has no write-ahead log to flush");
  }
  SILD_ASSIGN_OR_RETURN(auto mode, Query("PRAGMA journal_mode", {}));
  if (mode.empty() || mode[0].Text(0) != "wal") {
    return MakeError(absl::StatusCode::kFailedPrecondition, "STORE_UNAVAILABLE",
                     "store.sqlite.path",
                     "deferred commit flushes need WAL journal mode");
  }
  auto flusher = std::make_shared<WalFlusher>(sqlite3_filename_wal(db_path));
  // The WAL exists from the first transaction on; flushing once here also
  // makes its directory entry durable before any commit relies on it.
  SILD_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE").status());
  SILD_RETURN_IF_ERROR(Exec("COMMIT").status());
  SILD_RETURN_IF_ERROR(flusher->Flush());
  SILD_RETURN_IF_ERROR(ExecScript("PRAGMA synchronous=NORMAL;"));
  return CommitSync([flusher] { return flusher->Flush(); });
}

absl::StatusOr<SqliteConnection::WalCheckpoint>
SqliteConnection::CheckpointWal() {
  WalCheckpoint result;
  int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE,
                                     &result.wal_pages, &result.copied_pages);
  if (rc != SQLITE_OK) return Error(rc, "PRAGMA wal_checkpoint(PASSIVE)");
  return result;
}

void SqliteConnection::ObserveWal(std::function<void(int)> observer,
                                  int fallback_pages) {
  wal_observer_ = std::move(observer);
  wal_fallback_pages_ = fallback_pages;
  // Replaces the hook behind wal_autocheckpoint.
  sqlite3_wal_hook(db_, &SqliteConnection::OnWalCommit, this);
}

int SqliteConnection::OnWalCommit(void* self, sqlite3* db, const char* schema,
                                  int pages) {
  auto* connection = static_cast<SqliteConnection*>(self);
  if (connection->wal_observer_) connection->wal_observer_(pages);
  if (pages >= connection->wal_fallback_pages_) {
    // The checkpointer fell behind: copy here rather than let the WAL grow.
    // A failure leaves the commit intact; the next commit tries again.
    (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE,
                                    nullptr, nullptr);
  }
  return SQLITE_OK;
}

absl::Status SqliteConnection::BeginWrite() {
  return Exec("BEGIN IMMEDIATE").status();
}
absl::Status SqliteConnection::BeginRead() {
  return Exec("BEGIN DEFERRED").status();
}
absl::Status SqliteConnection::Commit() { return Exec("COMMIT").status(); }
absl::Status SqliteConnection::Rollback() { return Exec("ROLLBACK").status(); }
absl::Status SqliteConnection::Savepoint(absl::string_view name) {
  return Exec(absl::StrCat("SAVEPOINT ", name)).status();
}
absl::Status SqliteConnection::RollbackToSavepoint(absl::string_view name) {
  return Exec(absl::StrCat("ROLLBACK TO SAVEPOINT ", name)).status();
}
absl::Status SqliteConnection::ReleaseSavepoint(absl::string_view name) {
  return Exec(absl::StrCat("RELEASE SAVEPOINT ", name)).status();
}

}  // namespace sild
