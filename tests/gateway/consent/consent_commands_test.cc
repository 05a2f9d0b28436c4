// sildctl's consent and rules verbs, running the built sildctl binary against
// a gateway in this process over mTLS.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gateway/server/server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "sild/v1/consent_service.pb.h"
#include "tests/gateway/consent/consent_test_util.h"
#include "tests/testing/sildctl_runner.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::testing::HasSubstr;
using testing::kChild;
using ::testing::Not;
using testing::ProcessResult;

class ConsentCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("consent-sildctl");
    config_ = testing::DemoGatewayConfig(dir_);
    auto* rule = config_.add_rules();
    rule->set_id("child-protection-notification");
    rule->set_citation("Child Protection Act § 27");
    rule->set_description("Anyone who learns of a child in need notifies.");
    rule->add_recipient_kinds(v1::AGENCY_KIND_CHILD_PROTECTION);
    rule->add_purposes(v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION);
    rule->add_message_kinds(v1::MESSAGE_KIND_REFERRAL);
    rule->add_categories(v1::DATA_CATEGORY_IDENTITY);
    auto server = GatewayServer::Start(config_, &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  ProcessResult Sildctl(const std::string& agency,
                        std::vector<std::string> args) {
    return testing::RunSildctl(server_->port(), agency, args,
                               absl::Seconds(30));
  }

  std::vector<std::string> GrantArgs(const std::string& subject = kChild) {
    return {"consent",
            "grant",
            "--subject",
            subject,
            "--grantor",
            "parent",
            "--representative-code",
            testing::kParent,
            "--representative-name",
            "Mari Tamm",
            "--recipient",
            testing::kSchoolHealth,
            "--purpose",
            "support-service",
            "--category",
            "health",
            "--category",
            "education",
            "--from",
            "2025-01-01",
            "--until",
            "2025-12-31"};
  }

  std::vector<std::string> CheckArgs() {
    return {
        "consent",    "check",           "--recipient", testing::kSchoolHealth,
        "--purpose",  "support-service", "--subject",   kChild,
        "--kind",     "referral",        "--category",  "health",
        "--category", "education"};
  }

  ManualClock clock_{testing::TestNow()};
  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(ConsentCommandsTest, GrantCheckWithdrawCheck) {
  std::vector<std::string> grant = GrantArgs();
  grant.push_back("--json");
  ProcessResult granted = Sildctl("social-services", grant);
  ASSERT_EQ(granted.exit_code, 0) << granted.err;
  v1::GrantConsentResponse response;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(granted.out, &response).ok())
      << granted.out;
  const std::string id = response.consent().consent_id();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(response.consent().data_categories_size(), 2);
  EXPECT_EQ(response.consent().grantor().representative().person().given_name(),
            "Mari");

  ProcessResult allowed = Sildctl("school", CheckArgs());
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_THAT(allowed.out, HasSubstr("ALLOW OK\n"));
  EXPECT_THAT(allowed.out, HasSubstr("basis:     consent " + id));

  ProcessResult withdrawn = Sildctl(
      "social-services", {"consent", "withdraw", id, "--note", "by phone"});
  ASSERT_EQ(withdrawn.exit_code, 0) << withdrawn.err;
  EXPECT_THAT(withdrawn.out, HasSubstr("status:       withdrawn"));
  EXPECT_THAT(withdrawn.out, HasSubstr("note:         by phone"));

  ProcessResult denied = Sildctl("school", CheckArgs());
  ASSERT_EQ(denied.exit_code, 0) << denied.err;
  EXPECT_THAT(denied.out, HasSubstr("DENY CONSENT_WITHDRAWN"));

  ProcessResult history = Sildctl("school-health", {"consent", "history", id});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr("version 1"));
  EXPECT_THAT(history.out, HasSubstr("version 2"));

  ProcessResult listed =
      Sildctl("school-health",
              {"consent", "list", "--recipient", testing::kSchoolHealth});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(id + "  v2  withdrawn  support-service"));

  ProcessResult got = Sildctl("social-services", {"consent", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_THAT(got.out, HasSubstr("grantor:      parent Mari Tamm"));
  EXPECT_THAT(got.out, HasSubstr("valid:        from 2025-01-01 until "
                                 "2026-01-01 (exclusive)"));
}

TEST_F(ConsentCommandsTest, RefusalsShowTheReasonAndField) {
  ProcessResult school = Sildctl("school", GrantArgs());
  EXPECT_EQ(school.exit_code, 1);
  EXPECT_THAT(school.err, HasSubstr("NOT_CONSENT_RECORDER"));

  ProcessResult bad = Sildctl("social-services", GrantArgs("51205280106"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("INVALID_PERSONAL_CODE"));
  EXPECT_THAT(bad.err, HasSubstr("consent.subject.value"));

  std::vector<std::string> backwards = GrantArgs();
  backwards.back() = "2024-12-30";  // --until before --from
  ProcessResult period = Sildctl("social-services", backwards);
  EXPECT_EQ(period.exit_code, 1);
  EXPECT_THAT(period.err, HasSubstr("INVALID_PERIOD"));
  EXPECT_THAT(period.err, HasSubstr("consent.valid_until"));

  std::vector<std::string> nonsense = GrantArgs();
  nonsense[13] = "world-peace";  // --purpose
  ProcessResult usage = Sildctl("social-services", nonsense);
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("support-service"));

  ProcessResult missing = Sildctl(
      "uif", {"consent", "get", "00000000-0000-4000-8000-000000000000"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("CONSENT_NOT_FOUND"));
}

TEST_F(ConsentCommandsTest, GrantFromAProtoJsonFile) {
  v1::Consent consent = testing::ParentConsent();
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(consent, &json).ok());
  std::string path = dir_ + "/consent.json";
  std::ofstream(path) << json;
  ProcessResult granted =
      Sildctl("case-manager", {"consent", "grant", "--file", path});
  ASSERT_EQ(granted.exit_code, 0) << granted.err;
  EXPECT_THAT(granted.out, HasSubstr("granted"));
  EXPECT_THAT(granted.out, HasSubstr("recorded by:  Raasiku Case Manager"));
  ProcessResult allowed = Sildctl("school", CheckArgs());
  EXPECT_THAT(allowed.out, HasSubstr("ALLOW OK"));
}

TEST_F(ConsentCommandsTest, RulesListAndExplain) {
  ProcessResult list = Sildctl("school", {"rules", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out,
              HasSubstr("child-protection-notification  Child Protection Act"));
  EXPECT_THAT(list.out, HasSubstr("any -> child-protection"));

  ProcessResult json = Sildctl("school", {"rules", "list", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::ListRulesResponse rules;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json.out, &rules).ok());
  ASSERT_EQ(rules.rules_size(), 1);

  ProcessResult explain =
      Sildctl("uif", {"rules", "explain", "child-protection-notification"});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_EQ(explain.out, rules.rules(0).explanation() + "\n");
  EXPECT_THAT(explain.out, Not(HasSubstr("\n\n")));

  ProcessResult unknown = Sildctl("uif", {"rules", "explain", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("RULE_NOT_FOUND"));
}

}  // namespace
}  // namespace sild
