// Durable before acknowledged, across crashes: sild-gateway runs as a child
// process on a fixed port and SQLite file; referrals are submitted by several
// threads while the gateway is killed with SIGKILL three times at random
// moments and restarted. A submit that failed because the gateway died is
// retried with the same idempotency key once it is back.
//
// Then, as the recipient and the auditor would see it:
//   - every acknowledged message id reaches social services' inbox (or, when
//     the inbox service is not served, has exactly one outbox row), none is
//     lost, and after dropping duplicates by message id nothing is delivered
//     that no acknowledged submit named;
//   - a retried key answers with the original receipt, never a second
//     referral;
//   - the audit trail verifies: through the auditor's tools while the gateway
//     runs, and offline from the audit tables (RecordStreamVerifier), with
//     exactly one disclosure record per acknowledged referral.
// The random seed is printed; SILD_CRASH_SEED=N replays a run's kill times.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/audit/audit_log.h"
#include "gateway/audit/chain.h"
#include "gateway/audit/verifier.h"
#include "gateway/store/sqlite_connection.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "sild/v1/audit_service.grpc.pb.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "sild/v1/inbox_service.grpc.pb.h"
#include "sild/v1/referral_service.grpc.pb.h"
#include "tests/integration/integration_util.h"
#include "tests/testing/sildctl_runner.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using testing::BuiltBinary;

using testing::Channel;
using testing::FreePort;
using testing::GatewayWentAway;
using testing::kSocialServices;
using testing::ParentConsent;
using testing::Referral;

constexpr int kKills = 3;
constexpr int kWorkers = 8;

