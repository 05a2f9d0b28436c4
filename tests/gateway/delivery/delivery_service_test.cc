// DeliveryService end to end: dead letters of the file transport, listed
// and replayed by an operator, with the decision re-taken at replay time.
#include "gateway/delivery/delivery_service.h"

#include <filesystem>

#include "gateway/rpc/grpc_status.h"
#include "gateway/server/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "sild/v1/delivery_service.grpc.pb.h"
#include "tests/gateway/delivery/inbox_test_util.h"

namespace sild {
namespace {

using ::testing::HasSubstr;
using testing::kSocialCode;
using v1::DeliveryState;

struct Call {
  grpc::Status status;
  std::string reason;
};

class DeliveryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("delivery-service");
    drop_ = dir_ + "/drop";  // made only when a test wants deliveries to work
    config_ = testing::DemoGatewayConfig(dir_);
    for (auto& agency : *config_.mutable_agencies()) {
      if (agency.registry_code() == kSocialCode) {
        agency.set_transport("file");
        agency.set_transport_target(drop_);
      }
    }
    config_.mutable_delivery()->set_max_attempts(1);
    config_.mutable_delivery()->set_initial_backoff_ms(10);
    config_.mutable_delivery()->set_max_backoff_ms(100);
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<v1::DeliveryService::Stub> Deliveries(
      const std::string& who) {
    return v1::DeliveryService::NewStub(
        testing::AgencyChannel(server_->port(), who));
  }

  template <typename Request, typename Response, typename Method>
  Call Invoke(const std::string& who, Method method, const Request& request,
              Response* response) {
    auto stub = Deliveries(who);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    context.AddMetadata("x-sild-professional-id", "operator-1");
    Call call;
    call.status = ((*stub).*method)(&context, request, response);
    const auto& trailers = context.GetServerTrailingMetadata();
    if (auto it = trailers.find(kReasonMetadataKey); it != trailers.end()) {
      call.reason.assign(it->second.data(), it->second.size());
    }
    return call;
  }

  Call Replay(int64_t id, v1::ReplayDeliveryResponse* response) {
    v1::ReplayDeliveryRequest request;
    request.set_delivery_id(id);
    return Invoke("auditor", &v1::DeliveryService::Stub::Replay, request,
                  response);
  }

  std::vector<v1::Delivery> List(DeliveryState state,
                                 const std::string& message_id = "") {
    v1::ListDeliveriesRequest request;
    request.set_state(state);
    request.set_recipient_registry_code(kSocialCode);
    request.set_page_size(500);
    v1::ListDeliveriesResponse response;
    Call call =
        Invoke("auditor", &v1::DeliveryService::Stub::List, request, &response);
    EXPECT_TRUE(call.status.ok()) << call.status.error_message();
    std::vector<v1::Delivery> out;
    for (const auto& d : response.deliveries()) {
      if (message_id.empty() || d.message_id() == message_id) out.push_back(d);
    }
    return out;
  }

  // The delivery of `message_id` to social services once it is in `state`.
  std::optional<v1::Delivery> WaitForState(const std::string& message_id,
                                           DeliveryState state) {
    absl::Time give_up = absl::Now() + absl::Seconds(15);
    while (absl::Now() < give_up) {
      auto found = List(state, message_id);
      if (!found.empty()) return found[0];
      absl::SleepFor(absl::Milliseconds(50));
    }
    return std::nullopt;
  }

  std::string GrantConsent() {
    v1::GrantConsentRequest request;
    v1::Consent* consent = request.mutable_consent();
    consent->mutable_subject()->set_scheme(
        v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    consent->mutable_subject()->set_value(testing::kPupil);
    auto* rep = consent->mutable_grantor()->mutable_representative();
    rep->set_relation(v1::REPRESENTATIVE_RELATION_PARENT);
    rep->mutable_person()->mutable_id()->set_value("39001010000");
    rep->mutable_person()->set_given_name("Mari");
    rep->mutable_person()->set_family_name("Tamm");
    consent->mutable_recipients()->add_registry_codes(kSocialCode);
    consent->add_purposes(v1::PURPOSE_SUPPORT_SERVICE);
    consent->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    consent->add_data_categories(v1::DATA_CATEGORY_EDUCATION);
    consent->add_data_categories(v1::DATA_CATEGORY_FREE_TEXT);
    consent->mutable_valid_from()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
    consent->mutable_valid_until()->set_seconds(
        absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 365)));
    auto stub = v1::ConsentService::NewStub(
        testing::AgencyChannel(server_->port(), "social-services"));
    grpc::ClientContext context;
    v1::GrantConsentResponse response;
    grpc::Status status = stub->Grant(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.consent().consent_id();
  }

