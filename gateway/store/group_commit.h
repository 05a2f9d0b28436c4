// GroupCommitter: the store's single writer. Concurrent write requests are
// batched into one transaction (group commit), so durability costs one disk
// flush per batch rather than per request.
//
//   committer.Submit([&](WriteTxn& txn) -> absl::Status {
//                      SILD_RETURN_IF_ERROR(consents.Insert(txn, consent));
//                      return audit_log.Append(txn, record).status();
//                    },
//                    [](absl::Status committed) { /* reply to the client */ });
//
// Each request runs inside a savepoint: a request that fails is rolled back
// alone and its callback gets its error; the others commit. `done` runs only
// once the batch is durable (acknowledged means durable), or with the
// commit's error. With a deferred commit sync (SQLite) the writer commits
// and goes on with the next batch while the completion thread flushes the
// log: one flush covers every batch committed before it began, and a flush
// that fails fails the calls of the batches it was to make durable. Requests
// run on the writer thread, in submission order; they must not block on other
// store calls. `done` runs on a completion thread, batch after batch in commit
// order, while the writer already runs the next batch (finishing the calls of a
// batch costs no writer time): keep it short and never call Run() from it (it
// would wait on itself). AfterCommit hooks still run on the writer thread,
// before the next batch.
//
// Participants (the audit log) keep in-memory state in step with the
// database: they are told when a request or a batch is rolled back, and may
// write in BeforeCommit (audit checkpoints). Thread-safe: Submit and Run may
// be called from any thread.
#ifndef SILD_GATEWAY_STORE_GROUP_COMMIT_H_
#define SILD_GATEWAY_STORE_GROUP_COMMIT_H_

#include <atomic>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/base/clock.h"
#include "gateway/store/sql.h"

namespace sild {

// The transaction a write request runs in.
class WriteTxn {
 public:
  WriteTxn(SqlConnection& sql, absl::Time now) : sql_(sql), now_(now) {}
  SqlConnection& sql() { return sql_; }
  // The batch's time; every record written in one request shares it.
  absl::Time now() const { return now_; }
  // Runs `fn` after the batch committed; dropped if this request or the
  // batch rolls back. Used to wake readers (inbox streams, delivery).
  void AfterCommit(std::function<void()> fn) {
    after_commit_.push_back(Hook{nullptr, std::move(fn)});
  }
  // As AfterCommit, but runs once per batch however many of its requests
  // ask with the same `key` (a wake-up that serves them all).
  void AfterCommitOnce(const void* key, std::function<void()> fn) {
    for (const Hook& hook : after_commit_) {
      if (hook.key == key) return;
    }
    after_commit_.push_back(Hook{key, std::move(fn)});
  }

 private:
  friend class GroupCommitter;
  struct Hook {
    const void* key;
    std::function<void()> fn;
  };
  SqlConnection& sql_;
  absl::Time now_;
  std::vector<Hook> after_commit_;
};

class TxnParticipant {
 public:
  virtual ~TxnParticipant() = default;
  virtual void BeginRequest() {}
  virtual void AbortRequest() {}
  virtual absl::Status BeforeCommit(WriteTxn&) { return absl::OkStatus(); }
  virtual void AfterCommit() {}
  virtual void AfterRollback() {}
  // Asked when the writer is idle; true runs an empty batch so BeforeCommit
  // can write (a time-based audit checkpoint).
  virtual bool WantsIdleCommit(absl::Time) { return false; }
};

class GroupCommitter {
 public:
  struct Options {
    // Most requests in one transaction.
    size_t max_batch = 512;
    // How often an idle writer asks participants for an idle commit.
    absl::Duration idle_tick = absl::Milliseconds(100);
    // Makes commits durable when the connection's COMMIT does not
    // (SqlConnection::DeferCommitSync); null when COMMIT is durable.
    SqlConnection::CommitSync commit_sync;
  };
  using WriteFn = std::function<absl::Status(WriteTxn&)>;
  using DoneFn = std::function<void(absl::Status)>;

  // `sql` must outlive the committer and be used by nobody else.
  GroupCommitter(SqlConnection* sql, const Clock* clock, Options options);
  GroupCommitter(SqlConnection* sql, const Clock* clock)
      : GroupCommitter(sql, clock, Options()) {}
  ~GroupCommitter();

  void AddParticipant(TxnParticipant* participant);  // before Start()
  // Starts the writer thread; does nothing once started or stopped.
  void Start();
  // Commits what is queued, then stops; later submits fail UNAVAILABLE
  // (STORE_STOPPED). Idempotent.
  void Stop();

  void Submit(WriteFn fn, DoneFn done);
  // Submits and waits for the commit.
  absl::Status Run(WriteFn fn);

  // Counters for metrics and benchmarks.
  int64_t batches() const;
  int64_t requests() const;

  // Commits are numbered; a reader whose snapshot may include commit
  // commits_started() waits with WaitDurable until that commit is durable,
  // so nothing leaves the gateway that a crash could still take back.
  int64_t commits_started() const {
    return commits_started_.load(std::memory_order_acquire);
  }
  // UNAVAILABLE (STORE_UNAVAILABLE) when the log is not flushed in time.
  absl::Status WaitDurable(int64_t commit, absl::Duration timeout);

 private:
  struct Request {
    WriteFn fn;
    DoneFn done;
  };
  // A committed (or rolled back) batch whose callbacks are still to run.
  struct Completed {
    std::vector<Request> requests;
    std::vector<absl::Status> results;
    int64_t commit = 0;  // its number; 0 when it did not reach COMMIT
  };
  void Loop();
  void RunBatch(std::vector<Request> batch);
  void Complete(Completed completed);
  void CompletionLoop();

  SqlConnection* sql_;
  const Clock* clock_;
  Options options_;
  std::vector<TxnParticipant*> participants_;
  mutable absl::Mutex mu_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  int64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  // Completion queue: filled by the writer, drained by completer_.
  absl::Mutex done_mu_;
  std::deque<Completed> completed_ ABSL_GUARDED_BY(done_mu_);
  bool writer_finished_ ABSL_GUARDED_BY(done_mu_) = false;
  std::atomic<int64_t> commits_started_{0};
  // Highest commit number that is durable (or rolled back).
  absl::Mutex durable_mu_;
  int64_t durable_ ABSL_GUARDED_BY(durable_mu_) = 0;
  std::thread completer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_GROUP_COMMIT_H_
