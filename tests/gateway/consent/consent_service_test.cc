// ConsentService end to end: the gateway in this process on port 0, agencies
// calling over real mTLS with the test PKI, consents in a real SQLite file.
#include "gateway/consent/consent_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gateway/audit/audit_log.h"
#include "gateway/base/errors.h"
#include "gateway/config/config_loader.h"
#include "gateway/consent/consent_registry.h"
#include "gateway/policy/decision.h"
#include "gateway/server/server.h"
#include "gateway/server/tls_credentials.h"
#include "gateway/store/sqlite_connection.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/gateway/consent/consent_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using testing::CallOutcome;
using testing::ConsentClient;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kChild;
using testing::kSchoolHealth;
using testing::kSocialServices;
using testing::ParentConsent;
using v1::Consent;

class ConsentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("consent-service");
    config_ = testing::DemoGatewayConfig(dir_);
    auto* rule = config_.add_rules();
    rule->set_id("child-protection-notification");
    rule->set_citation("Child Protection Act § 27");
    rule->add_recipient_kinds(v1::AGENCY_KIND_CHILD_PROTECTION);
    rule->add_purposes(v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION);
    rule->add_message_kinds(v1::MESSAGE_KIND_REFERRAL);
    rule->add_categories(v1::DATA_CATEGORY_IDENTITY);
    rule->add_categories(v1::DATA_CATEGORY_EDUCATION);
    auto server = GatewayServer::Start(config_, &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  ConsentClient As(const std::string& agency) {
    return ConsentClient(testing::AgencyChannel(server_->port(), agency));
  }

  std::string DbPath() const { return dir_ + "/sild.db"; }

  // Grants ParentConsent() (or `consent`) as social services.
  Consent Granted(const Consent& consent = ParentConsent()) {
    v1::GrantConsentResponse response;
    CallOutcome outcome = As("social-services").Grant(consent, &response);
    EXPECT_TRUE(outcome.ok()) << outcome.status;
    return response.consent();
  }

  // Records the audit trail holds, read from the database file after the
  // gateway stopped.
  std::vector<v1::AuditRecord> AuditRecordsAfterShutdown() {
    server_->Shutdown(absl::Seconds(5));
    auto sql = SqliteConnection::Open(DbPath(), {});
    EXPECT_TRUE(sql.ok()) << sql.status();
    auto records = AuditLog::ReadRecords(**sql, "sild-test", 1, 0);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *records : std::vector<v1::AuditRecord>();
  }

  ManualClock clock_{testing::TestNow()};
  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(ConsentServiceTest, GrantCheckWithdrawCheck) {
  v1::GrantConsentResponse granted;
  CallOutcome grant = As("social-services").Grant(ParentConsent(), &granted);
  ASSERT_TRUE(grant.ok()) << grant.status;
  const Consent& consent = granted.consent();
  EXPECT_EQ(consent.consent_id().size(), 36u);
  EXPECT_EQ(consent.consent_id()[14], '4') << "UUID version 4";
  EXPECT_EQ(consent.version(), 1);
  EXPECT_EQ(consent.status(), v1::CONSENT_STATUS_APPROVED);
  EXPECT_EQ(consent.recorded_by().registry_code(), kSocialServices);
  EXPECT_EQ(consent.recorded_time().seconds(),
            absl::ToUnixSeconds(testing::TestNow()));
  EXPECT_GT(granted.audit_sequence(), 0);
  EXPECT_EQ(granted.audit_record_hash().size(), 32u);

  // The school asks what sending health and education data would give.
  ConsentClient school = As("school");
  v1::CheckConsentResponse check;
  ASSERT_TRUE(school.Check(&check).ok());
  EXPECT_TRUE(check.allow());
  EXPECT_EQ(check.reason_code(), "OK");
  EXPECT_EQ(check.basis().consent().consent_id(), consent.consent_id());
  EXPECT_EQ(check.basis().consent().version(), 1);
  EXPECT_THAT(check.sentence(), HasSubstr(consent.consent_id()));
  EXPECT_THAT(check.permitted_categories(),
              ::testing::IsSupersetOf(
                  {v1::DATA_CATEGORY_HEALTH, v1::DATA_CATEGORY_EDUCATION}));
  EXPECT_TRUE(check.denied_categories().empty());

  v1::WithdrawConsentResponse withdrawn;
  CallOutcome withdraw =
      As("social-services")
          .Withdraw(consent.consent_id(), "the mother withdrew it by phone",
                    &withdrawn);
  ASSERT_TRUE(withdraw.ok()) << withdraw.status;
  EXPECT_EQ(withdrawn.consent().version(), 2);
  EXPECT_EQ(withdrawn.consent().status(), v1::CONSENT_STATUS_WITHDRAWN);
  EXPECT_EQ(withdrawn.consent().status_note(),
            "the mother withdrew it by phone");
  EXPECT_EQ(withdrawn.pending_notices(), 0) << "nothing was disclosed yet";
  EXPECT_GT(withdrawn.audit_sequence(), granted.audit_sequence());

  ASSERT_TRUE(school.Check(&check).ok());
  EXPECT_FALSE(check.allow());
  EXPECT_EQ(check.reason_code(), "CONSENT_WITHDRAWN");
  EXPECT_FALSE(check.has_basis());
  EXPECT_TRUE(check.permitted_categories().empty());

  // Withdrawing twice is refused and changes nothing.
  CallOutcome again =
      As("social-services").Withdraw(consent.consent_id(), "", &withdrawn);
  EXPECT_EQ(again.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.reason_trailer, "ALREADY_WITHDRAWN");

  // Every version is kept.
  v1::ConsentHistoryResponse history;
  ASSERT_TRUE(As("school-health").History(consent.consent_id(), &history).ok());
  ASSERT_EQ(history.versions_size(), 2);
  EXPECT_EQ(history.versions(0).version(), 1);
  EXPECT_EQ(history.versions(0).status(), v1::CONSENT_STATUS_APPROVED);
  EXPECT_EQ(history.versions(1).version(), 2);
  EXPECT_EQ(history.versions(1).status(), v1::CONSENT_STATUS_WITHDRAWN);
  EXPECT_EQ(history.versions(1).recorded_time().seconds(),
            history.versions(0).recorded_time().seconds());
}

TEST_F(ConsentServiceTest, OnlyConsentRecordersMayGrantOrWithdraw) {
  v1::GrantConsentResponse response;
  CallOutcome school = As("school").Grant(ParentConsent(), &response);
  EXPECT_EQ(school.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(school.reason_trailer, "NOT_CONSENT_RECORDER");

  // The case manager holds the role too.
  CallOutcome case_manager =
      As("case-manager").Grant(ParentConsent(), &response);
  ASSERT_TRUE(case_manager.ok()) << case_manager.status;

  v1::WithdrawConsentResponse withdrawn;
  CallOutcome recipient =
      As("school-health")
          .Withdraw(response.consent().consent_id(), "", &withdrawn);
  EXPECT_EQ(recipient.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(recipient.reason_trailer, "NOT_CONSENT_RECORDER");

  // Nothing was written for the refused grant: one consent, one record.
  std::vector<v1::AuditRecord> records = AuditRecordsAfterShutdown();
  int changes = 0;
  for (const auto& r : records) {
    changes += r.action() == v1::AUDIT_ACTION_CONSENT_CHANGE;
  }
  EXPECT_EQ(changes, 1);
}

TEST_F(ConsentServiceTest, MalformedConsentsNameTheField) {
  struct Case {
    std::string name;
    std::function<void(Consent&)> spoil;
    std::string reason;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"bad personal code",
       [](Consent& c) { c.mutable_subject()->set_value("51205280106"); },
       "INVALID_PERSONAL_CODE", "consent.subject.value"},
      {"end before start",
       [](Consent& c) {
         *c.mutable_valid_until() =
             testing::At(testing::TestNow() - absl::Hours(48));
       },
       "INVALID_PERIOD", "consent.valid_until"},
      {"unknown purpose",
       [](Consent& c) { c.set_purposes(0, v1::Purpose(99)); },
       "INVALID_PURPOSE", "consent.purposes[0]"},
      {"unspecified purpose",
       [](Consent& c) { c.add_purposes(v1::PURPOSE_UNSPECIFIED); },
       "INVALID_PURPOSE", "consent.purposes[1]"},
      {"no recipients", [](Consent& c) { c.clear_recipients(); },
       "NO_RECIPIENTS", "consent.recipients"},
      {"no categories", [](Consent& c) { c.clear_data_categories(); },
       "NO_CATEGORIES", "consent.data_categories"},
      {"bad registry code",
       [](Consent& c) {
         c.mutable_recipients()->add_registry_codes("75001018");
       },
       "INVALID_REGISTRY_CODE", "consent.recipients.registry_codes[1]"},
      {"relation the policy does not allow",
       [](Consent& c) {
         c.mutable_grantor()->mutable_representative()->set_relation(
             v1::REPRESENTATIVE_RELATION_FOSTER_PARENT);
       },
       "REPRESENTATIVE_NOT_ENTITLED",
       "consent.grantor.representative.relation"},
      {"a twelve-year-old consenting alone",
       [](Consent& c) { c.mutable_grantor()->set_subject_self(true); },
       "SUBJECT_TOO_YOUNG_TO_CONSENT", "consent.grantor.subject_self"},
      {"status withdrawn",
       [](Consent& c) { c.set_status(v1::CONSENT_STATUS_WITHDRAWN); },
       "INVALID_STATUS", "consent.status"},
  };
  ConsentClient recorder = As("social-services");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Consent consent = ParentConsent();
    c.spoil(consent);
    v1::GrantConsentResponse response;
    CallOutcome outcome = recorder.Grant(consent, &response);
    EXPECT_EQ(outcome.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(outcome.reason_trailer, c.reason);
    EXPECT_EQ(outcome.field_trailer, c.field);
    EXPECT_EQ(ErrorField(outcome.status), c.field);
  }
  // None of them left anything behind.
  v1::ListConsentsRequest list;
  list.mutable_subject()->set_value(kChild);
  v1::ListConsentsResponse listed;
  ASSERT_TRUE(recorder.List(list, &listed).ok());
  EXPECT_TRUE(listed.consents().empty());
}

TEST_F(ConsentServiceTest, OnlyPartiesSeeAConsent) {
  Consent consent = Granted();
  Consent seen;
  EXPECT_TRUE(As("social-services").Get(consent.consent_id(), &seen).ok());
  EXPECT_TRUE(As("school-health").Get(consent.consent_id(), &seen).ok());
  EXPECT_EQ(seen.subject().value(), kChild);

  for (const char* outsider : {"uif", "school", "case-manager"}) {
    SCOPED_TRACE(outsider);
    Consent nothing;
    CallOutcome get = As(outsider).Get(consent.consent_id(), &nothing);
    EXPECT_EQ(get.status.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(get.reason_trailer, "CONSENT_NOT_FOUND");
    EXPECT_FALSE(nothing.has_subject());
    EXPECT_THAT(std::string(get.status.message()),
                ::testing::Not(HasSubstr(kChild)));
    v1::ConsentHistoryResponse history;
    EXPECT_EQ(
        As(outsider).History(consent.consent_id(), &history).status.code(),
        absl::StatusCode::kNotFound);
    EXPECT_TRUE(history.versions().empty());
  }
  // An unknown id answers exactly like a hidden one.
  Consent nothing;
  CallOutcome unknown =
      As("uif").Get("00000000-0000-4000-8000-000000000000", &nothing);
  EXPECT_EQ(unknown.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.reason_trailer, "CONSENT_NOT_FOUND");
}

TEST_F(ConsentServiceTest, RecipientsNamedByKindSeeTheConsent) {
  Consent by_kind = ParentConsent();
  by_kind.mutable_recipients()->clear_registry_codes();
  by_kind.mutable_recipients()->add_kinds(v1::AGENCY_KIND_SCHOOL_HEALTH);
  Consent consent = Granted(by_kind);
  Consent seen;
  EXPECT_TRUE(As("school-health").Get(consent.consent_id(), &seen).ok());
  EXPECT_EQ(As("uif").Get(consent.consent_id(), &seen).status.code(),
            absl::StatusCode::kNotFound);
  v1::CheckConsentResponse check;
  ASSERT_TRUE(As("school").Check(&check).ok());
  EXPECT_TRUE(check.allow()) << check.sentence();
}

TEST_F(ConsentServiceTest, ListsBySubjectAndRecipientInPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Granted().consent_id());
    clock_.Advance(absl::Seconds(1));
  }
  Consent elsewhere = ParentConsent();
  elsewhere.mutable_recipients()->set_registry_codes(0, testing::kUif);
  ids.push_back(Granted(elsewhere).consent_id());

  // The recorder sees all six, three a page, oldest first.
  v1::ListConsentsRequest request;
  request.mutable_subject()->set_value(kChild);
  request.set_page_size(3);
  std::vector<std::string> listed;
  for (int page = 0; page < 5; ++page) {
    v1::ListConsentsResponse response;
    CallOutcome outcome = As("social-services").List(request, &response);
    ASSERT_TRUE(outcome.ok()) << outcome.status;
    for (const auto& c : response.consents()) listed.push_back(c.consent_id());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(listed, ids);

  // School health sees only the five that name it.
  v1::ListConsentsRequest by_recipient;
  by_recipient.set_recipient_registry_code(kSchoolHealth);
  v1::ListConsentsResponse response;
  ASSERT_TRUE(As("school-health").List(by_recipient, &response).ok());
  EXPECT_EQ(response.consents_size(), 5);
  // The fund sees its own one by subject, and none by school health.
  request.clear_page_token();
  request.set_page_size(0);
  ASSERT_TRUE(As("uif").List(request, &response).ok());
  ASSERT_EQ(response.consents_size(), 1);
  EXPECT_EQ(response.consents(0).consent_id(), ids.back());
  ASSERT_TRUE(As("uif").List(by_recipient, &response).ok());
  EXPECT_TRUE(response.consents().empty());

  request.set_page_token("not-a-token");
  CallOutcome bad = As("social-services").List(request, &response);
  EXPECT_EQ(bad.reason_trailer, "INVALID_PAGE_TOKEN");
  EXPECT_EQ(bad.field_trailer, "page_token");
}

TEST_F(ConsentServiceTest, ExpiryIsShownAsAStatusAndDenies) {
  Consent consent = Granted();
  clock_.Advance(absl::Hours(24 * 366));
  Consent seen;
  ASSERT_TRUE(As("social-services").Get(consent.consent_id(), &seen).ok());
  EXPECT_EQ(seen.status(), v1::CONSENT_STATUS_EXPIRED);
  EXPECT_EQ(seen.version(), 1) << "expiry is computed, not a new version";
  v1::ConsentHistoryResponse history;
  ASSERT_TRUE(
      As("social-services").History(consent.consent_id(), &history).ok());
  ASSERT_EQ(history.versions_size(), 1);
  EXPECT_EQ(history.versions(0).status(), v1::CONSENT_STATUS_APPROVED);
  v1::CheckConsentResponse check;
  ASSERT_TRUE(As("school").Check(&check).ok());
  EXPECT_FALSE(check.allow());
  EXPECT_EQ(check.reason_code(), "CONSENT_EXPIRED");
}

TEST_F(ConsentServiceTest, CheckRefusesMalformedRequests) {
  v1::CheckConsentResponse check;
  CallOutcome bad_subject = As("school").Check(&check, "51205280106");
  EXPECT_EQ(bad_subject.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_subject.field_trailer, "subject.value");
  CallOutcome unknown = As("school").Check(&check, kChild, "75001081");
  EXPECT_EQ(unknown.reason_trailer, "UNKNOWN_RECIPIENT");
  EXPECT_EQ(unknown.field_trailer, "recipient_registry_code");
  // Without any consent: NO_CONSENT.
  ASSERT_TRUE(As("school").Check(&check).ok());
  EXPECT_FALSE(check.allow());
  EXPECT_EQ(check.reason_code(), "NO_CONSENT");
}

TEST_F(ConsentServiceTest, RulesAreListedAndExplained) {
  v1::ListRulesResponse rules;
  ConsentClient school = As("school");
  ASSERT_TRUE(school
                  .Call(&v1::ConsentService::Stub::ListRules,
                        v1::ListRulesRequest(), &rules)
                  .ok());
  ASSERT_EQ(rules.rules_size(), 1);
  EXPECT_EQ(rules.rules(0).id(), "child-protection-notification");
  EXPECT_THAT(
      rules.rules(0).categories(),
      ElementsAre(v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION));
  EXPECT_THAT(rules.rules(0).explanation(),
              HasSubstr("child-protection-notification"));
  v1::ListRulesRequest one;
  one.set_rule_id("no-such-rule");
  CallOutcome missing =
      school.Call(&v1::ConsentService::Stub::ListRules, one, &rules);
  EXPECT_EQ(missing.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.reason_trailer, "RULE_NOT_FOUND");
}

TEST_F(ConsentServiceTest, TheDatabaseNeverHoldsTheRawPersonalCode) {
  Consent consent = Granted();
  v1::WithdrawConsentResponse withdrawn;
  ASSERT_TRUE(As("social-services")
                  .Withdraw(consent.consent_id(), "", &withdrawn)
                  .ok());
  auto contains_code = [&](const std::string& path) {
    return absl::StrContains(testing::ReadBytes(path), kChild) ||
           absl::StrContains(testing::ReadBytes(path), testing::kParent);
  };
  // While running: the main file and the write-ahead log.
  EXPECT_GT(testing::ReadBytes(DbPath() + "-wal").size() +
                testing::ReadBytes(DbPath()).size(),
            0u);
  EXPECT_FALSE(contains_code(DbPath()));
  EXPECT_FALSE(contains_code(DbPath() + "-wal"));
  server_->Shutdown(absl::Seconds(5));
  EXPECT_FALSE(contains_code(DbPath()));
  EXPECT_FALSE(contains_code(DbPath() + "-wal"));
}

TEST_F(ConsentServiceTest, EveryChangeLeavesAConsentChangeRecord) {
  Consent consent = Granted();
  v1::WithdrawConsentResponse withdrawn;
  ASSERT_TRUE(As("social-services")
                  .Withdraw(consent.consent_id(), "withdrawn", &withdrawn)
                  .ok());
  std::vector<v1::AuditRecord> changes;
  for (v1::AuditRecord& r : AuditRecordsAfterShutdown()) {
    if (r.action() == v1::AUDIT_ACTION_CONSENT_CHANGE) changes.push_back(r);
  }
  ASSERT_EQ(changes.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const v1::AuditRecord& r = changes[i];
    EXPECT_EQ(r.actor().registry_code(), kSocialServices);
    EXPECT_EQ(r.outcome(), v1::AUDIT_OUTCOME_SUCCESS);
    EXPECT_EQ(r.basis().consent().consent_id(), consent.consent_id());
    EXPECT_EQ(r.basis().consent().version(), i + 1);
    EXPECT_EQ(r.subject_pseudonym().size(), 64u);
    EXPECT_NE(r.subject_pseudonym(), kChild);
    EXPECT_THAT(r.detail(), ::testing::Not(HasSubstr(kChild)));
  }
  EXPECT_EQ(changes[0].reason_code(), "CONSENT_GRANTED");
  EXPECT_EQ(changes[1].reason_code(), "CONSENT_WITHDRAWN");
  EXPECT_EQ(changes[0].subject_pseudonym(), changes[1].subject_pseudonym());
  EXPECT_EQ(changes[0].sequence(), withdrawn.audit_sequence() - 1);
}

TEST_F(ConsentServiceTest, ACorruptStoredConsentFailsClosed) {
  Consent consent = Granted();
  {
    auto sql = SqliteConnection::Open(DbPath(), {});
    ASSERT_TRUE(sql.ok()) << sql.status();
    ASSERT_TRUE((*sql)
                    ->Exec("UPDATE consents SET payload = ?",
                           {SqlBlob{std::string(64, 'x')}})
                    .ok());
  }
  v1::CheckConsentResponse check;
  ASSERT_TRUE(As("school").Check(&check).ok());
  EXPECT_FALSE(check.allow());
  EXPECT_EQ(check.reason_code(), "REGISTRY_UNAVAILABLE");
  Consent seen;
  EXPECT_EQ(
      As("social-services").Get(consent.consent_id(), &seen).status.code(),
      absl::StatusCode::kDataLoss);
}

// Fault injection: the service with a decision engine whose reader fails,
// served on its own mTLS port.
class FailingConsentReader final : public ConsentReader {
 public:
  absl::StatusOr<std::vector<Consent>> ConsentsForSubject(
      absl::string_view) const override {
    return absl::UnavailableError("injected: consent registry down");
  }
};

TEST(ConsentServiceFaultTest, AReaderErrorGivesRegistryUnavailable) {
  std::string dir = testing::MakeTempDir("consent-fault");
  config::v1::GatewayConfig config = testing::DemoGatewayConfig(dir);
  // Fills the agencies' default certificate identities, as at start.
  ASSERT_TRUE(ValidateConfig(config, "", /*check_files=*/true).ok());
  AgencyDirectory directory(config);
  FailingConsentReader failing;
  DecisionEngine decisions(config, &failing);
  ManualClock clock(testing::TestNow());
  // A real store and audit log: the refused check is still audited.
  auto opened = testing::OpenConsentStore(config, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store* store = opened->store.get();
  store->Start();
  ConsentRegistry registry(store, opened->audit_log.get());
  ConsentServiceImpl service(ConsentServiceDeps{&config, &clock, &directory,
                                                store, &registry, &decisions});
  auto credentials = MakeServerCredentials(config.tls());
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);

  v1::CheckConsentResponse check;
  CallOutcome outcome =
      ConsentClient(testing::AgencyChannel(port, "school")).Check(&check);
  ASSERT_TRUE(outcome.ok()) << outcome.status;
  EXPECT_FALSE(check.allow());
  EXPECT_EQ(check.reason_code(), "REGISTRY_UNAVAILABLE");
  EXPECT_THAT(check.sentence(), HasSubstr("UNAVAILABLE"));
  EXPECT_TRUE(check.permitted_categories().empty());
  EXPECT_THAT(check.denied_categories(),
              ::testing::UnorderedElementsAre(v1::DATA_CATEGORY_HEALTH,
                                              v1::DATA_CATEGORY_EDUCATION));
  server->Shutdown();
  store->Close();
  auto sql = SqliteConnection::Open(dir + "/sild.db", {});
  ASSERT_TRUE(sql.ok()) << sql.status();
  auto records = AuditLog::ReadRecords(**sql, "sild-test", 1, 0);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].outcome(), v1::AUDIT_OUTCOME_DENY);
  EXPECT_EQ((*records)[0].reason_code(), "REGISTRY_UNAVAILABLE");
}

