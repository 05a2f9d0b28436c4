#include "gateway/delivery/delivery_workers.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/base/log.h"
#include "gateway/base/status_macros.h"
#include "gateway/base/thread_name.h"
#include "gateway/delivery/delivery_audit.h"

namespace sild::delivery {

using exchange::ExchangeContext;
using exchange::LoadMessageSummary;
using exchange::NewUuid;

using connectors::DeliveryResult;
namespace {

double DefaultUniform() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string DefaultOwner() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] ? host : "sild", "/", ::getpid(), "/",
                      NewUuid().substr(28));  // random digits
}

std::string Millis(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), " ms");
}

}  // namespace

BackoffPolicy::BackoffPolicy(absl::Duration initial, absl::Duration max,
                             UniformSource uniform)
    : initial_(std::max(initial, absl::Milliseconds(1))),
      max_(std::max(max, initial_)),
      uniform_(uniform ? std::move(uniform) : UniformSource(DefaultUniform)) {}

absl::Duration BackoffPolicy::Ceiling(int attempt) const {
  absl::Duration ceiling = initial_;
  for (int i = 1; i < attempt && ceiling < max_; ++i) ceiling *= 2;
  return std::min(ceiling, max_);
}

absl::Duration BackoffPolicy::Delay(int attempt) const {
  double u = std::clamp(uniform_(), 0.0, 1.0);
  absl::Duration delay = absl::Milliseconds(std::floor(
      u * static_cast<double>(absl::ToInt64Milliseconds(Ceiling(attempt)))));
  return std::max(delay, absl::Milliseconds(1));
}

DeliveryWorkerOptions DeliveryWorkerOptions::FromConfig(
    const config::v1::DeliveryConfig& config) {
  DeliveryWorkerOptions options;
  if (config.workers() > 0) options.workers = config.workers();
  if (config.max_attempts() > 0) options.max_attempts = config.max_attempts();
  if (config.initial_backoff_ms() > 0) {
    options.initial_backoff = absl::Milliseconds(config.initial_backoff_ms());
  }
  if (config.max_backoff_ms() > 0) {
    options.max_backoff = absl::Milliseconds(config.max_backoff_ms());
  }
  if (config.lease_ms() > 0)
    options.lease = absl::Milliseconds(config.lease_ms());
  if (config.claim_batch() > 0) options.claim_batch = config.claim_batch();
  return options;
}

DeliveryWorkers::DeliveryWorkers(const ExchangeContext* context,
                                 const EgressEndpoints* endpoints,
                                 DeliveryWorkerOptions options,
                                 BackoffPolicy backoff)
    : context_(context),
      endpoints_(endpoints),
      options_(std::move(options)),
      backoff_(std::move(backoff)) {
  if (options_.owner.empty()) options_.owner = DefaultOwner();
  options_.workers = std::max(options_.workers, 1);
  options_.claim_batch = std::max(options_.claim_batch, 1);
  options_.max_pipelined_claim_batch =
      std::max(options_.max_pipelined_claim_batch, options_.claim_batch);
  options_.max_attempts = std::max(options_.max_attempts, 1);
  claim_limits_ = std::vector<std::atomic<int>>(options_.workers);
  for (auto& limit : claim_limits_) limit.store(options_.claim_batch);
}

DeliveryWorkers::DeliveryWorkers(const ExchangeContext* context,
                                 const EgressEndpoints* endpoints,
                                 DeliveryWorkerOptions options)
    : DeliveryWorkers(
          context, endpoints, options,
          BackoffPolicy(options.initial_backoff, options.max_backoff)) {}

DeliveryWorkers::~DeliveryWorkers() { Stop(); }

void DeliveryWorkers::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_.load()) return;
  started_ = true;
  for (int i = 0; i < options_.workers; ++i) {
    threads_.emplace_back([this, i] {
      NameThisThread(absl::StrCat("sild-deliver-", i));
      Loop(i);
    });
  }
}

void DeliveryWorkers::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_.store(true);
    wake_.SignalAll();
  }
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void DeliveryWorkers::Wake() {
  absl::MutexLock lock(&mu_);
  ++wake_seq_;
  wake_.SignalAll();
}

std::string DeliveryWorkers::OwnerFor(int worker) const {
  return absl::StrCat(options_.owner, "/w", worker);
}

