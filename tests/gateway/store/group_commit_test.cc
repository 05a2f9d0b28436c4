// GroupCommitter on a real SQLite file and a real PostgreSQL server:
// batching, per-request savepoints, acknowledgement only after COMMIT (and
// after a SIGKILL), participant callbacks in order, draining on Stop, idle
// commits.
#include "gateway/store/group_commit.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/base/clock.h"
#include "gateway/store/sqlite_connection.h"
#include "gtest/gtest.h"
#include "tests/gateway/store/sql_test_backends.h"
#include "tests/gateway/store/store_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::sild::testing::HasError;
using ::sild::testing::QueryInt;

// Holds the writer thread inside a request until Release(): everything
// submitted meanwhile is queued and lands in the next batch together.
class WriterGate {
 public:
  GroupCommitter::WriteFn Hold() {
    return [this](WriteTxn&) {
      held_.Notify();
      release_.WaitForNotification();
      return absl::OkStatus();
    };
  }
  void WaitUntilHeld() { held_.WaitForNotification(); }
  void Release() { release_.Notify(); }

 private:
  absl::Notification held_;
  absl::Notification release_;
};

// The statuses `done` delivered, by request id.
class Outcomes {
 public:
  GroupCommitter::DoneFn For(int64_t id) {
    return [this, id](absl::Status status) {
      absl::MutexLock lock(&mu_);
      EXPECT_EQ(statuses_.count(id), 0u) << "done ran twice for " << id;
      statuses_[id] = std::move(status);
    };
  }
  bool Has(int64_t id) const {
    absl::MutexLock lock(&mu_);
    return statuses_.count(id) > 0;
  }
  absl::Status Get(int64_t id) const {
    absl::MutexLock lock(&mu_);
    auto it = statuses_.find(id);
    return it == statuses_.end() ? absl::UnknownError("no outcome")
                                 : it->second;
  }
  // Waits for `n` outcomes; false after 30 s.
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() { return statuses_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }

 private:
  mutable absl::Mutex mu_;
  std::map<int64_t, absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
};

