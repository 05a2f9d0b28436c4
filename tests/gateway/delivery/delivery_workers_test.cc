// Delivery workers on a real store and audit log, with time moved by a
// ManualClock: delivery and its audit record, the backoff schedule, dead
// letters, lease expiry after a crash, wake-ups and a prompt Stop().
#include "gateway/delivery/delivery_workers.h"

#include <atomic>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gateway/delivery/delivery_test_env.h"

namespace sild::delivery {
namespace {

using connectors::DeliveryResult;

using testing::DeliveryTestEnv;
using ::testing::HasSubstr;
using testing::kCaseManagerCode;
using testing::kSchoolCode;
using testing::kSocialCode;
using testing::ScriptedTransport;

// Social services receives files; the UIF through a scripted transport.
void UseTransports(config::v1::GatewayConfig& config, const std::string& drop) {
  for (auto& agency : *config.mutable_agencies()) {
    if (agency.registry_code() == kSocialCode) {
      agency.set_transport("file");
      agency.set_transport_target(drop);
    }
    if (agency.registry_code() == testing::kUifCode) {
      agency.set_transport("scripted");
    }
    if (agency.registry_code() == kCaseManagerCode) {
      agency.set_transport("scripted");
    }
  }
}

class DeliveryWorkersTest : public ::testing::Test {
 protected:
  DeliveryWorkersTest()
      : env_("delivery-workers", [this](config::v1::GatewayConfig& config) {
          drop_ = testing::MakeTempDir("delivery-workers-drop");
          UseTransports(config, drop_);
        }) {
    scripted_ = std::make_unique<ScriptedTransport>(
        "scripted", DeliveryResult::Retryable("broker unreachable"));
    endpoints_ = env_.Endpoints(scripted_.get());
  }

  std::unique_ptr<DeliveryWorkers> Workers(double uniform = 0.5,
                                           int max_attempts = 3) {
    DeliveryWorkerOptions options;
    options.workers = 2;
    options.max_attempts = max_attempts;
    options.initial_backoff = absl::Seconds(1);
    options.max_backoff = absl::Seconds(8);
    options.lease = absl::Seconds(60);
    options.owner = "test";
    return std::make_unique<DeliveryWorkers>(
        &env_.context(), endpoints_.get(), options,
        BackoffPolicy(options.initial_backoff, options.max_backoff,
                      [uniform] { return uniform; }));
  }