absl::StatusOr<std::vector<OutboxRow>> DeliveryWorkers::Claim(int limit,
                                                              int worker) {
  std::vector<OutboxRow> claimed;
  std::string owner = OwnerFor(worker);
  const PayloadCipher& cipher = context_->store->cipher();
  SILD_RETURN_IF_ERROR(
      context_->store->writer().Run([&](WriteTxn& txn) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(
            claimed, ClaimDueDeliveries(txn, cipher, owner,
                                        txn.now() + options_.lease, limit));
        return absl::OkStatus();
      }));
  return claimed;
}

std::vector<DeliveryResult> DeliveryWorkers::DeliverBatch(
    const std::vector<const OutboxRow*>& rows) const {
  const OutboxRow& first = *rows.front();
  const EgressEndpoint* endpoint = endpoints_->Find(first.recipient);
  if (endpoint == nullptr) {
    const bool known =
        context_->directory->FindByRegistryCode(first.recipient) != nullptr;
    return std::vector<DeliveryResult>(
        rows.size(),
        DeliveryResult::Permanent(
            known ? absl::StrCat("recipient ", first.recipient,
                                 " has no push endpoint (transport \"",
                                 first.transport, "\" is not configured)")
                  : absl::StrCat("recipient ", first.recipient,
                                 " is not configured any more")));
  }
  std::vector<DeliveryResult> results = endpoint->Deliver(rows);
  results.resize(rows.size(),
                 DeliveryResult::Retryable("the transport reported no result"));
  return results;
}

absl::StatusOr<int> DeliveryWorkers::RunOnce(int worker) {
  // Workers wake after every commit that queued a row, most of them rows the
  // gRPC inbox serves: a read first, so a wake-up with nothing due for the
  // workers costs no write transaction on the single writer.
  std::optional<absl::Time> due;
  SILD_RETURN_IF_ERROR(
      context_->store->Read([&](SqlConnection& sql) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(due, NextDueDelivery(sql));
        return absl::OkStatus();
      }));
  if (!due || *due > context_->store->clock()->Now()) return 0;
  std::atomic<int>* limit =
      worker >= 0 && static_cast<size_t>(worker) < claim_limits_.size()
          ? &claim_limits_[worker]
          : nullptr;
  const int claim = limit ? limit->load() : options_.claim_batch;
  SILD_ASSIGN_OR_RETURN(std::vector<OutboxRow> rows, Claim(claim, worker));
  if (rows.empty()) return 0;
  std::vector<Outcome> outcomes(rows.size());
  // Rows for the same recipient over the same transport go as one batch, so
  // transports with asynchronous acknowledgements keep many in flight; the
  // claim order is kept within a batch.
  std::map<std::string, std::vector<size_t>> batches;
  for (size_t i = 0; i < rows.size(); ++i) {
    outcomes[i].row = &rows[i];
    batches[rows[i].recipient].push_back(i);
  }
  bool all_pipelined = true;
  for (const auto& [recipient, positions] : batches) {
    const EgressEndpoint* endpoint = endpoints_->Find(recipient);
    if (endpoint == nullptr || !endpoint->pipelines()) all_pipelined = false;
  }
  if (limit != nullptr) {
    // A broker takes a batch in one round trip: a full claim of only such
    // rows says more are waiting, so the next claim is larger. Any row that
    // goes one by one brings the claim back to claim_batch, which bounds how
    // long a claim holds its lease.
    if (!all_pipelined) {
      limit->store(options_.claim_batch);
    } else if (static_cast<int>(rows.size()) >= claim) {
      limit->store(std::min(claim * 2, options_.max_pipelined_claim_batch));
    }
  }
  for (const auto& [recipient, positions] : batches) {
    if (stopping_.load()) {
      for (size_t i : positions) outcomes[i].released = true;
      continue;
    }
    const EgressEndpoint* endpoint = endpoints_->Find(recipient);
    if (endpoint != nullptr && endpoint->pipelines()) {
      std::vector<const OutboxRow*> batch;
      for (size_t i : positions) batch.push_back(&rows[i]);
      std::vector<DeliveryResult> results = DeliverBatch(batch);
      for (size_t j = 0; j < positions.size(); ++j) {
        outcomes[positions[j]].result = std::move(results[j]);
      }
      continue;
    }
    for (size_t i : positions) {
      if (stopping_.load()) {
        outcomes[i].released = true;
        continue;
      }
      outcomes[i].result = std::move(DeliverBatch({&rows[i]}).front());
    }
  }
  SILD_RETURN_IF_ERROR(Record(OwnerFor(worker), outcomes));
  return static_cast<int>(rows.size());
}