// An ordered record of what happened, written from any thread.
class EventLog {
 public:
  void Add(std::string event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  std::vector<std::string> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

class RecordingParticipant : public TxnParticipant {
 public:
  RecordingParticipant(std::string name, EventLog* log)
      : name_(std::move(name)), log_(log) {}
  void BeginRequest() override { log_->Add(name_ + ":begin"); }
  void AbortRequest() override { log_->Add(name_ + ":abort"); }
  absl::Status BeforeCommit(WriteTxn&) override {
    log_->Add(name_ + ":before_commit");
    if (++before_commit_calls_ == fail_before_commit_call) {
      return absl::DataLossError("checkpoint could not be written");
    }
    return absl::OkStatus();
  }
  void AfterCommit() override { log_->Add(name_ + ":after_commit"); }
  void AfterRollback() override { log_->Add(name_ + ":after_rollback"); }

  // BeforeCommit fails on this call (1 = the first); 0 never.
  std::atomic<int> fail_before_commit_call{0};

 private:
  std::atomic<int> before_commit_calls_{0};
  std::string name_;
  EventLog* log_;
};

GroupCommitter::WriteFn Insert(int64_t id) {
  return [id](WriteTxn& txn) {
    return txn.sql().Exec("INSERT INTO item (id) VALUES (?)", {id}).status();
  };
}

class GroupCommitTest
    : public ::testing::TestWithParam<sild::testing::SqlBackend> {
 protected:
  void SetUp() override {
    auto database = GetParam().make_database();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    sql_ = OpenConnection();
    ASSERT_NE(sql_, nullptr);
    ASSERT_TRUE(sql_->Exec("CREATE TABLE item (id BIGINT PRIMARY KEY, "
                           "note TEXT)")
                    .ok());
  }

  std::unique_ptr<SqlConnection> OpenConnection() {
    auto connection = database_->Connect();
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  // A participant that lives as long as the committer (the writer thread
  // asks participants at every idle tick until it stops).
  template <typename P, typename... Args>
  P& AddParticipant(Args&&... args) {
    participants_.push_back(std::make_unique<P>(std::forward<Args>(args)...));
    return static_cast<P&>(*participants_.back());
  }

  GroupCommitter& StartCommitter(GroupCommitter::Options options = {},
                                 const Clock* clock = RealClock::Get()) {
    committer_ = std::make_unique<GroupCommitter>(sql_.get(), clock, options);
    for (auto& p : participants_) committer_->AddParticipant(p.get());
    committer_->Start();
    return *committer_;
  }

  // What a fresh connection sees (committed data only).
  std::set<int64_t> CommittedIds() {
    auto reader = OpenConnection();
    std::set<int64_t> ids;
    if (!reader) return ids;
    auto rows = reader->Query("SELECT id FROM item", {});
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) {
      for (const auto& row : *rows) ids.insert(row.Int(0));
    }
    return ids;
  }

  std::unique_ptr<sild::testing::SqlTestDatabase> database_;
  std::unique_ptr<SqlConnection> sql_;
  ManualClock clock_{absl::FromUnixSeconds(1767225600)};
  EventLog log_;
  std::vector<std::unique_ptr<TxnParticipant>> participants_;
  // Last: destroyed (and stopped) before everything its thread uses.
  std::unique_ptr<GroupCommitter> committer_;
};

TEST_P(GroupCommitTest, ConcurrentSubmitsFromManyThreadsShareOneBatch) {
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();

  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int64_t id = t * kPerThread + i;
        committer.Submit(Insert(id), outcomes.For(id));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(kThreads * kPerThread + 1));

  for (int64_t id = 0; id < kThreads * kPerThread; ++id) {
    ASSERT_TRUE(outcomes.Get(id).ok()) << id << ": " << outcomes.Get(id);
  }
  EXPECT_EQ(CommittedIds().size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(committer.requests(), kThreads * kPerThread + 1);
  // The gate's batch, then everything queued behind it in one transaction.
  EXPECT_EQ(committer.batches(), 2);
}

// Operators tell the writer and the commit flusher apart in top -H and perf.
TEST_P(GroupCommitTest, WriterAndCommitThreadsCarryTheirNames) {
  GroupCommitter& committer = StartCommitter();
  auto thread_name = [] {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    return std::string(name);
  };
  std::string writer_name;
  std::string done_name;
  absl::Notification done;
  committer.Submit(
      [&](WriteTxn&) {
        writer_name = thread_name();
        return absl::OkStatus();
      },
      [&](absl::Status status) {
        EXPECT_TRUE(status.ok()) << status;
        done_name = thread_name();
        done.Notify();
      });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(writer_name, "sild-writer");
  EXPECT_EQ(done_name, "sild-commit");
}

TEST_P(GroupCommitTest, MaxBatchBoundsATransaction) {
  GroupCommitter::Options options;
  options.max_batch = 16;
  GroupCommitter& committer = StartCommitter(options);
  WriterGate gate;
  Outcomes outcomes;
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();
  for (int64_t id = 0; id < 100; ++id) {
    committer.Submit(Insert(id), outcomes.For(id));
  }
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(101));
  EXPECT_EQ(committer.batches(), 1 + (100 + 15) / 16);
  EXPECT_EQ(CommittedIds().size(), 100u);
}

TEST_P(GroupCommitTest, DoneRunsOnlyAfterTheBatchCommitted) {
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  std::atomic<int> visible_in_done{0};
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();
  constexpr int kRequests = 20;
  for (int64_t id = 0; id < kRequests; ++id) {
    GroupCommitter::DoneFn record = outcomes.For(id);
    committer.Submit(Insert(id), [&, id, record](absl::Status status) {
      // Another connection sees only committed data: if done ran before
      // COMMIT, the row would be missing here.
      auto reader = OpenConnection();
      if (reader && QueryInt(*reader, "SELECT COUNT(*) FROM item WHERE id = ?",
                             {id}) == 1) {
        visible_in_done.fetch_add(1);
      }
      record(std::move(status));
    });
  }
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(kRequests + 1));
  EXPECT_EQ(visible_in_done.load(), kRequests);
}