  std::string drop_;
  DeliveryTestEnv env_;
  std::unique_ptr<ScriptedTransport> scripted_;
  std::unique_ptr<EgressEndpoints> endpoints_;
};

TEST(BackoffPolicyTest, FullJitterUnderAnExponentialCeiling) {
  BackoffPolicy half(absl::Milliseconds(500), absl::Seconds(60),
                     [] { return 0.5; });
  EXPECT_EQ(half.Ceiling(1), absl::Milliseconds(500));
  EXPECT_EQ(half.Ceiling(2), absl::Seconds(1));
  EXPECT_EQ(half.Ceiling(5), absl::Seconds(8));
  EXPECT_EQ(half.Ceiling(8), absl::Seconds(60));   // 64 s capped
  EXPECT_EQ(half.Ceiling(40), absl::Seconds(60));  // no overflow
  EXPECT_EQ(half.Delay(1), absl::Milliseconds(250));
  EXPECT_EQ(half.Delay(3), absl::Seconds(1));

  BackoffPolicy zero(absl::Milliseconds(500), absl::Seconds(60),
                     [] { return 0.0; });
  EXPECT_EQ(zero.Delay(4), absl::Milliseconds(1));  // never "now" again

  // The default source spreads delays over [0, ceiling].
  BackoffPolicy random(absl::Seconds(1), absl::Seconds(1));
  absl::Duration low = absl::InfiniteDuration(), high = absl::ZeroDuration();
  for (int i = 0; i < 200; ++i) {
    absl::Duration d = random.Delay(1);
    ASSERT_GE(d, absl::Milliseconds(1));
    ASSERT_LE(d, absl::Seconds(1));
    low = std::min(low, d);
    high = std::max(high, d);
  }
  EXPECT_LT(low, absl::Milliseconds(300));
  EXPECT_GT(high, absl::Milliseconds(700));
}

TEST_F(DeliveryWorkersTest, DeliversAFileAndAuditsTheDelivery) {
  std::string message_id;
  int64_t id = env_.Queue(kSchoolCode, kSocialCode, &message_id);
  ASSERT_GT(id, 0);
  auto workers = Workers();
  auto handled = workers->RunOnce();
  ASSERT_TRUE(handled.ok()) << handled.status();
  EXPECT_EQ(*handled, 1);

  OutboxRow row = env_.Row(id);
  EXPECT_EQ(row.state, sild::v1::DELIVERY_STATE_DELIVERED);
  EXPECT_EQ(row.delivered, env_.clock().Now());
  EXPECT_TRUE(
      std::filesystem::exists(testing::EnvelopeFilePath(drop_, message_id)));

  auto records = env_.Records(sild::v1::AUDIT_ACTION_DELIVERY);
  ASSERT_EQ(records.size(), 1u);
  const auto& record = records[0];
  EXPECT_EQ(record.outcome(), sild::v1::AUDIT_OUTCOME_SUCCESS);
  EXPECT_EQ(record.counterparty(), kSocialCode);
  EXPECT_EQ(record.message_id(), message_id);
  EXPECT_EQ(record.message_kind(), sild::v1::MESSAGE_KIND_REFERRAL);
  EXPECT_EQ(record.subject_pseudonym(),
            env_.audit_log()->Pseudonym(testing::kPupil));
  EXPECT_EQ(record.purpose(), sild::v1::PURPOSE_SUPPORT_SERVICE);
  EXPECT_EQ(record.actor().registry_code(), kSchoolCode);
  EXPECT_EQ(record.actor().professional_id(), "sild-gateway");
  EXPECT_EQ(record.basis().rule_id(), "test-rule");

  // Nothing left to do.
  EXPECT_EQ(*workers->RunOnce(), 0);
  EXPECT_EQ(workers->delivered(), 1);
}

// A recipient on a broker (a transport that pipelines): a worker whose
// claims come back full doubles its next claim up to the cap, and one batch
// carries each claim.
TEST_F(DeliveryWorkersTest, ClaimsGrowWhileABrokerRecipientHasABacklog) {
  scripted_->set_pipelines(true);
  for (int i = 0; i < 40; ++i) {
    scripted_->Then(DeliveryResult::Delivered());
    env_.Queue(kSchoolCode, testing::kUifCode);
  }
  DeliveryWorkerOptions options;
  options.workers = 1;
  options.claim_batch = 2;
  options.max_pipelined_claim_batch = 16;
  options.owner = "test";
  DeliveryWorkers workers(&env_.context(), endpoints_.get(), options);
  std::vector<int> claimed;
  while (true) {
    absl::StatusOr<int> n = workers.RunOnce();
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    claimed.push_back(*n);
  }
  EXPECT_EQ(claimed, (std::vector<int>{2, 4, 8, 16, 10}));
  EXPECT_EQ(scripted_->batch_sizes(), claimed);
  EXPECT_EQ(workers.delivered(), 40);
}

// Row by row transports keep the configured claim: a claim's rows are
// delivered one after another under one lease.
TEST_F(DeliveryWorkersTest, ClaimsStayAtClaimBatchForRowByRowTransports) {
  for (int i = 0; i < 7; ++i) {
    scripted_->Then(DeliveryResult::Delivered());
    env_.Queue(kSchoolCode, testing::kUifCode);
  }
  DeliveryWorkerOptions options;
  options.workers = 1;
  options.claim_batch = 2;
  options.owner = "test";
  DeliveryWorkers workers(&env_.context(), endpoints_.get(), options);
  std::vector<int> claimed;
  while (true) {
    absl::StatusOr<int> n = workers.RunOnce();
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    claimed.push_back(*n);
  }
  EXPECT_EQ(claimed, (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(workers.delivered(), 7);
}

TEST_F(DeliveryWorkersTest, RetriesOnTheBackoffSchedule) {
  std::string message_id;
  int64_t id = env_.Queue(kSchoolCode, testing::kUifCode, &message_id);
  auto workers = Workers(/*uniform=*/0.5, /*max_attempts=*/5);
  absl::Time start = env_.clock().Now();
  ASSERT_EQ(*workers->RunOnce(), 1);
  OutboxRow row = env_.Row(id);
  ASSERT_EQ(row.state, sild::v1::DELIVERY_STATE_PENDING);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.last_error, "broker unreachable");
  // Ceilings 1 s, 2 s, 4 s, 8 s; the jitter source says "half".
  const absl::Duration expected[] = {absl::Milliseconds(500), absl::Seconds(1),
                                     absl::Seconds(2), absl::Seconds(4)};
  EXPECT_EQ(row.next_attempt, start + expected[0]);
  for (int attempt = 2; attempt <= 4; ++attempt) {
    // Not due a millisecond early.
    env_.clock().Set(row.next_attempt - absl::Milliseconds(1));
    EXPECT_EQ(*workers->RunOnce(), 0);
    env_.clock().Set(row.next_attempt);
    absl::Time now = env_.clock().Now();
    ASSERT_EQ(*workers->RunOnce(), 1);
    row = env_.Row(id);
    EXPECT_EQ(row.attempts, attempt);
    EXPECT_EQ(row.next_attempt, now + expected[attempt - 1]) << attempt;
  }
  auto failures = env_.Records(sild::v1::AUDIT_ACTION_DELIVERY_FAILURE);
  ASSERT_EQ(failures.size(), 4u);
  EXPECT_EQ(failures[0].reason_code(), "RETRYABLE");
  EXPECT_EQ(failures[0].outcome(), sild::v1::AUDIT_OUTCOME_FAILURE);
  EXPECT_EQ(failures[0].counterparty(), testing::kUifCode);
  EXPECT_THAT(failures[0].detail(), HasSubstr("next attempt in 500 ms"));
}

TEST_F(DeliveryWorkersTest, DeadLetterAfterMaxAttemptsKeepsTheLastError) {
  int64_t id = env_.Queue(kSchoolCode, testing::kUifCode);
  auto workers = Workers(0.5, /*max_attempts=*/3);
  scripted_->Then(DeliveryResult::Retryable("connection refused"));
  scripted_->Then(DeliveryResult::Retryable("connection reset"));
  scripted_->Then(DeliveryResult::Retryable("broker full"));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(workers->RunOnce().ok());
    env_.clock().Advance(absl::Seconds(8));
  }
  OutboxRow row = env_.Row(id);
  EXPECT_EQ(row.state, sild::v1::DELIVERY_STATE_DEAD);
  EXPECT_EQ(row.attempts, 3);
  EXPECT_EQ(row.last_error, "broker full");
  EXPECT_EQ(scripted_->calls(), 3);  // a dead letter is left alone

  auto failures = env_.Records(sild::v1::AUDIT_ACTION_DELIVERY_FAILURE);
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_THAT(failures[2].detail(), HasSubstr("dead letter after attempt 3"));
  EXPECT_THAT(failures[2].detail(), HasSubstr("broker full"));
  EXPECT_TRUE(env_.Records(sild::v1::AUDIT_ACTION_DELIVERY).empty());
}

TEST_F(DeliveryWorkersTest, PermanentFailureIsADeadLetterAtOnce) {
  int64_t id = env_.Queue(kSchoolCode, testing::kUifCode);
  scripted_->Then(DeliveryResult::Permanent("queue does not exist"));
  auto workers = Workers();
  ASSERT_TRUE(workers->RunOnce().ok());
  OutboxRow row = env_.Row(id);
  EXPECT_EQ(row.state, sild::v1::DELIVERY_STATE_DEAD);
  EXPECT_EQ(row.attempts, 1);
  auto failures = env_.Records(sild::v1::AUDIT_ACTION_DELIVERY_FAILURE);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].reason_code(), "PERMANENT");
}

