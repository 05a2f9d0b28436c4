// Scale-out on PostgreSQL: three sild-gateway processes share one database
// (started together, so their migrations race), referrals are submitted to
// all of them by several threads, and one replica is killed with SIGKILL in
// the middle of the load. A submit that failed because its replica died is
// retried with the same idempotency key on another replica.
//
// Then, as the recipient and the auditor would see it:
//   - every acknowledged referral reaches social services, none is lost, and
//     after dropping duplicates by message id nothing arrives that no
//     acknowledged submit named. Social services take files from a folder all
//     replicas deliver to: every replica's workers claim rows (FOR UPDATE SKIP
//     LOCKED) under a 1 s lease, so rows the killed replica held go to the
//     others once the lease runs out;
//   - the database holds exactly one outbox row per acknowledged referral;
//   - every replica's audit chain verifies (AuditService.Verify checks all).
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/store/postgres_connection.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "sild/v1/audit_service.grpc.pb.h"
#include "sild/v1/delivery_service.pb.h"
#include "sild/v1/inbox_service.grpc.pb.h"
#include "tests/integration/integration_util.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/subprocess.h"

namespace sild {
namespace {

using testing::Channel;
using testing::GatewayWentAway;
using testing::kSocialServices;
using testing::Referral;

constexpr int kReplicas = 3;
constexpr int kVictim = 2;
constexpr int kWorkers = 6;

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::PostgresTestServer::Shared();
    ASSERT_TRUE(server.ok()) << server.status();
    auto dsn = (*server)->NewSchemaDsn();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    dir_ = testing::MakeTempDir("scaleout");
    // The file transport waits for a missing folder (a share may return):
    // the recipient's folder exists before anything is sent.
    std::filesystem::create_directories(Folder());
    for (int i = 0; i < kReplicas; ++i) {
      ports_[i] = testing::FreePort();
      ASSERT_GT(ports_[i], 0);
      config::v1::GatewayConfig config = testing::DemoGatewayConfig(dir_);
      config.set_listen_address(absl::StrCat("127.0.0.1:", ports_[i]));
      config.set_instance_name(absl::StrCat("sild-replica-", i));
      std::string key_file = config.store().payload_key_file();
      config.mutable_store()->mutable_postgres()->set_dsn(dsn_);
      config.mutable_store()->set_payload_key_file(key_file);
      for (auto& agency : *config.mutable_agencies()) {
        if (agency.registry_code() != kSocialServices) continue;
        agency.set_transport("file");
        agency.set_transport_target(Folder());
      }
      config.mutable_delivery()->set_lease_ms(1000);
      config.mutable_audit()->set_checkpoint_every_records(50);
      config.mutable_audit()->set_checkpoint_every_ms(500);
      std::string json;
      ASSERT_TRUE(
          google::protobuf::util::MessageToJsonString(config, &json).ok());
      std::ofstream(ConfigPath(i)) << json;
    }
  }

  void TearDown() override {
    stop_ = true;
    for (auto& worker : workers_) worker.join();
    for (auto& replica : replicas_) {
      if (replica && replica->Running()) {
        replica->Signal(SIGTERM);
        replica->Wait(absl::Seconds(20));
      }
    }
  }

  // Social services' folder, shared by every replica.
  std::string Folder() const { return dir_ + "/social-services-in"; }