TEST_P(GroupCommitTest, FailingRequestIsRolledBackAloneWithItsOwnError) {
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();
  committer.Submit(Insert(1), outcomes.For(1));
  committer.Submit(
      [](WriteTxn& txn) -> absl::Status {
        // Writes, then fails: its write must not survive.
        absl::Status s =
            txn.sql().Exec("INSERT INTO item (id) VALUES (2)").status();
        if (!s.ok()) return s;
        s = txn.sql().Exec("INSERT INTO item (id) VALUES (20)").status();
        if (!s.ok()) return s;
        return absl::NotFoundError("request 2 gave up");
      },
      outcomes.For(2));
  committer.Submit(Insert(3), outcomes.For(3));
  committer.Submit(Insert(1), outcomes.For(4));  // duplicate of request 1
  committer.Submit(Insert(5), outcomes.For(5));
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(6));

  EXPECT_EQ(committer.batches(), 2) << "all five must share one batch";
  EXPECT_TRUE(outcomes.Get(1).ok());
  EXPECT_EQ(outcomes.Get(2), absl::NotFoundError("request 2 gave up"));
  EXPECT_TRUE(outcomes.Get(3).ok());
  EXPECT_TRUE(HasError(outcomes.Get(4), absl::StatusCode::kAlreadyExists,
                       "STORE_CONFLICT"));
  EXPECT_TRUE(outcomes.Get(5).ok());
  EXPECT_EQ(CommittedIds(), (std::set<int64_t>{1, 3, 5}));
}

TEST_P(GroupCommitTest, AfterCommitHooksRunOnlyForCommittedRequests) {
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  EventLog hooks;
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();
  auto with_hook = [&](int64_t id, bool fail) {
    return [&hooks, id, fail](WriteTxn& txn) -> absl::Status {
      txn.AfterCommit([&hooks, id] { hooks.Add(absl::StrCat("hook", id)); });
      if (fail) return absl::AbortedError("no");
      return txn.sql().Exec("INSERT INTO item (id) VALUES (?)", {id}).status();
    };
  };
  committer.Submit(with_hook(1, false), outcomes.For(1));
  committer.Submit(with_hook(2, true), outcomes.For(2));
  committer.Submit(with_hook(3, false), outcomes.For(3));
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(4));
  EXPECT_EQ(hooks.events(), (std::vector<std::string>{"hook1", "hook3"}));
}

TEST_P(GroupCommitTest, AfterCommitOnceRunsOncePerBatch) {
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  std::atomic<int> wakes{0};
  static const int kWakeKey = 0;
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();
  auto waking = [&wakes](int64_t id, bool fail) {
    return [&wakes, id, fail](WriteTxn& txn) -> absl::Status {
      txn.AfterCommitOnce(&kWakeKey, [&wakes] { ++wakes; });
      if (fail) return absl::AbortedError("no");
      return txn.sql().Exec("INSERT INTO item (id) VALUES (?)", {id}).status();
    };
  };
  // The first asker rolls back: its registration goes with it, and the
  // next asker's counts.
  committer.Submit(waking(1, true), outcomes.For(1));
  committer.Submit(waking(2, false), outcomes.For(2));
  committer.Submit(waking(3, false), outcomes.For(3));
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(4));
  EXPECT_EQ(wakes.load(), 1);
  // A batch of only refused requests wakes nobody.
  ASSERT_TRUE(committer.Run(waking(4, true)).code() ==
              absl::StatusCode::kAborted);
  EXPECT_EQ(wakes.load(), 1);
  ASSERT_TRUE(committer.Run(waking(5, false)).ok());
  EXPECT_EQ(wakes.load(), 2);
}

