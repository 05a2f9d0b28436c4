// The gRPC inbox end to end over real mTLS: a submitted referral reaches the
// recipient's stream minimised, acknowledgements mark it delivered and are
// audited, unacknowledged messages come again, a reconnect resumes, flow
// control holds, nobody else sees the rows, and shutdown ends the stream.
#include "gateway/delivery/inbox_service.h"

#include <thread>

#include "gateway/server/server.h"
#include "gateway/server/tls_credentials.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "sild/v1/delivery_service.grpc.pb.h"
#include "tests/gateway/delivery/inbox_test_util.h"

namespace sild {
namespace {

using testing::Ack;
using testing::InboxReader;
using testing::kSocialCode;
using v1::InboxMessage;
using v1::SubscribeRequest;

class InboxServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("inbox");
    config_ = testing::DemoGatewayConfig(dir_);
    testing::AddSupportReferralRule(config_);
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::string Submit(const std::string& key) {
    v1::Receipt receipt;
    grpc::Status status = testing::SubmitReferral(
        server_->port(), "school", testing::SupportReferral(key), &receipt);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return receipt.message_id();
  }

  std::unique_ptr<InboxReader> Subscribe(
      const std::string& who, SubscribeRequest request = {},
      absl::Duration deadline = absl::Seconds(60)) {
    return std::make_unique<InboxReader>(server_->port(), who, request,
                                         deadline);
  }