TEST_F(DeliveryWorkersTest, RecipientWithoutAnEndpointIsPermanent) {
  // The UIF's "scripted" transport has no endpoint here.
  int64_t id = env_.Queue(kSchoolCode, testing::kUifCode);
  std::unique_ptr<EgressEndpoints> without = env_.Endpoints(nullptr);
  DeliveryWorkers workers(&env_.context(), without.get(),
                          DeliveryWorkerOptions());
  ASSERT_TRUE(workers.RunOnce().ok());
  OutboxRow row = env_.Row(id);
  EXPECT_EQ(row.state, sild::v1::DELIVERY_STATE_DEAD);
  EXPECT_THAT(row.last_error, HasSubstr("has no push endpoint"));
  EXPECT_THAT(row.last_error, HasSubstr("\"scripted\""));
}

TEST_F(DeliveryWorkersTest, ExpiredLeaseRedeliversAfterACrash) {
  std::string message_id;
  int64_t id = env_.Queue(kSchoolCode, kSocialCode, &message_id);
  auto crashed = Workers();
  // A worker claims the row and dies before delivering.
  auto claimed = crashed->Claim(10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 1u);

  auto survivor = Workers();
  EXPECT_EQ(*survivor->RunOnce(1), 0);  // the lease still protects them
  env_.clock().Advance(absl::Seconds(59));
  EXPECT_EQ(*survivor->RunOnce(1), 0);
  env_.clock().Advance(absl::Seconds(1));
  EXPECT_EQ(*survivor->RunOnce(1), 1);
  EXPECT_EQ(env_.Row(id).state, sild::v1::DELIVERY_STATE_DELIVERED);
  EXPECT_TRUE(
      std::filesystem::exists(testing::EnvelopeFilePath(drop_, message_id)));
}