  void WithdrawConsent(const std::string& id) {
    auto stub = v1::ConsentService::NewStub(
        testing::AgencyChannel(server_->port(), "social-services"));
    grpc::ClientContext context;
    v1::WithdrawConsentRequest request;
    request.set_consent_id(id);
    request.set_note("the parent changed their mind");
    v1::WithdrawConsentResponse response;
    grpc::Status status = stub->Withdraw(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::string SubmitReferral(const std::string& key) {
    v1::Receipt receipt;
    grpc::Status status = testing::SubmitReferral(
        server_->port(), "school", testing::SupportReferral(key), &receipt);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return receipt.message_id();
  }

  std::vector<v1::AuditRecord> RecordsOf(const std::string& message_id,
                                         v1::AuditAction action) {
    std::vector<v1::AuditRecord> out;
    for (auto& r : testing::GatewayAuditRecords(dir_ + "/sild.db")) {
      if (r.message_id() == message_id && r.action() == action &&
          r.counterparty() == kSocialCode) {
        out.push_back(r);
      }
    }
    return out;
  }

  std::string dir_;
  std::string drop_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(DeliveryServiceTest, OnlyOperatorsManageDeliveries) {
  v1::ListDeliveriesResponse listed;
  Call call = Invoke("school", &v1::DeliveryService::Stub::List,
                     v1::ListDeliveriesRequest(), &listed);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call.reason, "NOT_OPERATOR");

  v1::ReplayDeliveryRequest replay;
  replay.set_delivery_id(1);
  v1::ReplayDeliveryResponse replayed;
  call = Invoke("social-services", &v1::DeliveryService::Stub::Replay, replay,
                &replayed);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call.reason, "NOT_OPERATOR");

  // The auditor agency has the operator role.
  call = Invoke("auditor", &v1::DeliveryService::Stub::List,
                v1::ListDeliveriesRequest(), &listed);
  EXPECT_TRUE(call.status.ok()) << call.status.error_message();
}

TEST_F(DeliveryServiceTest, ReplayWithConsentStillValidDeliversOnce) {
  GrantConsent();
  std::string message_id = SubmitReferral("k-replay");
  // The folder is missing and one attempt is allowed: a dead letter.
  auto dead = WaitForState(message_id, v1::DELIVERY_STATE_DEAD);
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->attempts(), 1);
  EXPECT_THAT(dead->last_error(), HasSubstr("not available"));
  EXPECT_EQ(dead->transport(), "file");
  EXPECT_EQ(dead->recipient().registry_code(), kSocialCode);
  EXPECT_EQ(RecordsOf(message_id, v1::AUDIT_ACTION_DELIVERY_FAILURE).size(),
            1u);

  std::filesystem::create_directories(drop_);
  v1::ReplayDeliveryResponse replayed;
  Call call = Replay(dead->delivery_id(), &replayed);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  EXPECT_TRUE(replayed.allowed());
  EXPECT_EQ(replayed.reason_code(), "OK");  // the copy holds nothing more
  EXPECT_EQ(replayed.delivery().attempts(), 0);

  ASSERT_TRUE(WaitForState(message_id, v1::DELIVERY_STATE_DELIVERED));
  std::string path = testing::EnvelopeFilePath(drop_, message_id);
  ASSERT_TRUE(std::filesystem::exists(path));
  v1::Envelope delivered;
  delivered.ParseFromString(testing::ReadTestFile(path));
  EXPECT_EQ(delivered.message_id(), message_id);
  // Minimised again: the consent does not cover health.
  EXPECT_EQ(delivered.referral().risk_indicators_size(), 1);