TEST_P(GroupCommitTest, ParticipantsAreToldInOrder) {
  EventLog& log = log_;
  AddParticipant<RecordingParticipant>("p", &log_);
  AddParticipant<RecordingParticipant>("q", &log_);
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  committer.Submit(gate.Hold(), [&](absl::Status status) {
    log.Add("done:gate");
    outcomes.For(-1)(status);
  });
  gate.WaitUntilHeld();
  auto request = [&](std::string name, bool fail) {
    return [&log, name, fail](WriteTxn& txn) -> absl::Status {
      log.Add("fn:" + name);
      txn.AfterCommit([&log, name] { log.Add("hook:" + name); });
      return fail ? absl::NotFoundError(name) : absl::OkStatus();
    };
  };
  auto done = [&](std::string name, int64_t id) {
    return [&log, &outcomes, name, id](absl::Status status) {
      log.Add("done:" + name + ":" + absl::StatusCodeToString(status.code()));
      outcomes.For(id)(status);
    };
  };
  committer.Submit(request("a", false), done("a", 1));
  committer.Submit(request("b", true), done("b", 2));
  committer.Submit(request("c", false), done("c", 3));
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(4));

  // Callbacks run on the completion thread, so the writer's events and the
  // callbacks interleave freely; each kind keeps its own order, and a
  // batch's callbacks come only after its commit.
  std::vector<std::string> writer_events;
  std::vector<std::string> done_events;
  std::map<std::string, size_t> position;
  const std::vector<std::string> events = log.events();
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string& e = events[i];
    (absl::StartsWith(e, "done:") ? done_events : writer_events).push_back(e);
    position.emplace(e, i);  // first occurrence
  }
  EXPECT_EQ(writer_events,
            (std::vector<std::string>{
                // The gate's batch.
                "p:begin", "q:begin", "p:before_commit", "q:before_commit",
                "p:after_commit", "q:after_commit",
                // a commits, b aborts, c commits; then one COMMIT.
                "p:begin", "q:begin", "fn:a",  //
                "p:begin", "q:begin", "fn:b", "p:abort", "q:abort", "p:begin",
                "q:begin", "fn:c",  //
                "p:before_commit", "q:before_commit", "p:after_commit",
                "q:after_commit", "hook:a", "hook:c"}));
  EXPECT_EQ(done_events,
            (std::vector<std::string>{"done:gate", "done:a:OK",
                                      "done:b:NOT_FOUND", "done:c:OK"}));
  EXPECT_GT(position["done:gate"], position["q:after_commit"]);
  EXPECT_GT(position["done:a:OK"], position["hook:c"]);
}

TEST_P(GroupCommitTest, BeforeCommitErrorRollsBackTheWholeBatch) {
  EventLog& log = log_;
  AddParticipant<RecordingParticipant>("p", &log_);
  auto& checkpointer = AddParticipant<RecordingParticipant>("q", &log_);
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  EventLog hooks;
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();
  for (int64_t id = 1; id <= 3; ++id) {
    committer.Submit(
        [&hooks, id](WriteTxn& txn) {
          txn.AfterCommit([&hooks, id] { hooks.Add(absl::StrCat(id)); });
          return txn.sql()
              .Exec("INSERT INTO item (id) VALUES (?)", {id})
              .status();
        },
        outcomes.For(id));
  }
  // The gate's batch commits; the batch of 1..3 fails in BeforeCommit.
  checkpointer.fail_before_commit_call = 2;
  gate.Release();
  ASSERT_TRUE(outcomes.WaitFor(4));

  // Fail closed: nothing of the batch is durable and every request says so.
  for (int64_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(outcomes.Get(id),
              absl::DataLossError("checkpoint could not be written"))
        << id;
  }
  EXPECT_TRUE(CommittedIds().empty());
  EXPECT_TRUE(hooks.events().empty());
  std::vector<std::string> events = log.events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(events.end() - 4, events.end()),
            (std::vector<std::string>{"p:before_commit", "q:before_commit",
                                      "p:after_rollback", "q:after_rollback"}));

  // The writer recovers: the next request commits.
  EXPECT_TRUE(committer.Run(Insert(9)).ok());
  EXPECT_EQ(CommittedIds(), (std::set<int64_t>{9}));
}