// A check reveals whether a person's consent covers a flow: it is audited as
// a decision, with the answer given and no raw personal code.
TEST_F(ConsentServiceTest, EveryCheckLeavesADecisionRecord) {
  Consent consent = Granted();
  v1::CheckConsentResponse allowed;
  ASSERT_TRUE(As("school").Check(&allowed).ok());
  ASSERT_TRUE(allowed.allow());
  v1::CheckConsentResponse other;
  ASSERT_TRUE(As("school").Check(&other, kChild, kSocialServices).ok());

  std::vector<v1::AuditRecord> checks;
  for (v1::AuditRecord& r : AuditRecordsAfterShutdown()) {
    if (r.action() == v1::AUDIT_ACTION_DECISION) checks.push_back(r);
  }
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].actor().registry_code(), testing::kSchool);
  EXPECT_EQ(checks[0].counterparty(), kSchoolHealth);
  EXPECT_EQ(checks[0].outcome(), v1::AUDIT_OUTCOME_ALLOW);
  EXPECT_EQ(checks[0].reason_code(), allowed.reason_code());
  EXPECT_EQ(checks[0].basis().consent().consent_id(), consent.consent_id());
  EXPECT_EQ(checks[0].purpose(), v1::PURPOSE_SUPPORT_SERVICE);
  EXPECT_THAT(checks[0].detail(), ::testing::StartsWith("Check only"));
  EXPECT_EQ(checks[1].counterparty(), kSocialServices);
  EXPECT_EQ(checks[1].outcome(),
            other.allow() ? v1::AUDIT_OUTCOME_ALLOW : v1::AUDIT_OUTCOME_DENY);
  EXPECT_EQ(checks[1].reason_code(), other.reason_code());
  for (const v1::AuditRecord& r : checks) {
    EXPECT_EQ(r.subject_pseudonym().size(), 64u);
    EXPECT_THAT(r.detail(), ::testing::Not(HasSubstr(kChild)));
  }
}

}  // namespace
}  // namespace sild