  // Replaying again changes and delivers nothing.
  call = Replay(dead->delivery_id(), &replayed);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(call.reason, "NOT_DEAD_LETTER");
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(RecordsOf(message_id, v1::AUDIT_ACTION_DELIVERY).size(), 1u);
  auto admin = RecordsOf(message_id, v1::AUDIT_ACTION_ADMINISTRATIVE);
  ASSERT_EQ(admin.size(), 1u);
  EXPECT_EQ(admin[0].outcome(), v1::AUDIT_OUTCOME_ALLOW);
  EXPECT_EQ(admin[0].actor().registry_code(), "75001069");
  EXPECT_EQ(admin[0].actor().professional_id(), "operator-1");
  EXPECT_THAT(admin[0].detail(), HasSubstr("replay of dead letter"));
  EXPECT_TRUE(admin[0].basis().has_consent());
}

TEST_F(DeliveryServiceTest, ReplayAfterTheConsentWasWithdrawnIsRefused) {
  std::string consent_id = GrantConsent();
  std::string message_id = SubmitReferral("k-withdrawn");
  auto dead = WaitForState(message_id, v1::DELIVERY_STATE_DEAD);
  ASSERT_TRUE(dead.has_value());
  WithdrawConsent(consent_id);
  std::filesystem::create_directories(drop_);

  v1::ReplayDeliveryResponse replayed;
  Call call = Replay(dead->delivery_id(), &replayed);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  EXPECT_FALSE(replayed.allowed());
  EXPECT_EQ(replayed.reason_code(), "CONSENT_WITHDRAWN");
  EXPECT_EQ(replayed.delivery().state(), v1::DELIVERY_STATE_REFUSED_ON_REPLAY);

  auto admin = RecordsOf(message_id, v1::AUDIT_ACTION_ADMINISTRATIVE);
  ASSERT_EQ(admin.size(), 1u);
  EXPECT_EQ(admin[0].outcome(), v1::AUDIT_OUTCOME_DENY);
  EXPECT_EQ(admin[0].reason_code(), "CONSENT_WITHDRAWN");
  EXPECT_TRUE(admin[0].categories().empty());

  call = Replay(dead->delivery_id(), &replayed);
  EXPECT_EQ(call.reason, "NOT_DEAD_LETTER");
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(
      std::filesystem::exists(testing::EnvelopeFilePath(drop_, message_id)));
  EXPECT_TRUE(RecordsOf(message_id, v1::AUDIT_ACTION_DELIVERY).empty());
  EXPECT_EQ(List(v1::DELIVERY_STATE_REFUSED_ON_REPLAY, message_id).size(), 1u);
}

TEST_F(DeliveryServiceTest, ListFiltersAndPaginates) {
  GrantConsent();
  std::string first = SubmitReferral("k-page-1");
  std::string second = SubmitReferral("k-page-2");
  ASSERT_TRUE(WaitForState(first, v1::DELIVERY_STATE_DEAD));
  ASSERT_TRUE(WaitForState(second, v1::DELIVERY_STATE_DEAD));

  v1::ListDeliveriesRequest request;
  request.set_state(v1::DELIVERY_STATE_DEAD);
  request.set_page_size(1);
  v1::ListDeliveriesResponse page;
  ASSERT_TRUE(
      Invoke("auditor", &v1::DeliveryService::Stub::List, request, &page)
          .status.ok());
  ASSERT_EQ(page.deliveries_size(), 1);
  EXPECT_EQ(page.deliveries(0).message_id(), first);
  ASSERT_FALSE(page.next_page_token().empty());
  request.set_page_token(page.next_page_token());
  ASSERT_TRUE(
      Invoke("auditor", &v1::DeliveryService::Stub::List, request, &page)
          .status.ok());
  ASSERT_EQ(page.deliveries_size(), 1);
  EXPECT_EQ(page.deliveries(0).message_id(), second);

  request.set_page_token("not-a-token");
  Call call =
      Invoke("auditor", &v1::DeliveryService::Stub::List, request, &page);
  EXPECT_EQ(call.reason, "INVALID_PAGE_TOKEN");
  // Unknown ids are NOT_FOUND.
  v1::ReplayDeliveryResponse replayed;
  EXPECT_EQ(Replay(987654, &replayed).reason, "DELIVERY_NOT_FOUND");
}

}  // namespace
}  // namespace sild
