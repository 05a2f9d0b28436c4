#include "gateway/store/sqlite_checkpointer.h"

#include <algorithm>

#include "absl/time/time.h"
#include "gateway/base/log.h"
#include "gateway/base/thread_name.h"

namespace sild {
namespace {

constexpr absl::Duration kRetryPause = absl::Milliseconds(20);

}  // namespace

SqliteCheckpointer::SqliteCheckpointer(
    std::unique_ptr<SqliteConnection> connection, Options options)
    : connection_(std::move(connection)), options_(options) {}

SqliteCheckpointer::~SqliteCheckpointer() { Stop(); }

void SqliteCheckpointer::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    NameThisThread("sild-checkpoint");
    Loop();
  });
}

void SqliteCheckpointer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void SqliteCheckpointer::WalGrew(int pages) {
  absl::MutexLock lock(&mu_);
  // A WAL that restarted from its beginning reports fewer pages than the
  // last checkpoint copied: none of the new ones is copied yet.
  if (pages < copied_pages_) copied_pages_ = 0;
  wal_pages_ = pages;
}

absl::Status SqliteCheckpointer::CheckpointNow() {
  absl::MutexLock run(&run_mu_);
  absl::StatusOr<SqliteConnection::WalCheckpoint> done =
      connection_->CheckpointWal();
  absl::MutexLock lock(&mu_);
  if (!done.ok()) {
    ++stats_.failures;
    return done.status();
  }
  ++stats_.checkpoints;
  int before = std::min(copied_pages_, done->copied_pages);
  stats_.pages_copied += done->copied_pages - before;
  copied_pages_ = done->copied_pages;
  return absl::OkStatus();
}

SqliteCheckpointer::Stats SqliteCheckpointer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void SqliteCheckpointer::Loop() {
  int64_t failures_logged = 0;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ ||
               wal_pages_ - copied_pages_ >= options_.threshold_pages;
      };
      mu_.Await(absl::Condition(&due));
      if (stopping_) return;
    }
    absl::Status status = CheckpointNow();
    bool behind;
    {
      absl::MutexLock lock(&mu_);
      behind = wal_pages_ - copied_pages_ >= options_.threshold_pages;
    }
    if (!status.ok()) {
      // Busy (another checkpoint ran) or an I/O error: the writer's own
      // fallback keeps the WAL bounded meanwhile. Logged once per streak.
      if (failures_logged++ == 0) {
        LogWarning("WAL checkpoint failed; retrying",
                   {{"detail", std::string(status.message())}});
      }
    } else {
      failures_logged = 0;
    }
    if (!status.ok() || behind) {
      // Failed, or stopped short at a reader's snapshot: retry after a
      // pause, not in a loop.
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), kRetryPause);
    }
  }
}

}  // namespace sild
