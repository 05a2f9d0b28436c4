#include "gateway/store/store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/log.h"
#include "gateway/base/status_macros.h"
#include "gateway/store/postgres_connection.h"
#include "gateway/store/sqlite_checkpointer.h"
#include "gateway/store/sqlite_connection.h"

namespace sild {
namespace {

SqliteConnection::Options SqliteOptions(const config::v1::StoreConfig& config) {
  SqliteConnection::Options options;
  options.busy_timeout_ms = config.sqlite().busy_timeout_ms() > 0
                                ? config.sqlite().busy_timeout_ms()
                                : 5000;
  options.read_only = false;
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(
    const config::v1::StoreConfig& config, const Clock* clock,
    std::vector<Migration> migrations) {
  std::unique_ptr<Store> store(new Store());
  store->config_ = config;
  store->clock_ = clock;
  if (config.has_postgres()) {
    store->backend_ = "postgres";
    if (!config.postgres().dsn_file().empty()) {
      auto dsn = ReadFileToString(config.postgres().dsn_file());
      if (!dsn.ok()) {
        return MakeError(
            absl::StatusCode::kFailedPrecondition, "STORE_UNAVAILABLE",
            "store.postgres.dsn_file",
            absl::StrCat("cannot read ", config.postgres().dsn_file(), ": ",
                         dsn.status().message()));
      }
      store->dsn_ = std::string(absl::StripAsciiWhitespace(*dsn));
    } else {
      store->dsn_ = config.postgres().dsn();
    }
    SILD_ASSIGN_OR_RETURN(
        store->cipher_, PayloadCipher::FromKeyFile(config.payload_key_file()));
    SILD_ASSIGN_OR_RETURN(store->write_connection_,
                          store->NewConnection(/*read_only=*/false));
    SILD_RETURN_IF_ERROR(
        ApplyMigrations(*store->write_connection_, std::move(migrations)));
    store->writer_ =
        std::make_unique<GroupCommitter>(store->write_connection_.get(), clock);
    // The DSN may hold a password: only that the store is open is logged.
    LogInfo("store opened", {{"backend", store->backend_}});
    return store;
  }
  store->backend_ = "sqlite";
  const std::string& path = config.sqlite().path();
  if (path.empty() || path == ":memory:") {
    // Every SQLite connection would get its own private database: readers
    // would never see what the writer committed.
    return MakeError(absl::StatusCode::kFailedPrecondition, "STORE_UNAVAILABLE",
                     "store.sqlite.path",
                     absl::StrCat("\"", path,
                                  "\" is not a database file; the store needs "
                                  "a file its writer and readers share"));
  }
  SILD_ASSIGN_OR_RETURN(store->cipher_,
                        PayloadCipher::FromKeyFile(config.payload_key_file()));
  SILD_ASSIGN_OR_RETURN(store->write_connection_,
                        store->NewConnection(/*read_only=*/false));
  SILD_RETURN_IF_ERROR(
      ApplyMigrations(*store->write_connection_, std::move(migrations)));
  GroupCommitter::Options writer_options;
  // The writer commits without waiting for the disk; the completion thread
  // flushes the log before any call is answered (see GroupCommitter).
  SILD_ASSIGN_OR_RETURN(writer_options.commit_sync,
                        store->write_connection_->DeferCommitSync());
  store->writer_ = std::make_unique<GroupCommitter>(
      store->write_connection_.get(), clock, writer_options);
  // Checkpoints run on their own connection and thread; the writer's
  // connection only reports the WAL's size (and checkpoints by itself only
  // if the checkpointer falls far behind).
  SILD_ASSIGN_OR_RETURN(auto checkpoint_connection,
                        SqliteConnection::Open(path, SqliteOptions(config)));
  store->checkpointer_ = std::make_unique<SqliteCheckpointer>(
      std::move(checkpoint_connection), SqliteCheckpointer::Options());
  SqliteCheckpointer* checkpointer = store->checkpointer_.get();
  static_cast<SqliteConnection*>(store->write_connection_.get())
      ->ObserveWal([checkpointer](int pages) { checkpointer->WalGrew(pages); },
                   checkpointer->fallback_pages());
  LogInfo("store opened",
          {{"backend", store->backend_}, {"path", config.sqlite().path()}});
  return store;
}

Store::~Store() { Close(); }

absl::StatusOr<std::unique_ptr<SqlConnection>> Store::NewConnection(
    bool read_only) {
  if (backend_ == "postgres") {
    // Read connections only run BeginRead transactions (READ ONLY).
    SILD_ASSIGN_OR_RETURN(auto connection, PostgresConnection::Open(dsn_));
    return std::unique_ptr<SqlConnection>(std::move(connection));
  }
  SqliteConnection::Options options = SqliteOptions(config_);
  // Readers open read-write so that WAL recovery can run if needed, but are
  // query_only: a write there would bypass the group commit (and its audit
  // participants) and contend with the writer for the lock.
  SILD_ASSIGN_OR_RETURN(auto connection, SqliteConnection::Open(
                                             config_.sqlite().path(), options));
  if (read_only) {
    SILD_RETURN_IF_ERROR(connection->ExecScript("PRAGMA query_only=ON"));
  }
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

void Store::Start() {
  if (checkpointer_) checkpointer_->Start();
  writer_->Start();
}

void Store::Close() {
  {
    absl::MutexLock lock(&pool_mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (writer_) writer_->Stop();
  // After the writer: its connection reports to the checkpointer until it
  // stops.
  if (checkpointer_) checkpointer_->Stop();
  absl::MutexLock lock(&pool_mu_);
  idle_readers_.clear();
  // The stopped writer stays: writer().Submit after Close fails with
  // STORE_STOPPED instead of dereferencing a destroyed committer. It never
  // touches its connection again.
  write_connection_.reset();
  checkpointer_.reset();
  LogInfo("store closed", {{"backend", backend_}});
}

absl::Status Store::Read(
    const std::function<absl::Status(SqlConnection&)>& fn) {
  std::unique_ptr<SqlConnection> connection;
  {
    absl::MutexLock lock(&pool_mu_);
    if (closed_) {
      return MakeError(absl::StatusCode::kUnavailable, "STORE_STOPPED", "",
                       "the store is closed");
    }
    if (!idle_readers_.empty()) {
      connection = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!connection) {
    SILD_ASSIGN_OR_RETURN(connection, NewConnection(/*read_only=*/true));
  }
  absl::Status status = connection->BeginRead();
  if (status.ok()) {
    status = fn(*connection);
    absl::Status end = connection->Commit();
    if (status.ok()) status = end;
  }
  if (status.ok()) {
    // The snapshot may hold a commit whose log flush is still running:
    // what `fn` read reaches a caller only once that commit is durable.
    status =
        writer_->WaitDurable(writer_->commits_started(), absl::Seconds(10));
  }
  absl::MutexLock lock(&pool_mu_);
  if (!closed_ && idle_readers_.size() < 8) {
    idle_readers_.push_back(std::move(connection));
  }
  return status;
}

}  // namespace sild
