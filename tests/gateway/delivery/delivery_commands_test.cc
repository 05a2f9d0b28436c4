// sildctl's inbox and deliveries verbs, running the built sildctl binary
// against a gateway in this process over mTLS.
#include <string>
#include <vector>

#include "gateway/server/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gateway/delivery/inbox_test_util.h"
#include "tests/testing/sildctl_runner.h"
#include "tests/testing/subprocess.h"

namespace sild {
namespace {

using ::testing::HasSubstr;
using testing::ProcessResult;

class DeliveryCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("delivery-sildctl");
    config_ = testing::DemoGatewayConfig(dir_);
    testing::AddSupportReferralRule(config_);
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  ProcessResult Sildctl(const std::string& agency,
                        std::vector<std::string> args) {
    args.insert(args.begin(), {"--timeout", "20"});
    return testing::RunSildctl(server_->port(), agency, args,
                               absl::Seconds(60));
  }

  std::string Submit(const std::string& key) {
    v1::Receipt receipt;
    grpc::Status status = testing::SubmitReferral(
        server_->port(), "school", testing::SupportReferral(key), &receipt);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return receipt.message_id();
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(DeliveryCommandsTest, InboxWatchPrintsAndAcknowledges) {
  std::string id = Submit("k-watch");
  ProcessResult watch =
      Sildctl("social-services", {"inbox", "watch", "--count", "1", "--ack"});
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_THAT(watch.out, HasSubstr(id));
  EXPECT_THAT(watch.out, HasSubstr("referral  from 75001017"));
  EXPECT_THAT(watch.out, HasSubstr("Absent most Mondays"));
  EXPECT_THAT(watch.out, ::testing::Not(HasSubstr(testing::kPupil)));

  // Acknowledged: the operator sees it delivered, and it does not come again.
  ProcessResult list =
      Sildctl("auditor", {"deliveries", "list", "--state", "delivered"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr(id));
  EXPECT_THAT(list.out, HasSubstr("to 75001023 by grpc-inbox"));

  std::string second = Submit("k-watch-2");
  ProcessResult json =
      Sildctl("social-services", {"--json", "inbox", "watch", "--count", "1"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"cursor\""));
  EXPECT_THAT(json.out, HasSubstr(second));
  EXPECT_THAT(json.out, ::testing::Not(HasSubstr(id)));
}

TEST_F(DeliveryCommandsTest, DeliveriesVerbsNeedAnOperator) {
  ProcessResult list = Sildctl("school", {"deliveries", "list"});
  EXPECT_EQ(list.exit_code, 1);
  EXPECT_THAT(list.err + list.out, HasSubstr("NOT_OPERATOR"));

  ProcessResult missing =
      Sildctl("auditor", {"deliveries", "replay", "424242"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err + missing.out, HasSubstr("DELIVERY_NOT_FOUND"));

  ProcessResult usage = Sildctl("auditor", {"deliveries", "replay", "x"});
  EXPECT_EQ(usage.exit_code, 2);
  ProcessResult bad_state =
      Sildctl("auditor", {"deliveries", "list", "--state", "lost"});
  EXPECT_EQ(bad_state.exit_code, 2);

  Submit("k-list");
  ProcessResult pending =
      Sildctl("auditor", {"deliveries", "list", "--state", "pending",
                          "--recipient", testing::kSocialCode});
  ASSERT_EQ(pending.exit_code, 0) << pending.err;
  EXPECT_THAT(pending.out, HasSubstr("  pending  to 75001023"));
}

}  // namespace
}  // namespace sild