absl::Status DeliveryWorkers::Record(const std::string& owner,
                                     const std::vector<Outcome>& outcomes) {
  int64_t delivered = 0;
  int64_t failed = 0;
  absl::Status status = context_->store->writer().Run([&](WriteTxn& txn)
                                                          -> absl::Status {
    delivered = 0;
    failed = 0;
    for (const Outcome& outcome : outcomes) {
      const OutboxRow& row = *outcome.row;
      if (outcome.released) {
        SILD_RETURN_IF_ERROR(ReleaseDeliveryLease(txn, row.delivery_id, owner));
        continue;
      }
      SILD_ASSIGN_OR_RETURN(auto message,
                            LoadMessageSummary(txn.sql(), row.message_id));
      sild::v1::AuditRecord draft =
          DeliveryAuditDraft(row, message ? &*message : nullptr);
      const DeliveryResult& result = outcome.result;
      if (result.outcome == DeliveryResult::kDelivered) {
        SILD_ASSIGN_OR_RETURN(bool marked, MarkDelivered(txn, row.delivery_id));
        // Not marked: the row was recorded by someone else (a worker that
        // took it over after our lease expired); their record stands.
        if (!marked) continue;
        draft.set_action(sild::v1::AUDIT_ACTION_DELIVERY);
        draft.set_outcome(sild::v1::AUDIT_OUTCOME_SUCCESS);
        draft.set_reason_code("DELIVERED");
        draft.set_detail(absl::StrCat("delivered by the ", row.transport,
                                      " transport on attempt ",
                                      row.attempts + 1));
        SILD_RETURN_IF_ERROR(
            context_->audit_log->Append(txn, std::move(draft)).status());
        ++delivered;
        continue;
      }
      int32_t attempts = row.attempts + 1;
      bool permanent = result.outcome == DeliveryResult::kPermanent;
      bool dead = permanent || attempts >= options_.max_attempts;
      absl::Duration delay = backoff_.Delay(attempts);
      std::string error = result.error.substr(0, 1000);
      SILD_ASSIGN_OR_RETURN(
          bool recorded,
          RecordFailedAttempt(txn, row.delivery_id, owner, attempts,
                              txn.now() + delay, error, dead));
      if (!recorded) continue;
      draft.set_action(sild::v1::AUDIT_ACTION_DELIVERY_FAILURE);
      draft.set_outcome(sild::v1::AUDIT_OUTCOME_FAILURE);
      draft.set_reason_code(permanent ? "PERMANENT" : "RETRYABLE");
      draft.set_detail(
          dead ? absl::StrCat("dead letter after attempt ", attempts, " of ",
                              options_.max_attempts, " by the ", row.transport,
                              " transport: ", error)
               : absl::StrCat("attempt ", attempts, " of ",
                              options_.max_attempts, " by the ", row.transport,
                              " transport failed: ", error,
                              "; next attempt in ", Millis(delay)));
      SILD_RETURN_IF_ERROR(
          context_->audit_log->Append(txn, std::move(draft)).status());
      ++failed;
    }
    return absl::OkStatus();
  });
  if (status.ok()) {
    delivered_ += delivered;
    failed_ += failed;
  }
  return status;
}

absl::Duration DeliveryWorkers::IdleWait() const {
  std::optional<absl::Time> due;
  absl::Status status =
      context_->store->Read([&](SqlConnection& sql) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(due, NextDueDelivery(sql));
        return absl::OkStatus();
      });
  if (!status.ok() || !due) return options_.idle_poll;
  absl::Duration wait = *due - context_->store->clock()->Now();
  return std::clamp(wait, absl::Milliseconds(5), options_.idle_poll);
}

void DeliveryWorkers::Loop(int worker) {
  while (!stopping_.load()) {
    int64_t seen;
    {
      absl::MutexLock lock(&mu_);
      seen = wake_seq_;
    }
    absl::Duration wait;
    absl::StatusOr<int> handled = RunOnce(worker);
    if (!handled.ok()) {
      if (stopping_.load()) break;
      LogWarning("delivery round failed",
                 {{"worker", absl::StrCat(worker)},
                  {"error", std::string(handled.status().message())}});
      wait = absl::Seconds(1);
    } else if (*handled > 0) {
      continue;  // there may be more due rows
    } else {
      wait = IdleWait();
    }
    absl::Time deadline = absl::Now() + wait;
    absl::MutexLock lock(&mu_);
    while (!stopping_.load() && wake_seq_ == seen) {
      if (wake_.WaitWithDeadline(&mu_, deadline)) break;
    }
  }
}

}  // namespace sild::delivery
