// The exchange end to end over real mTLS: submit, minimise, audit, status
// lifecycle, idempotency, and that nobody but the parties sees a referral.
#include "gateway/exchange/referral_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/audit/audit_log.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/server/server.h"
#include "gateway/store/sqlite_connection.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "sild/v1/referral_service.grpc.pb.h"
#include "sild/v1/transition_service.grpc.pb.h"
#include "tests/testing/sample_messages.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using sild::v1::Receipt;
using sild::v1::Referral;
using ::testing::HasSubstr;

constexpr char kSchool[] = "75001017";
constexpr char kSocial[] = "75001023";
constexpr char kSchoolHealth[] = "75001046";
constexpr char kChild[] = "51205280105";

struct Call {
  grpc::Status status;
  std::string reason;
  std::string field;
};

template <typename Stub, typename Method, typename Request, typename Response>
Call Invoke(Stub* stub, Method method, const Request& request,
            Response* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  context.AddMetadata("x-sild-professional-id", "teacher-17");
  Call call;
  call.status = (stub->*method)(&context, request, response);
  const auto& trailers = context.GetServerTrailingMetadata();
  if (auto it = trailers.find(kReasonMetadataKey); it != trailers.end()) {
    call.reason.assign(it->second.data(), it->second.size());
  }
  if (auto it = trailers.find(kFieldMetadataKey); it != trailers.end()) {
    call.field.assign(it->second.data(), it->second.size());
  }
  return call;
}

class ReferralServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("referrals");
    config_ = testing::DemoGatewayConfig(dir_);
    // School -> social services for support services, without health data.
    ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(
        R"pb(
          rules {
            id: "test-support-referral"
            citation: "Test statute § 1"
            sender_kinds: AGENCY_KIND_SCHOOL
            recipient_kinds: AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES
            purposes: PURPOSE_SUPPORT_SERVICE
            categories: DATA_CATEGORY_IDENTITY
            categories: DATA_CATEGORY_EDUCATION
            categories: DATA_CATEGORY_FREE_TEXT
          }
          rules {
            id: "test-youth-guarantee"
            citation: "Test statute § 2"
            sender_kinds: AGENCY_KIND_SCHOOL
            recipient_kinds: AGENCY_KIND_UNEMPLOYMENT_INSURANCE_FUND
            purposes: PURPOSE_YOUTH_GUARANTEE
            categories: DATA_CATEGORY_IDENTITY
            categories: DATA_CATEGORY_EDUCATION
          }
          routes {
            service: SERVICE_TYPE_SOCIAL_WORKER
            municipality: "Raasiku vald"
            registry_codes: "75001023"
          }
        )pb",
        &config_));
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<sild::v1::ReferralService::Stub> As(const std::string& who) {
    return sild::v1::ReferralService::NewStub(
        testing::AgencyChannel(server_->port(), who));
  }

  // The demo referral, in the second quarter, with the teacher named.
  static Referral SampleReferral(const std::string& key) {
    Referral r = testing::SupportReferral(key, kChild, kSocial);
    r.mutable_risk_indicators(0)->mutable_attendance()->set_quarter(2);
    r.mutable_requested_by()->set_name("Teacher Kask");
    return r;
  }

  Call Submit(const std::string& who, const Referral& referral,
              Receipt* receipt) {
    sild::v1::SubmitReferralRequest request;
    *request.mutable_referral() = referral;
    auto stub = As(who);
    return Invoke(stub.get(), &sild::v1::ReferralService::Stub::Submit, request,
                  receipt);
  }

  Call Get(const std::string& who, const std::string& id, Referral* out) {
    sild::v1::GetReferralRequest request;
    request.set_referral_id(id);
    sild::v1::GetReferralResponse response;
    auto stub = As(who);
    Call call = Invoke(stub.get(), &sild::v1::ReferralService::Stub::Get,
                       request, &response);
    *out = response.referral();
    return call;
  }

  Call SetStatus(const std::string& who, const std::string& id,
                 sild::v1::ReferralStatus status, Receipt* receipt) {
    sild::v1::UpdateReferralStatusRequest request;
    request.set_referral_id(id);
    request.set_status(status);
    if (status == sild::v1::REFERRAL_STATUS_REJECTED) {
      request.set_rejection_reason(sild::v1::REJECTION_REASON_NO_CAPACITY);
    }
    request.set_note("note from " + who);
    auto stub = As(who);
    return Invoke(stub.get(), &sild::v1::ReferralService::Stub::UpdateStatus,
                  request, receipt);
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(ReferralServiceTest, SubmitIsDecidedMinimisedAndAudited) {
  Receipt receipt;
  Call call = Submit("school", SampleReferral("k-1"), &receipt);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  EXPECT_FALSE(receipt.message_id().empty());
  EXPECT_GT(receipt.audit_sequence(), 0);
  EXPECT_EQ(receipt.audit_record_hash().size(), 32u);
  EXPECT_EQ(receipt.chain_id(), "sild-test");
  ASSERT_EQ(receipt.recipients_size(), 1);
  const auto& outcome = receipt.recipients(0);
  EXPECT_TRUE(outcome.allowed());
  EXPECT_EQ(outcome.reason_code(), "OK_MINIMISED");
  EXPECT_EQ(outcome.basis().rule_id(), "test-support-referral");
  EXPECT_THAT(outcome.withheld(),
              ::testing::Contains(sild::v1::DATA_CATEGORY_HEALTH));

  // The recipient's copy has the attendance facts, not the health concern.
  Referral received;
  ASSERT_TRUE(
      Get("social-services", receipt.message_id(), &received).status.ok());
  EXPECT_EQ(received.subject().id().value(), kChild);
  ASSERT_EQ(received.risk_indicators_size(), 1);
  EXPECT_TRUE(received.risk_indicators(0).has_attendance());
  EXPECT_EQ(received.header().basis().rule_id(), "test-support-referral");
  EXPECT_EQ(received.header().sender().registry_code(), kSchool);

  // The requester sees what it sent.
  Referral sent;
  ASSERT_TRUE(Get("school", receipt.message_id(), &sent).status.ok());
  EXPECT_EQ(sent.risk_indicators_size(), 2);
  EXPECT_EQ(sent.status(), sild::v1::REFERRAL_STATUS_SUBMITTED);
}

TEST_F(ReferralServiceTest, PayloadClaimedSenderIsIgnored) {
  Referral referral = SampleReferral("k-claim");
  referral.mutable_header()->mutable_sender()->set_registry_code(kSocial);
  Receipt receipt;
  ASSERT_TRUE(Submit("school", referral, &receipt).status.ok());
  Referral received;
  ASSERT_TRUE(
      Get("social-services", receipt.message_id(), &received).status.ok());
  EXPECT_EQ(received.header().sender().registry_code(), kSchool);
}

TEST_F(ReferralServiceTest, RefusalWithoutBasisIsPermissionDenied) {
  Referral referral = SampleReferral("k-health");
  referral.mutable_performer()->set_registry_code(kSchoolHealth);
  Receipt receipt;
  Call call = Submit("school", referral, &receipt);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call.reason, "NO_CONSENT");
  // Nothing was disclosed: the school health nurse has no such referral.
  Referral nothing;
  sild::v1::ListReferralsRequest list;
  sild::v1::ListReferralsResponse listed;
  auto stub = As("school-health");
  ASSERT_TRUE(
      Invoke(stub.get(), &sild::v1::ReferralService::Stub::List, list, &listed)
          .status.ok());
  EXPECT_EQ(listed.referrals_size(), 0);
}

