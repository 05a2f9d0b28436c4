// The whole gateway on PostgreSQL: every module's schema migrates, and a
// referral travels the ordinary path (decision, minimisation, audit, outbox,
// inbox, acknowledgement) on a real PostgreSQL server over mTLS; the audit
// chain verifies; a restart on the same database resumes the chain.
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gateway/server/server.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "sild/v1/audit_service.grpc.pb.h"
#include "tests/gateway/delivery/inbox_test_util.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

class PostgresGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::PostgresTestServer::Shared();
    ASSERT_TRUE(server.ok()) << server.status();
    auto dsn = (*server)->NewSchemaDsn();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dir_ = testing::MakeTempDir("postgres-gateway");
    config_ = testing::DemoGatewayConfig(dir_);
    testing::AddSupportReferralRule(config_);
    std::string key_file = config_.store().payload_key_file();
    config_.mutable_store()->mutable_postgres()->set_dsn(*dsn);
    config_.mutable_store()->set_payload_key_file(key_file);
    ASSERT_NO_FATAL_FAILURE(StartGateway());
  }

  void TearDown() override {
    if (gateway_ != nullptr) gateway_->Shutdown(absl::Seconds(5));
  }

  void StartGateway() {
    auto gateway = GatewayServer::Start(config_);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
  }

  sild::v1::AuditVerifyResponse Verify() {
    auto stub = sild::v1::AuditService::NewStub(
        testing::AgencyChannel(gateway_->port(), "auditor"));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    sild::v1::AuditVerifyRequest request;
    sild::v1::AuditVerifyResponse response;
    grpc::Status status = stub->Verify(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> gateway_;
};

TEST_F(PostgresGatewayTest, ReferralTravelsAndTheChainVerifies) {
  sild::v1::Receipt receipt;
  grpc::Status submitted = testing::SubmitReferral(
      gateway_->port(), "school", testing::SupportReferral("pg-1"), &receipt);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();
  ASSERT_EQ(receipt.recipients_size(), 1);
  EXPECT_TRUE(receipt.recipients(0).allowed());

  // The same key again returns the original receipt, no second referral.
  sild::v1::Receipt again;
  ASSERT_TRUE(testing::SubmitReferral(gateway_->port(), "school",
                                      testing::SupportReferral("pg-1"), &again)
                  .ok());
  EXPECT_EQ(again.message_id(), receipt.message_id());

  testing::InboxReader social(gateway_->port(), "social-services",
                              sild::v1::SubscribeRequest());
  ASSERT_TRUE(social.WaitFor(1, absl::Seconds(20)))
      << social.status().error_message();
  const sild::v1::InboxMessage message = social.messages()[0];
  EXPECT_EQ(message.envelope().referral().header().message_id(),
            receipt.message_id());
  for (const auto& indicator :
       message.envelope().referral().risk_indicators()) {
    EXPECT_FALSE(indicator.has_health()) << "minimised before storing";
  }
  sild::v1::AckResponse acked;
  ASSERT_TRUE(testing::Ack(gateway_->port(), "social-services",
                           {message.cursor()}, &acked)
                  .ok());
  social.Cancel();

  sild::v1::AuditVerifyResponse verified = Verify();
  EXPECT_TRUE(verified.intact()) << verified.DebugString();
  EXPECT_GE(verified.records_checked(), 2);

  // A restart on the same database continues the chain.
  gateway_->Shutdown(absl::Seconds(5));
  gateway_.reset();
  ASSERT_NO_FATAL_FAILURE(StartGateway());
  sild::v1::Receipt later;
  ASSERT_TRUE(testing::SubmitReferral(gateway_->port(), "school",
                                      testing::SupportReferral("pg-2"), &later)
                  .ok());
  EXPECT_GT(later.audit_sequence(), receipt.audit_sequence());
  sild::v1::AuditVerifyResponse after = Verify();
  EXPECT_TRUE(after.intact()) << after.DebugString();
  EXPECT_GT(after.records_checked(), verified.records_checked());
}

}  // namespace
}  // namespace sild
