// Transport health: the monitor logs and publishes changes of every
// connector transport's health(); end to end, an agency's egress going away
// shows on the gRPC health service (sild.transport.egress.<code>) and in
// `sildctl transports list`, and comes back when the transport recovers.
#include "gateway/delivery/transport_health.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/server/server.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "sild/connectors/v1/example.pb.h"
#include "tests/gateway/delivery/inbox_test_util.h"
#include "tests/testing/sildctl_runner.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_env.h"

namespace sild::delivery {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Records what the monitor published.
struct Published {
  absl::Mutex mu;
  std::map<std::string, std::vector<bool>> calls;
  TransportHealthMonitor::Publisher Publisher() {
    return [this](const std::string& name, bool serving) {
      absl::MutexLock lock(&mu);
      calls[name].push_back(serving);
    };
  }
  std::vector<bool> For(const std::string& name) {
    absl::MutexLock lock(&mu);
    return calls[name];
  }
};

TEST(TransportHealthMonitorTest, PublishesChangesOnlyAndKeepsTheLastError) {
  absl::Mutex mu;
  absl::Status egress_health;  // guarded by mu
  std::vector<TransportProbe> probes;
  probes.push_back(
      {"75001023", sild::v1::TRANSPORT_DIRECTION_EGRESS, "nats", [&] {
         absl::MutexLock lock(&mu);
         return egress_health;
       }});
  probes.push_back({"75001017", sild::v1::TRANSPORT_DIRECTION_INGRESS, "file",
                    [] { return absl::OkStatus(); }});
  TransportHealthMonitor monitor(std::move(probes));
  Published published;
  // A long interval: the test drives the probes with ProbeNow().
  monitor.Start(published.Publisher(), absl::Hours(1));
  EXPECT_EQ(published.For("sild.transport.egress.75001023"),
            std::vector<bool>{true});
  EXPECT_EQ(published.For("sild.transport.ingress.75001017"),
            std::vector<bool>{true});

  {
    absl::MutexLock lock(&mu);
    egress_health = absl::UnavailableError("connection refused");
  }
  monitor.ProbeNow();
  monitor.ProbeNow();  // no change: not published again
  EXPECT_EQ(published.For("sild.transport.egress.75001023"),
            (std::vector<bool>{true, false}));
  std::vector<sild::v1::TransportStatus> states = monitor.Snapshot();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].registry_code(), "75001023");
  EXPECT_EQ(states[0].transport(), "nats");
  EXPECT_FALSE(states[0].healthy());
  EXPECT_EQ(states[0].detail(), "connection refused");
  EXPECT_GT(states[0].since_unix_ms(), 0);
  EXPECT_TRUE(states[1].healthy());

  {
    absl::MutexLock lock(&mu);
    egress_health = absl::OkStatus();
  }
  monitor.ProbeNow();
  EXPECT_EQ(published.For("sild.transport.egress.75001023"),
            (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(monitor.Snapshot()[0].healthy());
  EXPECT_EQ(published.For("sild.transport.ingress.75001017"),
            std::vector<bool>{true});
  monitor.Stop();
}

TEST(TransportHealthMonitorTest, TimerProbesWithoutBeingAsked) {
  std::atomic<int> probed{0};
  std::vector<TransportProbe> probes;
  probes.push_back(
      {"75001023", sild::v1::TRANSPORT_DIRECTION_EGRESS, "file", [&] {
         ++probed;
         return absl::OkStatus();
       }});
  TransportHealthMonitor monitor(std::move(probes));
  monitor.Start(nullptr, absl::Milliseconds(10));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (probed.load() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  monitor.Stop();
  EXPECT_GE(probed.load(), 3);
  int after_stop = probed.load();
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(probed.load(), after_stop) << "probed after Stop()";
}

class TransportHealthGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("transport-health");
    outbox_ = dir_ + "/social-services-in";
    fs::create_directories(outbox_);
    config_ = testing::DemoGatewayConfig(dir_);
    testing::AddSupportReferralRule(config_);
    for (config::v1::AgencyConfig& agency : *config_.mutable_agencies()) {
      if (agency.registry_code() != testing::kSocialCode) continue;
      agency.set_codec("social-json");
      agency.set_transport("file");
      sild::connectors::v1::FileTransportConfig file;
      file.set_directory(outbox_);
      agency.mutable_transport_config()->PackFrom(file);
    }
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
  }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health(
      const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(
        testing::AgencyChannel(server_->port(), "auditor"));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
    return response.status();
  }

  // Waits until `service` reports `want` (probes run every 2 s).
  bool WaitForHealth(
      const std::string& service,
      grpc::health::v1::HealthCheckResponse::ServingStatus want) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      if (Health(service) == want) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  testing::ProcessResult Sildctl(const std::string& agency,
                                 std::vector<std::string> args) {
    args.insert(args.begin(), {"--timeout", "20"});
    return testing::RunSildctl(server_->port(), agency, args,
                               absl::Seconds(60));
  }

  std::string dir_;
  std::string outbox_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(TransportHealthGatewayTest, LostEgressShowsInHealthAndSildctl) {
  const std::string service =
      absl::StrCat("sild.transport.egress.", testing::kSocialCode);
  using Serving = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(Health(service), Serving::SERVING);
  testing::ProcessResult healthy = Sildctl("auditor", {"transports", "list"});
  ASSERT_EQ(healthy.exit_code, 0) << healthy.err;
  EXPECT_THAT(healthy.out, HasSubstr("75001023  egress  file  healthy"));

  // The recipient's folder disappears (an unmounted share, a lost broker).
  fs::remove_all(outbox_);
  ASSERT_TRUE(WaitForHealth(service, Serving::NOT_SERVING));
  // The gateway as a whole keeps serving the other agencies.
  EXPECT_EQ(Health(""), Serving::SERVING);
  testing::ProcessResult down =
      Sildctl("auditor", {"transports", "list", "--unhealthy-fails"});
  EXPECT_NE(down.exit_code, 0);
  EXPECT_THAT(down.out, HasSubstr("75001023  egress  file  UNAVAILABLE: "));
  EXPECT_THAT(down.out, HasSubstr("not a folder"));
  testing::ProcessResult json =
      Sildctl("auditor", {"--json", "transports", "list"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"registry_code\":\"75001023\""));

  fs::create_directories(outbox_);
  EXPECT_TRUE(WaitForHealth(service, Serving::SERVING));
}

TEST_F(TransportHealthGatewayTest, OnlyOperatorsListTransports) {
  testing::ProcessResult school = Sildctl("school", {"transports", "list"});
  EXPECT_NE(school.exit_code, 0);
  EXPECT_THAT(school.err, HasSubstr("NOT_OPERATOR"));
}

}  // namespace
}  // namespace sild::delivery