TEST_P(GroupCommitTest, StopDrainsQueuedWorkThenRefusesNewWork) {
  GroupCommitter& committer = StartCommitter();
  WriterGate gate;
  Outcomes outcomes;
  committer.Submit(gate.Hold(), outcomes.For(-1));
  gate.WaitUntilHeld();
  for (int64_t id = 0; id < 50; ++id) {
    committer.Submit(Insert(id), outcomes.For(id));
  }
  std::thread stopper([&] { committer.Stop(); });
  // Keep submitting until Stop() has begun: a refusal comes back at once
  // (the writer is held, so nothing else can run a done callback now).
  int64_t probe = 1000;
  for (;; ++probe) {
    committer.Submit(Insert(probe), outcomes.For(probe));
    if (outcomes.Has(probe)) break;
  }
  EXPECT_TRUE(HasError(outcomes.Get(probe), absl::StatusCode::kUnavailable,
                       "STORE_STOPPED"));
  gate.Release();
  stopper.join();

  // Stop returned only after everything queued before it committed.
  std::set<int64_t> committed = CommittedIds();
  for (int64_t id = 0; id < 50; ++id) {
    EXPECT_TRUE(outcomes.Get(id).ok()) << id;
    EXPECT_EQ(committed.count(id), 1u) << id;
  }
  for (int64_t id = 1000; id < probe; ++id) {
    EXPECT_TRUE(outcomes.Get(id).ok()) << id;
    EXPECT_EQ(committed.count(id), 1u) << id;
  }
  EXPECT_EQ(committed.count(probe), 0u);

  absl::Status late = committer.Run(Insert(1000000));
  EXPECT_TRUE(HasError(late, absl::StatusCode::kUnavailable, "STORE_STOPPED"));
  committer.Stop();   // idempotent
  committer.Start();  // a stopped writer stays stopped
  EXPECT_TRUE(HasError(committer.Run(Insert(1000001)),
                       absl::StatusCode::kUnavailable, "STORE_STOPPED"));
  EXPECT_EQ(CommittedIds().count(1000000) + CommittedIds().count(1000001), 0u);
}

TEST_P(GroupCommitTest, NotStartedWriterRefusesAndStopsCleanly) {
  GroupCommitter committer(sql_.get(), RealClock::Get());
  EXPECT_TRUE(HasError(committer.Run(Insert(1)), absl::StatusCode::kUnavailable,
                       "STORE_STOPPED"));
  committer.Stop();
  // Starting after Stop must not leave a thread to join at destruction.
  committer.Start();
  EXPECT_TRUE(CommittedIds().empty());
}

class IdleCheckpointer : public TxnParticipant {
 public:
  bool WantsIdleCommit(absl::Time now) override {
    absl::MutexLock lock(&mu_);
    ++asked_;
    asked_at_ = now;
    return armed_;
  }
  absl::Status BeforeCommit(WriteTxn& txn) override {
    {
      absl::MutexLock lock(&mu_);
      armed_ = false;
      batch_time_ = txn.now();
    }
    return txn.sql()
        .Exec("INSERT INTO item (id, note) VALUES (?, 'checkpoint')",
              {absl::ToUnixMillis(txn.now())})
        .status();
  }
  void AfterCommit() override {
    absl::MutexLock lock(&mu_);
    ++commits_;
  }

  void Arm() {
    absl::MutexLock lock(&mu_);
    armed_ = true;
  }
  // Waits until `fn` holds; false after 10 s.
  template <typename Fn>
  bool WaitUntil(Fn fn) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fn(*this); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(10));
  }

  absl::Mutex mu_;
  int asked_ ABSL_GUARDED_BY(mu_) = 0;
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time asked_at_ ABSL_GUARDED_BY(mu_);
  absl::Time batch_time_ ABSL_GUARDED_BY(mu_);
};

TEST_P(GroupCommitTest, IdleCommitRunsWhenAParticipantAsks) {
  const absl::Time start = clock_.Now();
  auto& checkpointer = AddParticipant<IdleCheckpointer>();
  GroupCommitter::Options options;
  options.idle_tick = absl::Milliseconds(5);
  StartCommitter(options, &clock_);

  // Idle ticks ask, but nothing commits while nobody wants to.
  ASSERT_TRUE(checkpointer.WaitUntil([](IdleCheckpointer& c) {
    c.mu_.AssertHeld();
    return c.asked_ >= 3;
  }));
  {
    absl::MutexLock lock(&checkpointer.mu_);
    EXPECT_EQ(checkpointer.commits_, 0);
    EXPECT_EQ(checkpointer.asked_at_, start) << "asked with the clock's time";
  }
  EXPECT_TRUE(CommittedIds().empty());

  clock_.Advance(absl::Minutes(5));
  checkpointer.Arm();
  ASSERT_TRUE(checkpointer.WaitUntil([](IdleCheckpointer& c) {
    c.mu_.AssertHeld();
    return c.commits_ == 1;
  }));
  {
    absl::MutexLock lock(&checkpointer.mu_);
    EXPECT_EQ(checkpointer.batch_time_, start + absl::Minutes(5));
  }
  EXPECT_EQ(CommittedIds(),
            (std::set<int64_t>{absl::ToUnixMillis(start + absl::Minutes(5))}));
  EXPECT_EQ(committer_->requests(), 0);
}