// What the submitters saw, by idempotency key.
struct Ledger {
  absl::Mutex mu;
  // Key -> message id of its first receipt.
  std::map<std::string, std::string> acknowledged ABSL_GUARDED_BY(mu);
  // Keys whose first attempt failed because the gateway went away.
  std::set<std::string> retried ABSL_GUARDED_BY(mu);
  // Keys never acknowledged before the end (their fate is unknown).
  std::set<std::string> unacknowledged ABSL_GUARDED_BY(mu);
  std::vector<std::string> problems ABSL_GUARDED_BY(mu);
  // The last failure a retry followed, to explain a stall.
  std::string last_failure ABSL_GUARDED_BY(mu);
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("crash");
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    config::v1::GatewayConfig config = testing::DemoGatewayConfig(dir_);
    config.set_listen_address(absl::StrCat("127.0.0.1:", port_));
    // Frequent checkpoints, so the verifiers also see signed heads that
    // were cut by a kill.
    config.mutable_audit()->set_checkpoint_every_records(50);
    config.mutable_audit()->set_checkpoint_every_ms(500);
    std::string json;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(config, &json).ok());
    config_path_ = dir_ + "/gateway.json";
    std::ofstream(config_path_) << json;
    db_path_ = dir_ + "/sild.db";
    log_path_ = dir_ + "/gateway.log";
  }

  void StartGateway() {
    gateway_ = std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{BuiltBinary("gateway/server/sild-gateway"),
                                 "--config", config_path_},
        log_path_);
    ASSERT_TRUE(WaitForHealth(absl::Seconds(20)))
        << testing::ReadTestFile(log_path_);
  }

  bool WaitForHealth(absl::Duration timeout) {
    auto stub = grpc::health::v1::Health::NewStub(Channel(port_, "school"));
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (!gateway_->Running()) return false;
      grpc::ClientContext context;
      context.set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
      context.set_wait_for_ready(true);
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
      if (stub->Check(&context, request, &response).ok() &&
          response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  bool WaitForAcknowledged(size_t count, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&ledger_.mu);
        if (ledger_.acknowledged.size() >= count) return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    absl::MutexLock lock(&ledger_.mu);
    ADD_FAILURE() << ledger_.acknowledged.size()
                  << " acknowledged, waiting for " << count << "; "
                  << attempts_.load() << " calls, " << answers_.load()
                  << " answered; last failure: " << ledger_.last_failure << "; "
                  << ledger_.problems.size() << " unexpected answers"
                  << (ledger_.problems.empty()
                          ? ""
                          : ", first: " + ledger_.problems[0]);
    return false;
  }

  void TearDown() override {
    stop_ = true;
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  // Submits one key until acknowledged or `give_up` passes.
  void SubmitUntilAcknowledged(sild::v1::ReferralService::Stub* stub,
                               const std::string& key, absl::Time give_up) {
    sild::v1::SubmitReferralRequest request = Referral(key);
    bool failed_before = false;
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      // Wait for the connection rather than fail fast on a channel still in
      // TRANSIENT_FAILURE from the kill: a waiting call makes gRPC reconnect
      // at once instead of after its backoff, as a patient client would.
      context.set_wait_for_ready(true);
      sild::v1::Receipt receipt;
      ++attempts_;
      grpc::Status status = stub->Submit(&context, request, &receipt);
      ++answers_;
      bool went_away = !status.ok() && GatewayWentAway(status.error_code());
      if (went_away && absl::Now() <= give_up) {
        failed_before = true;
        {
          absl::MutexLock lock(&ledger_.mu);
          ledger_.last_failure =
              absl::StrCat(status.error_code(), " ", status.error_message());
        }
        absl::SleepFor(absl::Milliseconds(50));
        continue;
      }
      absl::MutexLock lock(&ledger_.mu);
      if (status.ok()) {
        if (receipt.message_id().empty() || receipt.recipients_size() != 1 ||
            !receipt.recipients(0).allowed()) {
          ledger_.problems.push_back(absl::StrCat(key, ": unexpected receipt ",
                                                  receipt.ShortDebugString()));
        }
        ledger_.acknowledged[key] = receipt.message_id();
        if (failed_before) ledger_.retried.insert(key);
      } else if (went_away) {
        ledger_.unacknowledged.insert(key);
      } else {
        ledger_.problems.push_back(absl::StrCat(key, ": ", status.error_code(),
                                                " ", status.error_message()));
      }
      return;
    }
  }

  void Worker(int index) {
    auto stub = sild::v1::ReferralService::NewStub(Channel(port_, "school"));
    for (int i = 0; !stop_.load(); ++i) {
      SubmitUntilAcknowledged(stub.get(), absl::StrCat("crash-", index, "-", i),
                              absl::Now() + absl::Seconds(30));
    }
  }

  std::string Sildctl(const std::string& who,
                      const std::vector<std::string>& verb, int* exit_code) {
    testing::ProcessResult result =
        testing::RunSildctl(port_, who, verb, absl::Seconds(30));
    *exit_code = result.exit_code;
    return result.out + result.err;
  }

  std::string dir_, config_path_, db_path_, log_path_;
  int port_ = 0;
  std::unique_ptr<testing::BackgroundProcess> gateway_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> attempts_{0};
  std::atomic<int64_t> answers_{0};
  std::vector<std::thread> workers_;
  Ledger ledger_;
};