  v1::DeliveryState StateOf(int64_t cursor) {
    auto stub = v1::DeliveryService::NewStub(
        testing::AgencyChannel(server_->port(), "auditor"));
    grpc::ClientContext context;
    v1::ListDeliveriesRequest request;
    request.set_recipient_registry_code(kSocialCode);
    request.set_page_size(500);
    v1::ListDeliveriesResponse response;
    grpc::Status status = stub->List(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const auto& d : response.deliveries()) {
      if (d.delivery_id() == cursor) return d.state();
    }
    return v1::DELIVERY_STATE_UNSPECIFIED;
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(InboxServiceTest, SubscriberReceivesASubmittedReferralMinimised) {
  auto social = Subscribe("social-services");
  absl::SleepFor(absl::Milliseconds(200));  // subscribed before the submit
  std::string id = Submit("k-1");
  ASSERT_TRUE(social->WaitFor(1, absl::Seconds(10)));
  InboxMessage message = social->messages()[0];
  EXPECT_GT(message.cursor(), 0);
  EXPECT_EQ(message.redelivery(), 0);
  EXPECT_EQ(message.envelope().message_id(), id);
  ASSERT_TRUE(message.envelope().has_referral());
  const auto& referral = message.envelope().referral();
  EXPECT_EQ(referral.subject().id().value(), testing::kPupil);
  // The rule leaves health out: one of the two indicators arrives.
  ASSERT_EQ(referral.risk_indicators_size(), 1);
  EXPECT_TRUE(referral.risk_indicators(0).has_attendance());
  EXPECT_EQ(referral.header().basis().rule_id(), "test-support-referral");
  EXPECT_EQ(StateOf(message.cursor()), v1::DELIVERY_STATE_PENDING);
}

TEST_F(InboxServiceTest, AckMarksDeliveredAndIsAuditedOnce) {
  std::string id = Submit("k-ack");
  auto social = Subscribe("social-services");
  ASSERT_TRUE(social->WaitFor(1, absl::Seconds(10)));
  int64_t cursor = social->messages()[0].cursor();

  v1::AckResponse acked;
  ASSERT_TRUE(Ack(server_->port(), "social-services", {cursor}, &acked).ok());
  EXPECT_EQ(acked.acknowledged(), 1);
  EXPECT_EQ(acked.ignored(), 0);
  EXPECT_EQ(StateOf(cursor), v1::DELIVERY_STATE_DELIVERED);
  // Acknowledging again is harmless: same answer, no second record.
  ASSERT_TRUE(
      Ack(server_->port(), "social-services", {cursor, cursor}, &acked).ok());
  EXPECT_EQ(acked.acknowledged(), 1);

  int deliveries = 0;
  for (const auto& record : testing::GatewayAuditRecords(dir_ + "/sild.db")) {
    if (record.action() != v1::AUDIT_ACTION_DELIVERY) continue;
    ++deliveries;
    EXPECT_EQ(record.message_id(), id);
    EXPECT_EQ(record.counterparty(), kSocialCode);
    EXPECT_EQ(record.actor().registry_code(), kSocialCode);
    EXPECT_EQ(record.outcome(), v1::AUDIT_OUTCOME_SUCCESS);
    EXPECT_EQ(record.reason_code(), "ACKNOWLEDGED");
    EXPECT_FALSE(record.subject_pseudonym().empty());
  }
  EXPECT_EQ(deliveries, 1);
  // The stream does not send an acknowledged message again.
  EXPECT_FALSE(social->WaitFor(2, absl::Milliseconds(500)));
}

TEST_F(InboxServiceTest, UnacknowledgedMessageIsRedeliveredAfterTheTimeout) {
  Submit("k-redeliver");
  SubscribeRequest request;
  request.set_ack_timeout_ms(300);
  auto social = Subscribe("social-services", request);
  ASSERT_TRUE(social->WaitFor(2, absl::Seconds(10)));
  auto messages = social->messages();
  EXPECT_EQ(messages[0].redelivery(), 0);
  EXPECT_EQ(messages[1].cursor(), messages[0].cursor());
  EXPECT_EQ(messages[1].redelivery(), 1);
  EXPECT_EQ(messages[1].envelope().message_id(),
            messages[0].envelope().message_id());

  v1::AckResponse acked;
  ASSERT_TRUE(
      Ack(server_->port(), "social-services", {messages[0].cursor()}, &acked)
          .ok());
  size_t seen = social->messages().size();
  EXPECT_FALSE(social->WaitFor(seen + 1, absl::Seconds(1)));
}

TEST_F(InboxServiceTest, ReconnectResumesAfterTheLastAcknowledgedCursor) {
  std::string first = Submit("k-r1");
  std::string second = Submit("k-r2");
  std::string third = Submit("k-r3");
  std::vector<InboxMessage> messages;
  {
    auto social = Subscribe("social-services");
    ASSERT_TRUE(social->WaitFor(3, absl::Seconds(10)));
    messages = social->messages();
  }  // the connection drops
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].envelope().message_id(), first);
  EXPECT_EQ(messages[1].envelope().message_id(), second);
  EXPECT_EQ(messages[2].envelope().message_id(), third);
  EXPECT_LT(messages[0].cursor(), messages[1].cursor());
  EXPECT_LT(messages[1].cursor(), messages[2].cursor());
  v1::AckResponse acked;
  ASSERT_TRUE(Ack(server_->port(), "social-services",
                  {messages[0].cursor(), messages[1].cursor()}, &acked)
                  .ok());
  ASSERT_EQ(acked.acknowledged(), 2);

  // From the oldest unacknowledged: only the third, marked as seen before.
  auto again = Subscribe("social-services");
  ASSERT_TRUE(again->WaitFor(1, absl::Seconds(10)));
  EXPECT_FALSE(again->WaitFor(2, absl::Milliseconds(500)));
  InboxMessage resumed = again->messages()[0];
  EXPECT_EQ(resumed.cursor(), messages[2].cursor());
  EXPECT_EQ(resumed.envelope().message_id(), third);
  EXPECT_EQ(resumed.redelivery(), 1);