TEST_P(GroupCommitTest, RunFromManyThreadsReturnsOnlyDurableWrites) {
  GroupCommitter& committer = StartCommitter();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto reader = OpenConnection();
      for (int i = 0; i < kPerThread; ++i) {
        int64_t id = t * kPerThread + i;
        absl::Status status = committer.Run(Insert(id));
        // When Run returns, the row is committed: visible to any reader.
        if (!status.ok() || !reader ||
            QueryInt(*reader, "SELECT COUNT(*) FROM item WHERE id = ?", {id}) !=
                1) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(CommittedIds().size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(committer.requests(), kThreads * kPerThread);
  EXPECT_LE(committer.batches(), committer.requests());
}

// The child: writes from four threads through a committer and reports each
// acknowledged id on `ack_fd`, until it is killed.
[[noreturn]] void WriteUntilKilled(sild::testing::SqlTestDatabase& database,
                                   int ack_fd) {
  auto connection = database.Connect();
  if (!connection.ok()) _exit(2);
  GroupCommitter committer(connection->get(), RealClock::Get());
  committer.Start();
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&committer, ack_fd, t] {
      const std::string note(300, 'n');
      for (int64_t i = 0;; ++i) {
        int64_t id = i * 4 + t;
        absl::Status status = committer.Run([id, &note](WriteTxn& txn) {
          return txn.sql()
              .Exec("INSERT INTO item (id, note) VALUES (?, ?)", {id, note})
              .status();
        });
        if (!status.ok()) _exit(3);
        if (write(ack_fd, &id, sizeof id) != sizeof id) _exit(4);
      }
    });
  }
  for (auto& writer : writers) writer.join();
  _exit(0);
}

TEST_P(GroupCommitTest, AcknowledgedWritesSurviveSigkill) {
  sql_.reset();  // no database connection is open across fork()
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    WriteUntilKilled(*database_, fds[1]);
  }
  close(fds[1]);

  std::vector<int64_t> acknowledged;
  std::string pending;
  auto read_acks = [&](int timeout_ms) {
    pollfd waiting = {fds[0], POLLIN, 0};
    if (poll(&waiting, 1, timeout_ms) <= 0) return false;
    char buffer[4096];
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n <= 0) return false;
    pending.append(buffer, static_cast<size_t>(n));
    size_t whole = pending.size() / sizeof(int64_t) * sizeof(int64_t);
    for (size_t at = 0; at < whole; at += sizeof(int64_t)) {
      int64_t id;
      memcpy(&id, pending.data() + at, sizeof id);
      acknowledged.push_back(id);
    }
    pending.erase(0, whole);
    return true;
  };
  // Kill it in full flow, well into the stream.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (acknowledged.size() < 2000 && absl::Now() < deadline) {
    if (!read_acks(1000)) break;
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status))
      << "the child stopped by itself with " << WEXITSTATUS(wait_status);
  // Acknowledgements already in the pipe count too.
  while (read_acks(0)) {
  }
  close(fds[0]);
  ASSERT_GE(acknowledged.size(), 2000u);

  auto reopened = OpenConnection();
  ASSERT_NE(reopened, nullptr);
  if (reopened->backend() == "sqlite") {
    auto check = reopened->Query("PRAGMA integrity_check", {});
    ASSERT_TRUE(check.ok()) << check.status();
    ASSERT_EQ(check->size(), 1u);
    EXPECT_EQ((*check)[0].Text(0), "ok");
  }
  std::set<int64_t> committed = CommittedIds();
  int missing = 0;
  for (int64_t id : acknowledged) missing += committed.count(id) == 0;
  EXPECT_EQ(missing, 0) << "of " << acknowledged.size()
                        << " acknowledged writes";
  EXPECT_GE(committed.size(), acknowledged.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, GroupCommitTest,
                         ::testing::ValuesIn(sild::testing::AllSqlBackends()),
                         sild::testing::SqlBackendName);

}  // namespace
}  // namespace sild
