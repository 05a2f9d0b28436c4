// The sild-gateway and sildctl binaries as an operator runs them.
#include <signal.h>

#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/sildctl_runner.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using testing::BuiltBinary;
using ::testing::HasSubstr;
using testing::RunProcess;

class GatewayProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("process");
    config_ = testing::DemoGatewayConfig(dir_);
  }

  std::string WriteConfig(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string ConfigJson() {
    std::string json;
    EXPECT_TRUE(
        google::protobuf::util::MessageToJsonString(config_, &json).ok());
    return json;
  }

  // Runs the gateway expecting it to refuse the config.
  testing::ProcessResult RunGateway(const std::string& config_path) {
    return RunProcess(
        {BuiltBinary("gateway/server/sild-gateway"), "--config", config_path},
        absl::Seconds(20));
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
};

TEST_F(GatewayProcessTest, MissingConfigFileExitsNonZero) {
  auto result = RunGateway(dir_ + "/absent.json");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("absent.json: no such file"));
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("gateway listening")));
}

TEST_F(GatewayProcessTest, BadJsonExitsNonZero) {
  auto result = RunGateway(WriteConfig("bad.json", "{\"agencies\": [}"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("BAD_JSON"));
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("gateway listening")));
}

TEST_F(GatewayProcessTest, UnknownFieldExitsNonZeroNamingIt) {
  std::string json = ConfigJson();
  json.insert(1, "\"listenAdress\":\"127.0.0.1:1\",");
  auto result = RunGateway(WriteConfig("unknown.json", json));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("listenAdress"));
  EXPECT_THAT(result.err, HasSubstr("UNKNOWN_FIELD"));
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("gateway listening")));
}

TEST_F(GatewayProcessTest, DuplicateAgencyExitsNonZeroNamingIt) {
  *config_.add_agencies() = config_.agencies(3);
  auto result = RunGateway(WriteConfig("dup.json", ConfigJson()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("DUPLICATE_AGENCY"));
  EXPECT_THAT(result.err, HasSubstr("agencies[7].registry_code"));
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("gateway listening")));
}

TEST_F(GatewayProcessTest, CheckConfigValidatesWithoutListening) {
  auto result =
      RunProcess({BuiltBinary("gateway/server/sild-gateway"), "--config",
                  WriteConfig("ok.json", ConfigJson()), "--check-config"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("is valid (7 agencies)"));
}

// Picks the port the gateway logged, waiting for the line.
int WaitForPort(const std::string& log_path) {
  for (int i = 0; i < 200; ++i) {
    std::string log = testing::ReadTestFile(log_path);
    size_t at = log.find("\"port\":\"");
    if (at != std::string::npos) {
      return std::atoi(log.c_str() + at + 8);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return 0;
}

TEST_F(GatewayProcessTest, ServesSildctlAndStopsCleanlyOnSigterm) {
  std::string config = WriteConfig("gateway.json", ConfigJson());
  std::string log = dir_ + "/gateway.log";
  testing::BackgroundProcess gateway(
      {BuiltBinary("gateway/server/sild-gateway"), "--config", config}, log);
  int port = WaitForPort(log);
  ASSERT_GT(port, 0) << testing::ReadTestFile(log);

  auto sildctl = [&](const std::string& who,
                     const std::vector<std::string>& verb) {
    return testing::RunSildctl(port, who, verb, absl::Seconds(20));
  };
  auto health = sildctl("school", {"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_THAT(health.out, HasSubstr("SERVING"));

  auto whoami = sildctl("social-services", {"whoami", "--json"});
  EXPECT_EQ(whoami.exit_code, 0) << whoami.err;
  EXPECT_THAT(whoami.out, HasSubstr("\"registry_code\":\"75001023\""));

  auto refused = sildctl("unknown-agency", {"whoami"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(refused.err, HasSubstr("UNKNOWN_AGENCY"));

  auto usage = sildctl("school", {"no-such-verb"});
  EXPECT_EQ(usage.exit_code, 2);

  gateway.Signal(SIGTERM);
  EXPECT_EQ(gateway.Wait(absl::Seconds(20)), 0);
  std::string lines = testing::ReadTestFile(log);
  EXPECT_THAT(lines, HasSubstr("\"msg\":\"gateway stopped\""));
  // Every log line is one JSON object.
  std::istringstream in(lines);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
  }
}

}  // namespace
}  // namespace sild
