// SqliteCheckpointer: copies the SQLite store's write-ahead log back into
// the database file on a thread of its own.
//
// Left to SQLite, the writer's connection checkpoints itself after the
// commit that fills the WAL past its threshold: the writer thread copies
// thousands of pages and waits for two fsyncs while every call queued
// behind it waits too (a latency spike per checkpoint). Here the writer's
// connection only reports the WAL's size after each commit (WalGrew); the
// checkpointer's own connection runs PASSIVE checkpoints, which never block
// the writer or the readers. Should the checkpointer fall behind, the
// writer's connection still checkpoints by itself at a hard limit, so the
// WAL stays bounded.
//
//   SqliteCheckpointer checkpointer(std::move(connection), {});
//   writer_connection->ObserveWal(
//       [&](int pages) { checkpointer.WalGrew(pages); },
//       checkpointer.fallback_pages());
//   checkpointer.Start();
//   ...
//   checkpointer.Stop();  // before the writer's connection closes
//
// Thread-safe.
#ifndef SILD_GATEWAY_STORE_SQLITE_CHECKPOINTER_H_
#define SILD_GATEWAY_STORE_SQLITE_CHECKPOINTER_H_

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gateway/store/sqlite_connection.h"

namespace sild {

class SqliteCheckpointer {
 public:
  struct Options {
    // A checkpoint starts once the WAL holds this many pages (4 KiB each)
    // that are not yet in the database file.
    int threshold_pages = 8000;
    // The writer's connection checkpoints by itself at this size.
    int fallback_pages = 32000;
  };
  struct Stats {
    int64_t checkpoints = 0;
    int64_t pages_copied = 0;
    int64_t failures = 0;
  };

  // `connection` is used by the checkpointer only (its own thread).
  SqliteCheckpointer(std::unique_ptr<SqliteConnection> connection,
                     Options options);
  ~SqliteCheckpointer();

  void Start();
  // Ends the thread; a checkpoint under way finishes first. Idempotent.
  void Stop();

  // The WAL holds `pages` pages after a commit (called on the writer
  // thread from its connection's WAL hook; never blocks).
  void WalGrew(int pages);
  int fallback_pages() const { return options_.fallback_pages; }

  // Runs one PASSIVE checkpoint now, on the caller's thread.
  absl::Status CheckpointNow();
  Stats stats() const;

 private:
  void Loop();

  std::unique_ptr<SqliteConnection> connection_;
  const Options options_;
  mutable absl::Mutex mu_;
  // WAL pages after the last commit, and how many of them the last
  // checkpoint had copied: the difference is what is still to copy.
  int wal_pages_ ABSL_GUARDED_BY(mu_) = 0;
  int copied_pages_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  absl::Mutex run_mu_;  // one checkpoint at a time on connection_
};

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_SQLITE_CHECKPOINTER_H_