  // Resuming after an explicit cursor skips what lies before it.
  SubscribeRequest after;
  after.set_after_cursor(messages[2].cursor());
  auto none = Subscribe("social-services", after);
  EXPECT_FALSE(none->WaitFor(1, absl::Milliseconds(500)));
}

TEST_F(InboxServiceTest, AnotherAgencyNeverSeesTheRows) {
  Submit("k-private");
  auto school = Subscribe("school", {}, absl::Milliseconds(1500));
  ASSERT_TRUE(school->WaitDone(absl::Seconds(10)));
  EXPECT_TRUE(school->messages().empty());
  EXPECT_EQ(school->status().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  auto social = Subscribe("social-services");
  ASSERT_TRUE(social->WaitFor(1, absl::Seconds(10)));
  int64_t cursor = social->messages()[0].cursor();
  // Acknowledging someone else's message does nothing.
  v1::AckResponse acked;
  ASSERT_TRUE(Ack(server_->port(), "school", {cursor, 999999}, &acked).ok());
  EXPECT_EQ(acked.acknowledged(), 0);
  EXPECT_EQ(acked.ignored(), 2);
  EXPECT_EQ(StateOf(cursor), v1::DELIVERY_STATE_PENDING);
}

TEST_F(InboxServiceTest, AtMostMaxInFlightUnacknowledged) {
  Submit("k-f1");
  Submit("k-f2");
  Submit("k-f3");
  SubscribeRequest request;
  request.set_max_in_flight(2);
  auto social = Subscribe("social-services", request);
  ASSERT_TRUE(social->WaitFor(2, absl::Seconds(10)));
  EXPECT_FALSE(social->WaitFor(3, absl::Milliseconds(1500)));
  v1::AckResponse acked;
  ASSERT_TRUE(Ack(server_->port(), "social-services",
                  {social->messages()[0].cursor()}, &acked)
                  .ok());
  ASSERT_TRUE(social->WaitFor(3, absl::Seconds(10)));
  auto messages = social->messages();
  EXPECT_GT(messages[2].cursor(), messages[1].cursor());
  EXPECT_EQ(messages[2].redelivery(), 0);
}

TEST_F(InboxServiceTest, BadRequestsAreRefusedWithAReason) {
  SubscribeRequest request;
  request.set_ack_timeout_ms(5);
  auto social = Subscribe("social-services", request);
  ASSERT_TRUE(social->WaitDone(absl::Seconds(10)));
  EXPECT_EQ(social->status().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(social->status().error_message(),
              ::testing::HasSubstr("INVALID_ACK_TIMEOUT"));
}

TEST_F(InboxServiceTest, GatewayShutdownEndsTheStream) {
  Submit("k-shutdown");
  auto social = Subscribe("social-services");
  ASSERT_TRUE(social->WaitFor(1, absl::Seconds(10)));
  absl::Time started = absl::Now();
  // A long grace period: the stream must not hold shutdown until it ends.
  std::thread stopper([this] { server_->Shutdown(absl::Seconds(30)); });
  ASSERT_TRUE(social->WaitDone(absl::Seconds(10)));
  EXPECT_LT(absl::Now() - started, absl::Seconds(5));
  // Ended by the exchange module as shutdown began, with a clear status.
  EXPECT_EQ(social->status().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(social->status().error_message(), "shutting down");
  stopper.join();
  EXPECT_LT(absl::Now() - started, absl::Seconds(10))
      << "shutdown waited for the stream's grace period";
}

// The inbox service alone on a server of the test's own, to see the status
// its Shutdown() gives streams.
TEST(InboxShutdownTest, StreamsEndUnavailableShuttingDown) {
  testing::DeliveryTestEnv env("inbox-shutdown");
  delivery::InboxServiceImpl::Options options;
  delivery::InboxServiceImpl inbox(&env.context(), options);
  auto credentials = MakeServerCredentials(env.config().tls());
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port);
  builder.RegisterService(&inbox);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  env.set_on_outbox_changed([&inbox] { inbox.Notify(); });
  inbox.Start();

  auto social = std::make_unique<InboxReader>(port, "social-services",
                                              SubscribeRequest());
  int64_t id = env.Queue(testing::kSchoolCode, kSocialCode);
  ASSERT_TRUE(social->WaitFor(1, absl::Seconds(10)))
      << social->status().error_message();
  EXPECT_EQ(social->messages()[0].cursor(), id);
  EXPECT_EQ(inbox.open_streams(), 1);

  inbox.Shutdown();
  ASSERT_TRUE(social->WaitDone(absl::Seconds(5)));
  EXPECT_EQ(social->status().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(social->status().error_message(), "shutting down");
  // New subscriptions are refused the same way.
  InboxReader late(port, "social-services", SubscribeRequest());
  ASSERT_TRUE(late.WaitDone(absl::Seconds(5)));
  EXPECT_EQ(late.status().error_code(), grpc::StatusCode::UNAVAILABLE);
  env.set_on_outbox_changed(nullptr);
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

}  // namespace
}  // namespace sild