TEST_F(CrashTest, AcknowledgedReferralsSurviveSigkillExactlyOnce) {
  unsigned seed = static_cast<unsigned>(absl::ToUnixNanos(absl::Now()));
  if (const char* s = std::getenv("SILD_CRASH_SEED")) seed = std::atoi(s);
  std::cout << "SILD_CRASH_SEED=" << seed << "\n";
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> kill_after_ms(0, 2000);

  ASSERT_NO_FATAL_FAILURE(StartGateway());
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    sild::v1::GrantConsentResponse granted;
    grpc::Status status =
        sild::v1::ConsentService::NewStub(Channel(port_, "social-services"))
            ->Grant(&context, ParentConsent(), &granted);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  for (int i = 0; i < kWorkers; ++i) {
    workers_.emplace_back([this, i] { Worker(i); });
  }
  std::vector<size_t> acknowledged_at_kill;
  size_t acknowledged_before = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    // Load flows again (a few fresh acknowledgements since the restart),
    // then the kill comes at a random moment.
    ASSERT_TRUE(
        WaitForAcknowledged(acknowledged_before + 20, absl::Seconds(20)))
        << "no progress after restart " << kill;
    absl::SleepFor(absl::Milliseconds(kill_after_ms(random)));
    {
      absl::MutexLock lock(&ledger_.mu);
      acknowledged_before = ledger_.acknowledged.size();
      acknowledged_at_kill.push_back(acknowledged_before);
    }
    gateway_->Signal(SIGKILL);
    EXPECT_EQ(gateway_->Wait(absl::Seconds(10)), 128 + SIGKILL);
    // Down for a moment: submits in the gap fail and are retried.
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_NO_FATAL_FAILURE(StartGateway()) << "restart " << kill + 1;
  }
  EXPECT_TRUE(WaitForAcknowledged(acknowledged_before + 20, absl::Seconds(20)))
      << "no progress after the last restart";
  absl::SleepFor(absl::Milliseconds(500));
  stop_ = true;
  for (auto& worker : workers_) worker.join();
  workers_.clear();

  std::map<std::string, std::string> acknowledged;
  std::set<std::string> retried;
  {
    absl::MutexLock lock(&ledger_.mu);
    EXPECT_TRUE(ledger_.problems.empty())
        << ledger_.problems.size()
        << " unexpected answers, first: " << ledger_.problems.front();
    EXPECT_TRUE(ledger_.unacknowledged.empty())
        << ledger_.unacknowledged.size()
        << " keys never acknowledged after the restarts";
    acknowledged = ledger_.acknowledged;
    retried = ledger_.retried;
  }
  std::cout << acknowledged.size() << " referrals acknowledged, "
            << retried.size()
            << " after a retry; acknowledged before each kill:";
  for (size_t n : acknowledged_at_kill) std::cout << " " << n;
  std::cout << "\n";
  // Load ran before every kill and after the last restart.
  for (size_t i = 1; i < acknowledged_at_kill.size(); ++i) {
    EXPECT_GT(acknowledged_at_kill[i], acknowledged_at_kill[i - 1]);
  }
  EXPECT_GT(acknowledged.size(), acknowledged_at_kill.back());
  std::set<std::string> acknowledged_ids;
  for (const auto& [key, id] : acknowledged) acknowledged_ids.insert(id);
  // Distinct keys never share a message.
  EXPECT_EQ(acknowledged_ids.size(), acknowledged.size());

  // A retried key answers with its original receipt: every key that needed
  // a retry, and some that did not, submitted once more.
  {
    auto stub = sild::v1::ReferralService::NewStub(Channel(port_, "school"));
    std::vector<std::string> keys(retried.begin(), retried.end());
    int others = 0;
    for (const auto& [key, id] : acknowledged) {
      if (!retried.count(key) && others++ < 20) keys.push_back(key);
    }
    for (const std::string& key : keys) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      sild::v1::Receipt receipt;
      grpc::Status status = stub->Submit(&context, Referral(key), &receipt);
      ASSERT_TRUE(status.ok()) << key << ": " << status.error_message();
      EXPECT_EQ(receipt.message_id(), acknowledged[key]) << key;
      EXPECT_TRUE(receipt.duplicate()) << key;
    }
  }

  // The recipient's view: its inbox, de-duplicated by message id.
  bool inbox_served = false;
  {
    testing::InboxDrain inbox = testing::DrainInbox(
        port_, "social-services", acknowledged_ids.size(), absl::Seconds(20));
    const grpc::Status& status = inbox.status;
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      std::cout << "inbox service not served: checking the outbox table\n";
    } else {
      inbox_served = true;
      std::cout << "inbox: " << inbox.distinct.size()
                << " distinct messages delivered to social services\n";
      EXPECT_EQ(inbox.distinct, acknowledged_ids)
          << "inbox: " << inbox.distinct.size() << " distinct messages, "
          << acknowledged_ids.size() << " acknowledged; stream ended with "
          << status.error_code() << " " << status.error_message();
    }
  }

  // The auditor's view while the gateway runs: sildctl audit verify, or the
  // AuditService.Verify call it makes when this sildctl has no such verb.
  {
    int exit_code = -1;
    std::string out = Sildctl("auditor", {"audit", "verify"}, &exit_code);
    // 2: this sildctl has no such verb; 127: no sildctl built.
    if (exit_code == 2 || exit_code == 127) {
      std::cout << "sildctl audit verify unavailable: AuditService.Verify\n";
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      sild::v1::AuditVerifyRequest request;
      sild::v1::AuditVerifyResponse response;
      grpc::Status status =
          sild::v1::AuditService::NewStub(Channel(port_, "auditor"))
              ->Verify(&context, request, &response);
      if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
        ASSERT_TRUE(status.ok()) << status.error_message();
        EXPECT_TRUE(response.intact()) << response.DebugString();
        EXPECT_GT(response.records_checked(),
                  static_cast<int64_t>(acknowledged.size()));
      }
    } else {
      std::cout << "sildctl audit verify: exit " << exit_code << "\n";
      EXPECT_EQ(exit_code, 0) << out;
    }
  }

  gateway_->Signal(SIGTERM);
  EXPECT_EQ(gateway_->Wait(absl::Seconds(20)), 0);

  // The store after a clean stop, read directly.
  auto sql = SqliteConnection::Open(db_path_, {.read_only = true});
  ASSERT_TRUE(sql.ok()) << sql.status();

  // Exactly one outbox row for social services per acknowledged referral,
  // and none for a message nobody acknowledged.
  auto rows = (*sql)->Query(
      "SELECT message_id, COUNT(*) FROM outbox WHERE recipient = ? "
      "GROUP BY message_id",
      {std::string(kSocialServices)});
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::set<std::string> queued;
  for (const SqlRow& row : *rows) {
    queued.insert(row.Text(0));
    EXPECT_EQ(row.Int(1), 1) << "outbox rows for " << row.Text(0);
  }
  EXPECT_EQ(queued, acknowledged_ids)
      << "outbox: " << queued.size() << " messages for social services, "
      << acknowledged_ids.size() << " acknowledged";

  // The audit chain from its tables: every record hash and link recomputed,
  // and one disclosure record per acknowledged referral.
  auto chains = AuditLog::ChainIds(**sql);
  ASSERT_TRUE(chains.ok()) << chains.status();
  ASSERT_EQ(chains->size(), 1u);
  auto records = AuditLog::ReadRecords(**sql, chains->front(), 1, 0);
  ASSERT_TRUE(records.ok()) << records.status();
  auto verifier = audit::RecordStreamVerifier::Create(chains->front(), 1,
                                                      audit::GenesisHash());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  std::map<std::string, int> disclosures;
  for (const auto& record : *records) {
    verifier->Add(record);
    if (record.action() == sild::v1::AUDIT_ACTION_DISCLOSURE &&
        record.message_kind() == sild::v1::MESSAGE_KIND_REFERRAL) {
      ++disclosures[record.message_id()];
    }
  }
  EXPECT_TRUE(verifier->report().ok()) << verifier->report().Describe();
  EXPECT_EQ(verifier->report().records_verified,
            static_cast<int64_t>(records->size()));
  EXPECT_EQ(disclosures.size(), acknowledged_ids.size());
  for (const auto& [id, count] : disclosures) {
    EXPECT_EQ(count, 1) << "disclosure records for " << id;
    EXPECT_TRUE(acknowledged_ids.count(id))
        << "disclosed, never acknowledged: " << id;
  }
  std::cout << records->size() << " audit records verified; inbox "
            << (inbox_served ? "checked" : "not served") << "\n";
}

}  // namespace
}  // namespace sild
