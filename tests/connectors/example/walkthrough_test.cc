// The example connector end to end (docs/connectors.md): the school's system
// drops one CSV line into a folder; the gateway's file ingress picks it up,
// decodes it with the csv-referral codec, submits it as sent by the school,
// and the social services see the referral. A bad line is rejected with its
// reason beside it.
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/base/files.h"
#include "gateway/server/server.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "sild/connectors/v1/example.pb.h"
#include "sild/v1/referral_service.grpc.pb.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

namespace fs = std::filesystem;

constexpr char kSchool[] = "75001017";
constexpr char kSocial[] = "75001023";

bool WaitForFile(const std::string& path, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (fs::exists(path)) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

class WalkthroughTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("connector-walkthrough");
    inbox_ = dir_ + "/school-outbox";
    config::v1::GatewayConfig config = testing::DemoGatewayConfig(dir_);
    ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(
        R"pb(
          rules {
            id: "walkthrough-support-referral"
            citation: "Test statute § 1"
            sender_kinds: AGENCY_KIND_SCHOOL
            recipient_kinds: AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES
            purposes: PURPOSE_SUPPORT_SERVICE
            categories: DATA_CATEGORY_IDENTITY
            categories: DATA_CATEGORY_FREE_TEXT
          }
        )pb",
        &config));
    // The school's system speaks csv-referral and drops files in a folder.
    for (config::v1::AgencyConfig& agency : *config.mutable_agencies()) {
      if (agency.registry_code() != kSchool) continue;
      agency.set_codec("csv-referral");
      agency.set_ingress_transport("file");
      sild::connectors::v1::FileTransportConfig file;
      file.set_directory(inbox_);
      file.set_extension("csv");
      file.set_poll_interval_ms(50);
      agency.mutable_ingress_transport_config()->PackFrom(file);
    }
    auto server = GatewayServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
  }

  sild::v1::ListReferralsResponse ListAs(
      const std::string& who, sild::v1::ListReferralsRequest::Role role) {
    auto stub = sild::v1::ReferralService::NewStub(
        testing::AgencyChannel(server_->port(), who));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    sild::v1::ListReferralsRequest request;
    request.set_role(role);
    sild::v1::ListReferralsResponse response;
    grpc::Status status = stub->List(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::string dir_;
  std::string inbox_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(WalkthroughTest, CsvFileBecomesAReferralFromTheSchool) {
  ASSERT_TRUE(WriteFileAtomically(
                  inbox_ + "/ehis-0042.csv",
                  absl::StrCat("51205280105;SOCIAL_WORKER;", kSocial,
                               ";Puudub sageli esmaspäeviti;ehis-0042\n"))
                  .ok());
  ASSERT_TRUE(WaitForFile(inbox_ + "/done/ehis-0042.csv", absl::Seconds(20)))
      << "the file was not accepted; rejected: "
      << ReadFileToString(inbox_ + "/rejected/ehis-0042.csv.error")
             .value_or("(none)");

  sild::v1::ListReferralsResponse received =
      ListAs("social-services", sild::v1::ListReferralsRequest::ROLE_RECEIVED);
  ASSERT_EQ(received.referrals_size(), 1);
  const sild::v1::ReferralSummary& referral = received.referrals(0);
  EXPECT_EQ(referral.service(), sild::v1::SERVICE_TYPE_SOCIAL_WORKER);
  // The sender is the agency whose ingress the file came from.
  EXPECT_EQ(referral.requester().registry_code(), kSchool);
  sild::v1::ListReferralsResponse sent =
      ListAs("school", sild::v1::ListReferralsRequest::ROLE_SENT);
  ASSERT_EQ(sent.referrals_size(), 1);
  EXPECT_EQ(sent.referrals(0).referral_id(), referral.referral_id());

  // The same line again (a retry by the school's system) is idempotent.
  ASSERT_TRUE(WriteFileAtomically(
                  inbox_ + "/ehis-0042-retry.csv",
                  absl::StrCat("51205280105;SOCIAL_WORKER;", kSocial,
                               ";Puudub sageli esmaspäeviti;ehis-0042\n"))
                  .ok());
  ASSERT_TRUE(
      WaitForFile(inbox_ + "/done/ehis-0042-retry.csv", absl::Seconds(20)));
  EXPECT_EQ(
      ListAs("social-services", sild::v1::ListReferralsRequest::ROLE_RECEIVED)
          .referrals_size(),
      1);
}

TEST_F(WalkthroughTest, InvalidLineIsRejectedWithItsReason) {
  ASSERT_TRUE(WriteFileAtomically(inbox_ + "/bad.csv",
                                  absl::StrCat("51205280106;SOCIAL_WORKER;",
                                               kSocial, ";x;bad-1\n"))
                  .ok());
  ASSERT_TRUE(
      WaitForFile(inbox_ + "/rejected/bad.csv.error", absl::Seconds(20)));
  auto reason = ReadFileToString(inbox_ + "/rejected/bad.csv.error");
  ASSERT_TRUE(reason.ok());
  EXPECT_NE(reason->find("INVALID_PERSONAL_CODE: personal_code:"),
            std::string::npos)
      << *reason;
  // And the personal code is not in the reason file.
  EXPECT_EQ(reason->find("51205280106"), std::string::npos) << *reason;
  EXPECT_EQ(
      ListAs("social-services", sild::v1::ListReferralsRequest::ROLE_RECEIVED)
          .referrals_size(),
      0);
}

TEST_F(WalkthroughTest, RefusedReferralIsRejectedWithTheDecision) {
  // No rule lets the school send to the Unemployment Insurance Fund for
  // support services: the decision refuses, the file says why.
  ASSERT_TRUE(
      WriteFileAtomically(inbox_ + "/uif.csv",
                          "51205280105;CAREER_COUNSELLING;75001052;x;uif-1\n")
          .ok());
  ASSERT_TRUE(
      WaitForFile(inbox_ + "/rejected/uif.csv.error", absl::Seconds(20)));
  auto reason = ReadFileToString(inbox_ + "/rejected/uif.csv.error");
  ASSERT_TRUE(reason.ok());
  EXPECT_FALSE(reason->empty());
}

}  // namespace
}  // namespace sild
