// Delivery workers: move outbox rows of push recipients (every agency but
// those that pull over the gRPC inbox) to their recipients, with retries and
// dead letters.
//
//   DeliveryWorkers workers(&context, &endpoints,
//                           DeliveryWorkerOptions::FromConfig(config.delivery()));
//   workers.Start();         // config.delivery.workers threads
//   ... context.on_outbox_changed -> workers.Wake();
//   workers.Stop();          // before the store closes
//
// One round (RunOnce) is three steps, so a crash anywhere loses nothing:
//  1. claim: one write sets lease_owner/lease_until on up to claim_batch due
//     rows (PENDING, next_attempt <= now, no live lease); while every row a
//     worker claims goes to a transport that pipelines (a broker) and its
//     claims come back full, the worker doubles its claim, up to
//     max_pipelined_claim_batch: one round trip carries the whole batch;
//  2. deliver each row through its recipient's EgressEndpoint (egress.h),
//     outside any transaction;
//  3. record: one write marks each row DELIVERED (audit DELIVERY, SUCCESS)
//     or counts the failed attempt (audit DELIVERY_FAILURE, FAILURE, reason
//     RETRYABLE or PERMANENT): next attempt after an exponential backoff
//     with full jitter, DEAD after max_attempts or a permanent failure.
// A crash between 2 and 3 leaves the row PENDING with a lease that expires:
// it is delivered again, and recipients drop the duplicate by message id
// (at-least-once delivery + dedupe by id = exactly-once effect).
//
// Threads sleep until Wake() (a commit queued deliveries), the next row's
// due time, or idle_poll. Stop() lets in-flight deliveries finish and record,
// hands back claimed rows not yet started, and joins the threads. Thread-safe.
#ifndef SILD_GATEWAY_DELIVERY_DELIVERY_WORKERS_H_
#define SILD_GATEWAY_DELIVERY_DELIVERY_WORKERS_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/delivery/egress.h"
#include "gateway/exchange/exchange_context.h"
#include "sild/config/v1/config.pb.h"

namespace sild::delivery {

// Exponential backoff with full jitter: the delay after the n-th failed
// attempt is uniform in [0, min(max, initial * 2^(n-1))] (at least 1 ms).
class BackoffPolicy {
 public:
  // A uniformly distributed value in [0, 1); must be thread-safe.
  using UniformSource = std::function<double()>;

  // `uniform` null: a per-thread Mersenne Twister seeded from
  // std::random_device.
  BackoffPolicy(absl::Duration initial, absl::Duration max,
                UniformSource uniform = nullptr);

  // min(max, initial * 2^(attempt-1)); attempt >= 1.
  absl::Duration Ceiling(int attempt) const;
  absl::Duration Delay(int attempt) const;

 private:
  absl::Duration initial_;
  absl::Duration max_;
  UniformSource uniform_;
};

struct DeliveryWorkerOptions {
  int workers = 2;
  int max_attempts = 8;
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(60);
  // How long a claim protects a row: longer than any delivery takes.
  absl::Duration lease = absl::Minutes(2);
  int claim_batch = 8;
  // Largest claim of a worker whose rows all go to pipelining transports.
  int max_pipelined_claim_batch = 256;
  // Longest sleep without a wake-up.
  absl::Duration idle_poll = absl::Seconds(5);
  // Names this process's claims; empty: "<hostname>/<pid>/<random>".
  std::string owner;

  static DeliveryWorkerOptions FromConfig(
      const config::v1::DeliveryConfig& config);
};

class DeliveryWorkers {
 public:
  // Borrows `context` and `endpoints`, which must outlive the workers.
  DeliveryWorkers(const exchange::ExchangeContext* context,
                  const EgressEndpoints* endpoints,
                  DeliveryWorkerOptions options, BackoffPolicy backoff);
  DeliveryWorkers(const exchange::ExchangeContext* context,
                  const EgressEndpoints* endpoints,
                  DeliveryWorkerOptions options);
  ~DeliveryWorkers();

  DeliveryWorkers(const DeliveryWorkers&) = delete;
  DeliveryWorkers& operator=(const DeliveryWorkers&) = delete;

  void Start();
  void Stop();
  // Something was queued (or became due): idle threads look again.
  void Wake();

  // One claim-deliver-record round on the calling thread, as worker
  // `worker`; returns how many rows it claimed. Used by the threads and by
  // tests that drive time with a ManualClock.
  absl::StatusOr<int> RunOnce(int worker = 0);
  // Step 1 alone: claims due rows for worker `worker` and does nothing else,
  // as a worker that crashes right after claiming would (fault injection).
  absl::StatusOr<std::vector<OutboxRow>> Claim(int limit, int worker = 0);

  const DeliveryWorkerOptions& options() const { return options_; }
  int64_t delivered() const { return delivered_.load(); }
  int64_t failed() const { return failed_.load(); }

 private:
  struct Outcome {
    const OutboxRow* row = nullptr;
    connectors::DeliveryResult result;
    // Not attempted (stopping): the claim is handed back.
    bool released = false;
  };

  std::string OwnerFor(int worker) const;
  // One recipient's rows over one transport, a result per row.
  std::vector<connectors::DeliveryResult> DeliverBatch(
      const std::vector<const OutboxRow*>& rows) const;
  absl::Status Record(const std::string& owner,
                      const std::vector<Outcome>& outcomes);
  absl::Duration IdleWait() const;
  void Loop(int worker);

  const exchange::ExchangeContext* context_;
  const EgressEndpoints* endpoints_;
  DeliveryWorkerOptions options_;
  BackoffPolicy backoff_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
  // Each worker's next claim size (the adaptive claim above).
  std::vector<std::atomic<int>> claim_limits_;

  absl::Mutex mu_;
  absl::CondVar wake_;
  int64_t wake_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_DELIVERY_WORKERS_H_
