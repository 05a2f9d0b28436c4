// sildctl connectors, run as the real binary: it lists what the registry of
// this build holds, in both output forms.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/subprocess.h"

namespace sild {
namespace {

using sild::testing::BuiltBinary;
using sild::testing::ProcessResult;
using sild::testing::RunProcess;
using ::testing::HasSubstr;

TEST(ConnectorsCommandTest, ListsCodecsAndTransports) {
  ProcessResult listed =
      RunProcess({BuiltBinary("gateway/sildctl/sildctl"), "connectors"},
                 absl::Seconds(30));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("fhir-r4"));
  EXPECT_THAT(listed.out, HasSubstr("application/fhir+json"));
  EXPECT_THAT(listed.out, HasSubstr("sild.connectors.v1.FileTransportConfig"));
}

TEST(ConnectorsCommandTest, JsonNamesKindsAndConfigTypes) {
  ProcessResult listed = RunProcess(
      {BuiltBinary("gateway/sildctl/sildctl"), "--json", "connectors"},
      absl::Seconds(30));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  nlohmann::json json = nlohmann::json::parse(listed.out);
  bool csv_found = false;
  for (const auto& codec : json.at("codecs")) {
    if (codec.at("name") != "csv-referral") continue;
    csv_found = true;
    EXPECT_EQ(codec.at("kinds"), nlohmann::json::array({"REFERRAL"}));
    EXPECT_EQ(codec.at("config"), "sild.connectors.v1.CsvReferralCodecConfig");
  }
  EXPECT_TRUE(csv_found) << listed.out;
  ASSERT_FALSE(json.at("egress_transports").empty());
  ASSERT_FALSE(json.at("ingress_transports").empty());
}

TEST(ConnectorsCommandTest, RefusesArguments) {
  ProcessResult listed = RunProcess(
      {BuiltBinary("gateway/sildctl/sildctl"), "connectors", "--bogus", "x"},
      absl::Seconds(30));
  EXPECT_NE(listed.exit_code, 0);
}

}  // namespace
}  // namespace sild