TEST_F(DeliveryWorkersTest, CrashAfterDeliveringDeliversOnceInEffect) {
  std::string message_id;
  int64_t id = env_.Queue(kSchoolCode, kSocialCode, &message_id);
  auto crashed = Workers();
  auto claimed = crashed->Claim(10);
  ASSERT_TRUE(claimed.ok());
  // It delivered the file, then died before recording the result.
  const OutboxRow* file_row = nullptr;
  for (const auto& row : *claimed) {
    if (row.delivery_id == id) file_row = &row;
  }
  ASSERT_NE(file_row, nullptr);
  const EgressEndpoint* file = endpoints_->Find(kSocialCode);
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(file->Deliver({file_row}).front().outcome,
            DeliveryResult::kDelivered);
  EXPECT_EQ(env_.Row(id).state, sild::v1::DELIVERY_STATE_PENDING);

  env_.clock().Advance(absl::Minutes(2));
  auto survivor = Workers();
  ASSERT_TRUE(survivor->RunOnce(1).ok());
  EXPECT_EQ(env_.Row(id).state, sild::v1::DELIVERY_STATE_DELIVERED);
  // One file for the message id, one delivery record for the recipient.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(drop_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
  int social_deliveries = 0;
  for (const auto& r : env_.Records(sild::v1::AUDIT_ACTION_DELIVERY)) {
    if (r.counterparty() == kSocialCode) ++social_deliveries;
  }
  EXPECT_EQ(social_deliveries, 1);
}

