#include "gateway/store/group_commit.h"

#include <algorithm>

#include "absl/synchronization/notification.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/thread_name.h"

namespace sild {

GroupCommitter::GroupCommitter(SqlConnection* sql, const Clock* clock,
                               Options options)
    : sql_(sql), clock_(clock), options_(options) {}

GroupCommitter::~GroupCommitter() { Stop(); }

void GroupCommitter::AddParticipant(TxnParticipant* participant) {
  participants_.push_back(participant);
}

void GroupCommitter::Start() {
  // Under the lock: Submit reads started_ and Stop takes thread_ from other
  // threads. The new thread waits for the lock before it looks at the queue.
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  completer_ = std::thread([this] {
    NameThisThread("sild-commit");
    CompletionLoop();
  });
  thread_ = std::thread([this] {
    NameThisThread("sild-writer");
    Loop();
  });
}

void GroupCommitter::Stop() {
  std::thread writer;
  std::thread completer;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    writer = std::move(thread_);
    completer = std::move(completer_);
  }
  if (writer.joinable()) writer.join();
  // Every callback of the last batches has run when Stop() returns.
  {
    absl::MutexLock lock(&done_mu_);
    writer_finished_ = true;
  }
  if (completer.joinable()) completer.join();
}

void GroupCommitter::Complete(Completed completed) {
  absl::MutexLock lock(&done_mu_);
  completed_.push_back(std::move(completed));
}

void GroupCommitter::CompletionLoop() {
  int64_t highest = 0;  // highest commit number handed over so far
  while (true) {
    std::deque<Completed> ready;
    {
      absl::MutexLock lock(&done_mu_);
      auto has_work = [this]() ABSL_SHARED_LOCKS_REQUIRED(done_mu_) {
        return !completed_.empty() || writer_finished_;
      };
      done_mu_.Await(absl::Condition(&has_work));
      if (completed_.empty()) return;  // the writer finished, all done
      ready.swap(completed_);
    }
    for (const Completed& batch : ready) {
      highest = std::max(highest, batch.commit);
    }
    if (options_.commit_sync) {
      bool behind;
      {
        absl::MutexLock lock(&durable_mu_);
        behind = highest > durable_;
      }
      if (behind) {
        // Every batch in `ready` committed before this flush began.
        absl::Status flushed = options_.commit_sync();
        if (flushed.ok()) {
          absl::MutexLock lock(&durable_mu_);
          durable_ = highest;
        } else {
          LogError("store commit not flushed; its requests fail",
                   {{"detail", std::string(flushed.message())}});
          for (Completed& batch : ready) {
            if (batch.commit == 0) continue;
            for (absl::Status& result : batch.results) {
              if (result.ok()) result = flushed;
            }
          }
        }
      }
    }
    for (Completed& batch : ready) {
      for (size_t i = 0; i < batch.requests.size(); ++i) {
        batch.requests[i].done(batch.results[i]);
      }
    }
  }
}

absl::Status GroupCommitter::WaitDurable(int64_t commit,
                                         absl::Duration timeout) {
  absl::MutexLock lock(&durable_mu_);
  auto durable = [this, commit]() ABSL_SHARED_LOCKS_REQUIRED(durable_mu_) {
    return durable_ >= commit;
  };
  if (durable_mu_.AwaitWithTimeout(absl::Condition(&durable), timeout)) {
    return absl::OkStatus();
  }
  return MakeError(absl::StatusCode::kUnavailable, "STORE_UNAVAILABLE", "",
                   "the store's log was not flushed in time");
}

void GroupCommitter::Submit(WriteFn fn, DoneFn done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && started_) {
      queue_.push_back(Request{std::move(fn), std::move(done)});
      return;
    }
  }
  done(MakeError(absl::StatusCode::kUnavailable, "STORE_STOPPED", "",
                 "the store is shutting down"));
}

absl::Status GroupCommitter::Run(WriteFn fn) {
  absl::Notification committed;
  absl::Status result;
  Submit(std::move(fn), [&](absl::Status status) {
    result = std::move(status);
    committed.Notify();
  });
  committed.WaitForNotification();
  return result;
}

int64_t GroupCommitter::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

int64_t GroupCommitter::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void GroupCommitter::Loop() {
  while (true) {
    std::vector<Request> batch;
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), options_.idle_tick);
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stop = stopping_ && queue_.empty();
      if (!batch.empty()) {
        ++batches_;
        requests_ += static_cast<int64_t>(batch.size());
      }
    }
    if (!batch.empty()) {
      RunBatch(std::move(batch));
    } else {
      absl::Time now = clock_->Now();
      bool wanted = false;
      for (auto* p : participants_) wanted |= p->WantsIdleCommit(now);
      if (wanted) RunBatch({});
    }
    if (stop) return;
  }
}

void GroupCommitter::RunBatch(std::vector<Request> batch) {
  WriteTxn txn(*sql_, clock_->Now());
  std::vector<absl::Status> results(batch.size());
  absl::Status batch_status = sql_->BeginWrite();
  if (batch_status.ok()) {
    for (size_t i = 0; i < batch.size(); ++i) {
      size_t hooks_before = txn.after_commit_.size();
      absl::Status sp = sql_->Savepoint("request");
      if (!sp.ok()) {
        batch_status = sp;
        break;
      }
      for (auto* p : participants_) p->BeginRequest();
      results[i] = batch[i].fn(txn);
      if (results[i].ok()) {
        batch_status = sql_->ReleaseSavepoint("request");
      } else {
        for (auto* p : participants_) p->AbortRequest();
        txn.after_commit_.resize(hooks_before);
        batch_status = sql_->RollbackToSavepoint("request");
        if (batch_status.ok()) {
          batch_status = sql_->ReleaseSavepoint("request");
        }
      }
      if (!batch_status.ok()) break;
    }
  }
  if (batch_status.ok()) {
    for (auto* p : participants_) {
      batch_status = p->BeforeCommit(txn);
      if (!batch_status.ok()) break;
    }
  }
  int64_t commit = 0;
  if (batch_status.ok()) {
    // Numbered before COMMIT makes the batch visible to readers.
    commit = commits_started_.fetch_add(1, std::memory_order_acq_rel) + 1;
    batch_status = sql_->Commit();
  }
  if (!options_.commit_sync && commit > 0) {
    absl::MutexLock lock(&durable_mu_);
    durable_ = commit;
  }
  if (!batch_status.ok()) {
    // Nothing of the batch is durable: every request fails, fail closed.
    LogError("store batch rolled back",
             {{"requests", std::to_string(batch.size())},
              {"detail", std::string(batch_status.message())}});
    (void)sql_->Rollback();
    for (auto* p : participants_) p->AfterRollback();
    results.assign(batch.size(), batch_status);
    Complete({std::move(batch), std::move(results), commit});
    return;
  }
  for (auto* p : participants_) p->AfterCommit();
  // Wake-ups may run before the flush: what they wake reads through
  // Store::Read or the writer, and both wait for durability.
  for (auto& hook : txn.after_commit_) hook.fn();
  // An empty batch (an idle audit checkpoint) still needs its flush.
  if (!batch.empty() || options_.commit_sync) {
    Complete({std::move(batch), std::move(results), commit});
  }
}

}  // namespace sild