  // Message ids of the files in the folder.
  std::set<std::string> Delivered() const {
    std::set<std::string> ids;
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator(Folder(), error)) {
      if (entry.path().extension() == ".binpb") {
        ids.insert(entry.path().stem().string());
      }
    }
    return ids;
  }

  std::string ConfigPath(int i) const {
    return absl::StrCat(dir_, "/gateway-", i, ".json");
  }
  std::string LogPath(int i) const {
    return absl::StrCat(dir_, "/gateway-", i, ".log");
  }

  bool Healthy(int i, absl::Duration timeout) {
    auto stub = grpc::health::v1::Health::NewStub(Channel(ports_[i], "school"));
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline && replicas_[i]->Running()) {
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

  // Submits `key` to replica `first`, moving to the next live replica when
  // one goes away, until acknowledged.
  void SubmitUntilAcknowledged(const std::string& key, int first) {
    sild::v1::SubmitReferralRequest request = Referral(key);
    absl::Time give_up = absl::Now() + absl::Seconds(60);
    for (int attempt = 0; absl::Now() < give_up; ++attempt) {
      int replica = (first + attempt) % kReplicas;
      if (replica == kVictim && killed_) continue;
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      sild::v1::Receipt receipt;
      grpc::Status status =
          stubs_[replica]->Submit(&context, request, &receipt);
      absl::MutexLock lock(&mu_);
      if (status.ok()) {
        acknowledged_[key] = receipt.message_id();
        if (attempt > 0) retried_.insert(key);
        return;
      }
      if (!GatewayWentAway(status.error_code())) {
        problems_.push_back(absl::StrCat(key, ": ", status.error_code(), " ",
                                         status.error_message()));
        return;
      }
    }
    absl::MutexLock lock(&mu_);
    problems_.push_back(absl::StrCat(key, ": never acknowledged"));
  }

  std::string dsn_;
  std::string dir_;
  int ports_[kReplicas] = {};
  std::unique_ptr<testing::BackgroundProcess> replicas_[kReplicas];
  std::unique_ptr<sild::v1::ReferralService::Stub> stubs_[kReplicas];
  std::atomic<bool> stop_{false};
  std::atomic<bool> killed_{false};
  std::vector<std::thread> workers_;
  absl::Mutex mu_;
  std::map<std::string, std::string> acknowledged_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> retried_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ScaleOutTest, KilledReplicaLosesNothingAndEveryChainVerifies) {
  // Started together: their schema migrations race on one database.
  for (int i = 0; i < kReplicas; ++i) {
    replicas_[i] = std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{
            testing::BuiltBinary("gateway/server/sild-gateway"), "--config",
            ConfigPath(i)},
        LogPath(i));
  }
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(Healthy(i, absl::Seconds(30)))
        << "replica " << i << ":\n"
        << testing::ReadTestFile(LogPath(i));
    stubs_[i] =
        sild::v1::ReferralService::NewStub(Channel(ports_[i], "school"));
  }
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    sild::v1::GrantConsentResponse granted;
    grpc::Status status =
        sild::v1::ConsentService::NewStub(Channel(ports_[0], "social-services"))
            ->Grant(&context, testing::ParentConsent(), &granted);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  for (int w = 0; w < kWorkers; ++w) {
    workers_.emplace_back([this, w] {
      for (int n = 0; !stop_; ++n) {
        SubmitUntilAcknowledged(absl::StrCat("scale-", w, "-", n),
                                (w + n) % kReplicas);
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(1500));
  size_t before_kill;
  {
    absl::MutexLock lock(&mu_);
    before_kill = acknowledged_.size();
  }
  replicas_[kVictim]->Signal(SIGKILL);
  killed_ = true;
  replicas_[kVictim]->Wait(absl::Seconds(10));
  absl::SleepFor(absl::Milliseconds(1500));
  stop_ = true;
  for (auto& worker : workers_) worker.join();
  workers_.clear();

  std::map<std::string, std::string> acknowledged;
  {
    absl::MutexLock lock(&mu_);
    ASSERT_TRUE(problems_.empty())
        << problems_.size() << " problems, first: " << problems_.front();
    acknowledged = acknowledged_;
    std::cout << acknowledged.size() << " referrals acknowledged ("
              << before_kill << " before the kill), " << retried_.size()
              << " answered by another replica than first chosen\n";
  }
  EXPECT_GT(before_kill, 0u);
  EXPECT_GT(acknowledged.size(), before_kill) << "no load after the kill";
  std::set<std::string> acknowledged_ids;
  for (const auto& [key, id] : acknowledged) acknowledged_ids.insert(id);
  EXPECT_EQ(acknowledged_ids.size(), acknowledged.size());

  // The recipient's view: one file per message id in its folder.
  {
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    std::set<std::string> delivered = Delivered();
    while (delivered.size() < acknowledged_ids.size() &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      delivered = Delivered();
    }
    EXPECT_EQ(delivered, acknowledged_ids)
        << delivered.size() << " delivered, " << acknowledged_ids.size()
        << " acknowledged";
  }

  // Every replica's chain, verified by a survivor.
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    sild::v1::AuditVerifyResponse verified;
    grpc::Status status =
        sild::v1::AuditService::NewStub(Channel(ports_[1], "auditor"))
            ->Verify(&context, sild::v1::AuditVerifyRequest(), &verified);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(verified.intact()) << verified.first_failure().DebugString();
    EXPECT_EQ(verified.chains_size(), kReplicas);
    EXPECT_GT(verified.records_checked(),
              static_cast<int64_t>(acknowledged.size()));
  }

  // Exactly one outbox row for social services per acknowledged referral.
  auto sql = PostgresConnection::Open(dsn_);
  ASSERT_TRUE(sql.ok()) << sql.status();
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
  EXPECT_EQ(queued, acknowledged_ids);
  auto undelivered = (*sql)->Query(
      "SELECT COUNT(*) FROM outbox WHERE recipient = ? AND state <> ?",
      {std::string(kSocialServices),
       int64_t{sild::v1::DELIVERY_STATE_DELIVERED}});
  ASSERT_TRUE(undelivered.ok()) << undelivered.status();
  EXPECT_EQ((*undelivered)[0].Int(0), 0) << "rows not marked delivered";
}

}  // namespace
}  // namespace sild