TEST_F(ReferralServiceTest, RetryWithSameKeyReturnsTheOriginalReceipt) {
  Receipt first, second, third;
  ASSERT_TRUE(Submit("school", SampleReferral("k-retry"), &first).status.ok());
  ASSERT_TRUE(Submit("school", SampleReferral("k-retry"), &second).status.ok());
  EXPECT_EQ(first.message_id(), second.message_id());
  EXPECT_EQ(first.audit_sequence(), second.audit_sequence());
  EXPECT_TRUE(second.duplicate());
  Referral changed = SampleReferral("k-retry");
  changed.set_summary("something else");
  Call call = Submit("school", changed, &third);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(call.reason, "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(call.field, "referral.header.idempotency_key");
  // Exactly one referral exists for the school.
  sild::v1::ListReferralsRequest list;
  list.set_role(sild::v1::ListReferralsRequest::ROLE_SENT);
  sild::v1::ListReferralsResponse listed;
  auto stub = As("school");
  ASSERT_TRUE(
      Invoke(stub.get(), &sild::v1::ReferralService::Stub::List, list, &listed)
          .status.ok());
  EXPECT_EQ(listed.referrals_size(), 1);
}

TEST_F(ReferralServiceTest, RetriedStatusUpdateReturnsTheFirstReceipt) {
  Receipt receipt;
  ASSERT_TRUE(Submit("school", SampleReferral("k-st"), &receipt).status.ok());
  sild::v1::UpdateReferralStatusRequest request;
  request.set_referral_id(receipt.message_id());
  request.set_status(sild::v1::REFERRAL_STATUS_RECEIVED);
  request.set_idempotency_key("st-1");
  auto stub = As("social-services");
  Receipt first, second, third;
  ASSERT_TRUE(Invoke(stub.get(), &sild::v1::ReferralService::Stub::UpdateStatus,
                     request, &first)
                  .status.ok());
  Call retry =
      Invoke(stub.get(), &sild::v1::ReferralService::Stub::UpdateStatus,
             request, &second);
  ASSERT_TRUE(retry.status.ok()) << retry.status.error_message();
  EXPECT_TRUE(second.duplicate());
  EXPECT_EQ(second.message_id(), first.message_id());
  EXPECT_EQ(second.audit_sequence(), first.audit_sequence());
  request.set_status(sild::v1::REFERRAL_STATUS_ACCEPTED);
  Call reused =
      Invoke(stub.get(), &sild::v1::ReferralService::Stub::UpdateStatus,
             request, &third);
  EXPECT_EQ(reused.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(reused.reason, "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(reused.field, "idempotency_key");
  Referral sent;
  ASSERT_TRUE(Get("school", receipt.message_id(), &sent).status.ok());
  EXPECT_EQ(sent.status(), sild::v1::REFERRAL_STATUS_RECEIVED);
  EXPECT_EQ(sent.history_size(), 2);
}

TEST_F(ReferralServiceTest, RefusalTrailersNameTheAuditRecord) {
  Referral referral = SampleReferral("k-trailers");
  referral.mutable_performer()->set_registry_code(kSchoolHealth);
  sild::v1::SubmitReferralRequest request;
  *request.mutable_referral() = referral;
  auto stub = As("school");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  Receipt receipt;
  grpc::Status status = stub->Submit(&context, request, &receipt);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  const auto& trailers = context.GetServerTrailingMetadata();
  auto sequence = trailers.find("sild-audit-sequence");
  ASSERT_NE(sequence, trailers.end());
  int64_t audit_sequence = 0;
  EXPECT_TRUE(absl::SimpleAtoi(
      absl::string_view(sequence->second.data(), sequence->second.size()),
      &audit_sequence));
  EXPECT_GT(audit_sequence, 0);
  auto message_id = trailers.find("sild-message-id");
  ASSERT_NE(message_id, trailers.end());
  EXPECT_FALSE(message_id->second.empty());
  auto reason = trailers.find(kReasonMetadataKey);
  ASSERT_NE(reason, trailers.end());
  EXPECT_EQ(std::string(reason->second.data(), reason->second.size()),
            "NO_CONSENT");
}

TEST_F(ReferralServiceTest, NonPartyGetsNotFoundNeverContent) {
  Receipt receipt;
  ASSERT_TRUE(Submit("school", SampleReferral("k-bola"), &receipt).status.ok());
  Referral seen;
  Call call = Get("uif", receipt.message_id(), &seen);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call.reason, "REFERRAL_NOT_FOUND");
  EXPECT_EQ(seen.ByteSizeLong(), 0u);
  // Same answer as for an id that does not exist.
  EXPECT_EQ(Get("uif", "no-such-id", &seen).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A non-party cannot move it either.
  Receipt ignored;
  EXPECT_EQ(SetStatus("uif", receipt.message_id(),
                      sild::v1::REFERRAL_STATUS_ACCEPTED, &ignored)
                .status.error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReferralServiceTest, CaseManagerSeesOnlyOperationalFields) {
  Receipt receipt;
  ASSERT_TRUE(Submit("school", SampleReferral("k-cm"), &receipt).status.ok());
  sild::v1::ListReferralsRequest list;
  list.set_role(sild::v1::ListReferralsRequest::ROLE_CASE_MANAGED);
  sild::v1::ListReferralsResponse listed;
  auto stub = As("case-manager");
  ASSERT_TRUE(
      Invoke(stub.get(), &sild::v1::ReferralService::Stub::List, list, &listed)
          .status.ok());
  ASSERT_EQ(listed.referrals_size(), 1);
  EXPECT_EQ(listed.referrals(0).referral_id(), receipt.message_id());
  Referral seen;
  ASSERT_TRUE(Get("case-manager", receipt.message_id(), &seen).status.ok());
  EXPECT_TRUE(seen.subject().id().value().empty());
  EXPECT_TRUE(seen.summary().empty());
  EXPECT_EQ(seen.service(), sild::v1::SERVICE_TYPE_SOCIAL_WORKER);
}

TEST_F(ReferralServiceTest, LifecycleIsEnforcedAndTravelsBack) {
  Receipt receipt, update;
  ASSERT_TRUE(Submit("school", SampleReferral("k-life"), &receipt).status.ok());
  const std::string id = receipt.message_id();
  // The requester cannot accept its own referral.
  Call wrong_role =
      SetStatus("school", id, sild::v1::REFERRAL_STATUS_ACCEPTED, &update);
  EXPECT_EQ(wrong_role.status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(wrong_role.reason, "NOT_ALLOWED_FOR_ROLE");
  ASSERT_TRUE(SetStatus("social-services", id,
                        sild::v1::REFERRAL_STATUS_RECEIVED, &update)
                  .status.ok());
  EXPECT_EQ(update.recipients_size(), 1);
  EXPECT_EQ(update.recipients(0).recipient().registry_code(), kSchool);
  ASSERT_TRUE(SetStatus("social-services", id,
                        sild::v1::REFERRAL_STATUS_ACCEPTED, &update)
                  .status.ok());
  // Backwards is refused.
  Call backwards = SetStatus("social-services", id,
                             sild::v1::REFERRAL_STATUS_RECEIVED, &update);
  EXPECT_EQ(backwards.status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(backwards.reason, "INVALID_TRANSITION");

  Referral sent;
  ASSERT_TRUE(Get("school", id, &sent).status.ok());
  EXPECT_EQ(sent.status(), sild::v1::REFERRAL_STATUS_ACCEPTED);
  ASSERT_EQ(sent.history_size(), 3);
  EXPECT_EQ(sent.history(2).changed_by().registry_code(), kSocial);

  ASSERT_TRUE(
      SetStatus("school", id, sild::v1::REFERRAL_STATUS_WITHDRAWN, &update)
          .status.ok());
  EXPECT_EQ(SetStatus("social-services", id,
                      sild::v1::REFERRAL_STATUS_COMPLETED, &update)
                .status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  Referral received;
  ASSERT_TRUE(Get("social-services", id, &received).status.ok());
  EXPECT_EQ(received.status(), sild::v1::REFERRAL_STATUS_WITHDRAWN);

  // Status updates sent back without a basis for personal data are audited
  // as operational-only disclosures, never with a refusal code on an ALLOW.
  server_->Shutdown(absl::Seconds(5));
  auto sql = SqliteConnection::Open(dir_ + "/sild.db", {});
  ASSERT_TRUE(sql.ok()) << sql.status();
  auto records = AuditLog::ReadRecords(**sql, "sild-test", 1, 0);
  ASSERT_TRUE(records.ok()) << records.status();
  int status_disclosures = 0;
  for (const sild::v1::AuditRecord& r : *records) {
    if (r.action() != sild::v1::AUDIT_ACTION_DISCLOSURE ||
        r.message_kind() != sild::v1::MESSAGE_KIND_REFERRAL_STATUS) {
      continue;
    }
    ++status_disclosures;
    EXPECT_EQ(r.outcome(), sild::v1::AUDIT_OUTCOME_ALLOW);
    EXPECT_THAT(r.reason_code(),
                ::testing::AnyOf("OPERATIONAL_ONLY", "OK", "OK_MINIMISED"))
        << r.detail();
  }
  EXPECT_EQ(status_disclosures, 3);
}

TEST_F(ReferralServiceTest, BadInputNamesTheField) {
  Receipt receipt;
  Referral bad_code = SampleReferral("k-bad");
  bad_code.mutable_subject()->mutable_id()->set_value("51205280106");
  Call call = Submit("school", bad_code, &receipt);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call.reason, "INVALID_PERSONAL_CODE");
  EXPECT_EQ(call.field, "referral.subject.id.value");

  Referral no_key = SampleReferral("");
  call = Submit("school", no_key, &receipt);
  EXPECT_EQ(call.reason, "MISSING_IDEMPOTENCY_KEY");
  EXPECT_EQ(call.field, "referral.header.idempotency_key");

  Referral unknown = SampleReferral("k-unknown");
  unknown.mutable_performer()->set_registry_code("75001081");
  call = Submit("school", unknown, &receipt);
  EXPECT_EQ(call.reason, "UNKNOWN_RECIPIENT");
  EXPECT_EQ(call.field, "referral.performer.registry_code");

  Referral routed = SampleReferral("k-route");
  routed.clear_performer();
  routed.set_municipality("Raasiku vald");
  ASSERT_TRUE(Submit("school", routed, &receipt).status.ok());
  ASSERT_EQ(receipt.recipients_size(), 1);
  EXPECT_EQ(receipt.recipients(0).recipient().registry_code(), kSocial);

  routed.mutable_header()->set_idempotency_key("k-route-2");
  routed.set_municipality("Elsewhere");
  call = Submit("school", routed, &receipt);
  EXPECT_EQ(call.reason, "NO_ROUTE");
}

TEST_F(ReferralServiceTest, TransitionWithoutNextPlaceGoesToTheFund) {
  auto stub = sild::v1::TransitionService::NewStub(
      testing::AgencyChannel(server_->port(), "school"));
  sild::v1::SubmitTransitionRequest request;
  auto* t = request.mutable_transition();
  t->mutable_header()->set_idempotency_key("t-1");
  t->mutable_header()->set_purpose(sild::v1::PURPOSE_YOUTH_GUARANTEE);
  t->mutable_subject()->mutable_id()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  t->mutable_subject()->mutable_id()->set_value("50901011237");
  t->mutable_effective_date()->set_year(2026);
  t->mutable_effective_date()->set_month(6);
  t->mutable_effective_date()->set_day(15);
  t->set_leaving_reason(sild::v1::LEAVING_REASON_DROPPED_OUT);
  t->set_support_level(sild::v1::SUPPORT_LEVEL_ENHANCED);
  Receipt receipt;
  Call call = Invoke(stub.get(), &sild::v1::TransitionService::Stub::Submit,
                     request, &receipt);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  ASSERT_EQ(receipt.recipients_size(), 1);
  EXPECT_EQ(receipt.recipients(0).recipient().registry_code(), "75001052");
  EXPECT_THAT(receipt.recipients(0).withheld(),
              ::testing::Contains(sild::v1::DATA_CATEGORY_SPECIAL_NEEDS));

  auto fund = sild::v1::TransitionService::NewStub(
      testing::AgencyChannel(server_->port(), "uif"));
  sild::v1::AcknowledgeTransitionRequest ack;
  ack.set_transition_id(receipt.message_id());
  ack.mutable_acknowledgement()->set_status(
      sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED);
  Receipt ack_receipt;
  ASSERT_TRUE(Invoke(fund.get(),
                     &sild::v1::TransitionService::Stub::Acknowledge, ack,
                     &ack_receipt)
                  .status.ok());
  // Twice is refused.
  EXPECT_EQ(Invoke(fund.get(), &sild::v1::TransitionService::Stub::Acknowledge,
                   ack, &ack_receipt)
                .status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  sild::v1::GetTransitionRequest get;
  get.set_transition_id(receipt.message_id());
  sild::v1::GetTransitionResponse got;
  ASSERT_TRUE(
      Invoke(stub.get(), &sild::v1::TransitionService::Stub::Get, get, &got)
          .status.ok());
  EXPECT_EQ(got.transition().acknowledgement().status(),
            sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED);
}

TEST_F(ReferralServiceTest,
       ConsentWithdrawalNotifiesTheRecipientAndStopsFlows) {
  auto consents = sild::v1::ConsentService::NewStub(
      testing::AgencyChannel(server_->port(), "social-services"));
  sild::v1::GrantConsentRequest grant;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        consent {
          subject {
            scheme: IDENTIFIER_SCHEME_EE_PERSONAL_CODE
            value: "51205280105"
          }
          grantor {
            representative {
              person {
                id {
                  scheme: IDENTIFIER_SCHEME_EE_PERSONAL_CODE
                  value: "38001012341"
                }
              }
              relation: REPRESENTATIVE_RELATION_PARENT
            }
          }
          recipients { registry_codes: "75001023" }
          purposes: PURPOSE_CASE_MANAGEMENT
          data_categories: DATA_CATEGORY_IDENTITY
          data_categories: DATA_CATEGORY_EDUCATION
          data_categories: DATA_CATEGORY_HEALTH
          data_categories: DATA_CATEGORY_FREE_TEXT
          valid_from { seconds: 1577836800 }
          valid_until { seconds: 2082758400 }
          status: CONSENT_STATUS_APPROVED
        }
      )pb",
      &grant));
  sild::v1::GrantConsentResponse granted;
  Call call = Invoke(consents.get(), &sild::v1::ConsentService::Stub::Grant,
                     grant, &granted);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();

  Referral referral = SampleReferral("k-consent");
  referral.mutable_header()->set_purpose(sild::v1::PURPOSE_CASE_MANAGEMENT);
  Receipt receipt;
  call = Submit("school", referral, &receipt);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  ASSERT_EQ(receipt.recipients_size(), 1);
  EXPECT_EQ(receipt.recipients(0).basis().consent().consent_id(),
            granted.consent().consent_id());
  EXPECT_EQ(receipt.recipients(0).reason_code(), "OK");

  sild::v1::WithdrawConsentRequest withdraw;
  withdraw.set_consent_id(granted.consent().consent_id());
  withdraw.set_note("parent withdrew");
  sild::v1::WithdrawConsentResponse withdrawn;
  ASSERT_TRUE(Invoke(consents.get(), &sild::v1::ConsentService::Stub::Withdraw,
                     withdraw, &withdrawn)
                  .status.ok());
  EXPECT_EQ(withdrawn.pending_notices(), 1);

  // The notice reaches social services' outbox (sent in the background).
  auto db = SqliteConnection::Open(dir_ + "/sild.db", {});
  ASSERT_TRUE(db.ok()) << db.status();
  int64_t notices = 0;
  for (int i = 0; i < 100 && notices == 0; ++i) {
    auto rows = (*db)->Query(
        "SELECT COUNT(*) FROM outbox WHERE recipient = ? AND kind = ?",
        {std::string(kSocial), int64_t{sild::v1::MESSAGE_KIND_CONSENT_NOTICE}});
    ASSERT_TRUE(rows.ok()) << rows.status();
    notices = (*rows)[0].Int(0);
    if (notices == 0) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(notices, 1);

  // And the next referral on that consent is refused.
  referral.mutable_header()->set_idempotency_key("k-consent-2");
  call = Submit("school", referral, &receipt);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call.reason, "CONSENT_WITHDRAWN");
}

}  // namespace
}  // namespace sild