TEST_F(DeliveryWorkersTest, ThreadsWakeWhenTheOutboxChanges) {
  DeliveryWorkerOptions options;
  options.workers = 2;
  options.idle_poll = absl::Seconds(30);  // only a wake-up can be in time
  options.owner = "test";
  DeliveryWorkers workers(&env_.context(), endpoints_.get(), options);
  env_.set_on_outbox_changed([&workers] { workers.Wake(); });
  workers.Start();
  absl::SleepFor(absl::Milliseconds(100));  // let them fall asleep
  int64_t id = env_.Queue(kSchoolCode, kSocialCode);
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (env_.Row(id).state != sild::v1::DELIVERY_STATE_DELIVERED &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(env_.Row(id).state, sild::v1::DELIVERY_STATE_DELIVERED);
  workers.Stop();
  env_.set_on_outbox_changed(nullptr);
}

TEST_F(DeliveryWorkersTest, InboxOnlyCommitsLeaveTheWorkersAsleep) {
  // Child protection pulls over the gRPC inbox; social services gets files.
  std::atomic<int> inbox_only{0};
  env_.context().on_inbox_queued = [&inbox_only] { ++inbox_only; };
  int before = env_.outbox_changes();
  int64_t inbox_row = env_.Queue(kSocialCode, testing::kChildProtectionCode);
  ASSERT_GT(inbox_row, 0);
  EXPECT_EQ(env_.Row(inbox_row).transport, "grpc-inbox");
  EXPECT_EQ(inbox_only.load(), 1);
  EXPECT_EQ(env_.outbox_changes(), before);  // the workers were not woken

  int64_t push_row = env_.Queue(kSchoolCode, kSocialCode);
  ASSERT_GT(push_row, 0);
  EXPECT_EQ(env_.Row(push_row).transport, "file");
  EXPECT_EQ(inbox_only.load(), 1);
  EXPECT_EQ(env_.outbox_changes(), before + 1);  // workers and inboxes
  env_.context().on_inbox_queued = nullptr;
}

TEST_F(DeliveryWorkersTest, StopFinishesInFlightDeliveriesAndHandsBackTheRest) {
  // 20 rows at 200 ms each would keep two workers busy for 2 s.
  scripted_ = std::make_unique<ScriptedTransport>("scripted");
  scripted_->set_delay(absl::Milliseconds(200));
  ScriptedTransport* slow_ptr = scripted_.get();
  endpoints_ = env_.Endpoints(slow_ptr);
  for (int i = 0; i < 20; ++i) env_.Queue(kSchoolCode, testing::kUifCode);

  DeliveryWorkerOptions options;
  options.workers = 2;
  options.owner = "test";
  DeliveryWorkers workers(&env_.context(), endpoints_.get(), options);
  workers.Start();
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (slow_ptr->calls() == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_GT(slow_ptr->calls(), 0);
  absl::Time stop_started = absl::Now();
  workers.Stop();
  absl::Duration stop_took = absl::Now() - stop_started;
  EXPECT_LT(stop_took, absl::Seconds(1));

  int calls = slow_ptr->calls();
  EXPECT_LT(calls, 20);
  // Every delivery that happened is recorded; no row stays claimed.
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM outbox WHERE state = ?",
                          {int64_t{sild::v1::DELIVERY_STATE_DELIVERED}}),
            calls);
  EXPECT_EQ(
      static_cast<int>(env_.Records(sild::v1::AUDIT_ACTION_DELIVERY).size()),
      calls);
  EXPECT_EQ(
      env_.QueryInt("SELECT COUNT(*) FROM outbox WHERE lease_owner <> ''"), 0);
  // The rest is delivered by the next start.
  DeliveryWorkers again(&env_.context(), endpoints_.get(), options);
  slow_ptr->set_delay(absl::ZeroDuration());
  while (*again.RunOnce() > 0) {
  }
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM outbox WHERE state = ?",
                          {int64_t{sild::v1::DELIVERY_STATE_PENDING}}),
            0);
}

}  // namespace
}  // namespace sild::delivery
