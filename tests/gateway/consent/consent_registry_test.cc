// The consent registry on a real SQLite store with the real audit log:
// decisions through the store-backed readers, disclosures and withdrawal
// notices. Every case runs without and with the writer's consent cache
// (.../Uncached, .../WriterCache): the cache must change nothing.
#include "gateway/consent/consent_registry.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gateway/base/errors.h"
#include "gateway/consent/consent_validation.h"
#include "gateway/consent/store_consent_reader.h"
#include "gateway/policy/decision.h"
#include "gateway/policy/in_memory_consent_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gateway/consent/consent_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::testing::ElementsAre;
using testing::kChild;
using testing::kSchool;
using testing::kSchoolHealth;
using testing::kTeen;
using testing::kUif;
using testing::ParentConsent;
using testing::TestNow;
using v1::Consent;

v1::AgencyRef Agency(const std::string& code, v1::AgencyKind kind) {
  v1::AgencyRef ref;
  ref.set_registry_code(code);
  ref.set_kind(kind);
  return ref;
}

class ConsentRegistryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("consent-registry");
    config_ = testing::DemoGatewayConfig(dir_);
    auto opened = testing::OpenConsentStore(config_, &clock_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(opened->store);
    audit_log_ = std::move(opened->audit_log);
    registry_ =
        std::make_unique<ConsentRegistry>(store_.get(), audit_log_.get());
    if (GetParam()) {
      store_->writer().AddParticipant(&writer_cache_);
      registry_->UseWriterCache(&writer_cache_);
    }
    store_->Start();
    recorder_.agency = Agency(testing::kSocialServices,
                              v1::AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES);
  }

  void TearDown() override {
    if (store_) store_->Close();
  }

  absl::StatusOr<ConsentChange> Grant(const Consent& consent) {
    auto prepared = PrepareConsentGrant(consent, config_.consent_policy(),
                                        clock_.Now(), absl::UTCTimeZone());
    if (!prepared.ok()) return prepared.status();
    absl::StatusOr<ConsentChange> change = absl::UnknownError("not run");
    absl::Status status = store_->writer().Run([&](WriteTxn& txn) {
      change = registry_->Grant(txn, recorder_, *prepared);
      return change.status();
    });
    if (!status.ok()) return status;
    return change;
  }

  absl::StatusOr<ConsentChange> Withdraw(const std::string& id) {
    absl::StatusOr<ConsentChange> change = absl::UnknownError("not run");
    absl::Status status = store_->writer().Run([&](WriteTxn& txn) {
      change = registry_->Withdraw(txn, recorder_, id, "withdrawn");
      return change.status();
    });
    if (!status.ok()) return status;
    return change;
  }

  absl::Status Disclose(const Consent& consent, const std::string& recipient,
                        const std::string& message_id) {
    return store_->writer().Run([&](WriteTxn& txn) {
      return registry_->RecordDisclosure(
          txn, consent.consent_id(), consent.version(), recipient, message_id);
    });
  }

  std::vector<PendingWithdrawalNotice> Pending() {
    std::vector<PendingWithdrawalNotice> notices;
    EXPECT_TRUE(store_
                    ->Read([&](SqlConnection& sql) -> absl::Status {
                      auto read = registry_->PendingWithdrawalNotices(sql);
                      if (!read.ok()) return read.status();
                      notices = *read;
                      return absl::OkStatus();
                    })
                    .ok());
    return notices;
  }

  WriterConsentCache writer_cache_;
  ManualClock clock_{TestNow()};
  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> audit_log_;
  std::unique_ptr<ConsentRegistry> registry_;
  ConsentActor recorder_;
};

TEST_P(ConsentRegistryTest, StoreReaderDecidesLikeTheInMemoryReader) {
  // A spread of consents: approved, withdrawn, declined, requested, expired,
  // not yet valid, by kind, self-given by a teenager and by a child.
  std::vector<Consent> inputs;
  inputs.push_back(ParentConsent());
  Consent by_kind = ParentConsent();
  by_kind.mutable_recipients()->clear_registry_codes();
  by_kind.mutable_recipients()->add_kinds(v1::AGENCY_KIND_CHILD_PROTECTION);
  by_kind.clear_data_categories();
  by_kind.add_data_categories(v1::DATA_CATEGORY_SOCIAL_WELFARE);
  inputs.push_back(by_kind);
  Consent declined = ParentConsent();
  declined.set_status(v1::CONSENT_STATUS_DECLINED);
  declined.mutable_recipients()->set_registry_codes(0, kUif);
  inputs.push_back(declined);
  Consent requested = ParentConsent();
  requested.set_status(v1::CONSENT_STATUS_REQUESTED);
  requested.add_purposes(v1::PURPOSE_CASE_MANAGEMENT);
  inputs.push_back(requested);
  Consent later = ParentConsent();
  *later.mutable_valid_from() = testing::At(TestNow() + absl::Hours(24 * 30));
  later.clear_purposes();
  later.add_purposes(v1::PURPOSE_HEALTH_CARE);
  inputs.push_back(later);
  Consent teen = ParentConsent();
  teen.mutable_subject()->set_value(kTeen);
  teen.mutable_grantor()->set_subject_self(true);
  teen.add_data_categories(v1::DATA_CATEGORY_SOCIAL_WELFARE);
  inputs.push_back(teen);

  InMemoryConsentReader memory;
  std::vector<Consent> stored;
  for (const Consent& input : inputs) {
    auto change = Grant(input);
    ASSERT_TRUE(change.ok()) << change.status();
    stored.push_back(change->consent);
  }
  auto withdrawn = Withdraw(stored[0].consent_id());
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  stored[0] = withdrawn->consent;
  // A second approved consent beside the withdrawn one, shorter-lived.
  Consent second = ParentConsent();
  *second.mutable_valid_until() = testing::At(TestNow() + absl::Hours(24 * 7));
  auto second_change = Grant(second);
  ASSERT_TRUE(second_change.ok());
  stored.push_back(second_change->consent);
  for (const Consent& c : stored) memory.Put(c);

  StoreConsentReader store_reader(store_.get(), registry_.get());
  DecisionEngine from_memory(config_, &memory);
  DecisionEngine from_store(config_, &store_reader);

  const std::vector<v1::AgencyRef> recipients = {
      Agency(kSchoolHealth, v1::AGENCY_KIND_SCHOOL_HEALTH),
      Agency(testing::kChildProtection, v1::AGENCY_KIND_CHILD_PROTECTION),
      Agency(kUif, v1::AGENCY_KIND_UNEMPLOYMENT_INSURANCE_FUND)};
  const std::vector<v1::Purpose> purposes = {v1::PURPOSE_SUPPORT_SERVICE,
                                             v1::PURPOSE_CASE_MANAGEMENT,
                                             v1::PURPOSE_HEALTH_CARE};
  const std::vector<CategorySet> requests = {
      {v1::DATA_CATEGORY_HEALTH},
      {v1::DATA_CATEGORY_HEALTH, v1::DATA_CATEGORY_SOCIAL_WELFARE},
      {v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_OPERATIONAL}};
  const std::vector<absl::Time> times = {
      TestNow(), TestNow() + absl::Hours(24 * 10),
      TestNow() + absl::Hours(24 * 40), TestNow() + absl::Hours(24 * 400)};
  int compared = 0, allowed = 0;
  std::set<std::string> reasons;
  for (const char* subject : {kChild, kTeen, testing::kParent}) {
    for (const auto& recipient : recipients) {
      for (v1::Purpose purpose : purposes) {
        for (CategorySet requested : requests) {
          for (absl::Time time : times) {
            DecisionRequest request;
            request.sender = Agency(kSchool, v1::AGENCY_KIND_SCHOOL);
            request.recipient = recipient;
            request.purpose = purpose;
            request.subject_personal_code = subject;
            request.message_kind = v1::MESSAGE_KIND_REFERRAL;
            request.requested = requested;
            request.time = time;
            Decision a = from_memory.Decide(request);
            Decision b = from_store.Decide(request);
            SCOPED_TRACE(a.detail);
            EXPECT_EQ(a.allow, b.allow);
            EXPECT_EQ(a.reason, b.reason);
            EXPECT_EQ(a.basis.SerializeAsString(), b.basis.SerializeAsString());
            EXPECT_EQ(a.permitted, b.permitted);
            EXPECT_EQ(a.denied, b.denied);
            EXPECT_EQ(a.detail, b.detail);
            ++compared;
            allowed += a.allow;
            reasons.insert(std::string(a.reason_code()));
          }
        }
      }
    }
  }
  EXPECT_EQ(compared, 3 * 3 * 3 * 3 * 4);
  EXPECT_GT(allowed, 0);
  // The matrix exercises the interesting outcomes, so equality means
  // something.
  for (const char* reason : {"OK", "OK_MINIMISED", "NO_CONSENT",
                             "CONSENT_EXPIRED", "CONSENT_NOT_YET_VALID",
                             "PURPOSE_NOT_COVERED", "RECIPIENT_NOT_COVERED"}) {
    EXPECT_TRUE(reasons.count(reason)) << reason;
  }
}

TEST_P(ConsentRegistryTest, DecisionsInsideAWriteSeeThatWrite) {
  StoreConsentReader committed(store_.get(), registry_.get());
  DecisionEngine engine(config_, &committed);
  DecisionRequest request;
  request.sender = Agency(kSchool, v1::AGENCY_KIND_SCHOOL);
  request.recipient = Agency(kSchoolHealth, v1::AGENCY_KIND_SCHOOL_HEALTH);
  request.purpose = v1::PURPOSE_SUPPORT_SERVICE;
  request.subject_personal_code = kChild;
  request.message_kind = v1::MESSAGE_KIND_REFERRAL;
  request.requested = {v1::DATA_CATEGORY_HEALTH};
  request.time = TestNow();

  auto granted = Grant(ParentConsent());
  ASSERT_TRUE(granted.ok());
  ASSERT_TRUE(engine.Decide(request).allow);

  // Inside one write: withdraw, then decide through the transaction. The
  // committed view still shows the consent approved; the transaction's
  // view does not, so a disclosure decided here cannot rely on it.
  Decision in_txn, outside;
  ASSERT_TRUE(store_->writer()
                  .Run([&](WriteTxn& txn) -> absl::Status {
                    auto change = registry_->Withdraw(
                        txn, recorder_, granted->consent.consent_id(), "");
                    if (!change.ok()) return change.status();
                    in_txn = engine.Decide(request,
                                           TxnConsentReader(txn, *registry_));
                    outside = engine.Decide(request);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_FALSE(in_txn.allow);
  EXPECT_EQ(in_txn.reason, ReasonCode::kConsentWithdrawn);
  EXPECT_TRUE(outside.allow);
  EXPECT_EQ(engine.Decide(request).reason, ReasonCode::kConsentWithdrawn);

  // An engine built without a reader works only with one per call.
  DecisionEngine readerless(config_, nullptr);
  EXPECT_EQ(readerless.Decide(request).reason,
            ReasonCode::kRegistryUnavailable);
  EXPECT_EQ(readerless.Decide(request, committed).reason,
            ReasonCode::kConsentWithdrawn);
}

TEST_P(ConsentRegistryTest, WithdrawalQueuesANoticePerRecipientThatReceived) {
  Consent consent = ParentConsent();
  consent.mutable_recipients()->add_registry_codes(kUif);
  auto granted = Grant(consent);
  ASSERT_TRUE(granted.ok());
  const Consent& c = granted->consent;
  ASSERT_TRUE(Disclose(c, kSchoolHealth, "msg-1").ok());
  ASSERT_TRUE(Disclose(c, kSchoolHealth, "msg-2").ok());
  ASSERT_TRUE(Disclose(c, kSchoolHealth, "msg-2").ok()) << "idempotent";
  ASSERT_TRUE(Disclose(c, kUif, "msg-3").ok());
  // Another consent's disclosures are not this one's business.
  auto other = Grant(ParentConsent());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(Disclose(other->consent, kSchoolHealth, "msg-9").ok());
  EXPECT_TRUE(Pending().empty());

  clock_.Advance(absl::Minutes(5));
  auto withdrawn = Withdraw(c.consent_id());
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_EQ(withdrawn->pending_notices, 2);

  std::vector<PendingWithdrawalNotice> notices = Pending();
  ASSERT_EQ(notices.size(), 2u);
  EXPECT_EQ(notices[0].recipient_code, kSchoolHealth);
  EXPECT_EQ(notices[1].recipient_code, kUif);
  for (const auto& n : notices) {
    EXPECT_EQ(n.consent_id, c.consent_id());
    EXPECT_EQ(n.version, 2);
    EXPECT_EQ(n.created, TestNow() + absl::Minutes(5));
    EXPECT_EQ(n.notice.consent_id(), c.consent_id());
    EXPECT_EQ(n.notice.version(), 2);
    EXPECT_EQ(n.notice.subject().value(), kChild);
    EXPECT_EQ(n.notice.withdrawn_time().seconds(),
              absl::ToUnixSeconds(TestNow() + absl::Minutes(5)));
  }
  EXPECT_THAT(notices[0].notice.message_ids(), ElementsAre("msg-1", "msg-2"));
  EXPECT_THAT(notices[1].notice.message_ids(), ElementsAre("msg-3"));

  // Nothing more may be disclosed under it.
  absl::Status late = Disclose(withdrawn->consent, kSchoolHealth, "msg-4");
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(late), "CONSENT_WITHDRAWN");

  // The exchange drains: a queued notice is no longer pending.
  ASSERT_TRUE(store_->writer()
                  .Run([&](WriteTxn& txn) {
                    return registry_->MarkWithdrawalNoticeQueued(
                        txn, c.consent_id(), kSchoolHealth, "notice-msg-1");
                  })
                  .ok());
  notices = Pending();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].recipient_code, kUif);
  absl::Status twice = store_->writer().Run([&](WriteTxn& txn) {
    return registry_->MarkWithdrawalNoticeQueued(txn, c.consent_id(),
                                                 kSchoolHealth, "again");
  });
  EXPECT_EQ(twice.code(), absl::StatusCode::kNotFound);
}

TEST_P(ConsentRegistryTest, AFailedWriteLeavesNothingBehind) {
  // The audit log refuses a record when the request fails after the consent
  // rows were written: the savepoint rolls back both.
  absl::Status status =
      store_->writer().Run([&](WriteTxn& txn) -> absl::Status {
        auto prepared =
            PrepareConsentGrant(ParentConsent(), config_.consent_policy(),
                                clock_.Now(), absl::UTCTimeZone());
        if (!prepared.ok()) return prepared.status();
        auto change = registry_->Grant(txn, recorder_, *prepared);
        if (!change.ok()) return change.status();
        return absl::InternalError("injected failure after the grant");
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  StoreConsentReader reader(store_.get(), registry_.get());
  auto consents = reader.ConsentsForSubject(kChild);
  ASSERT_TRUE(consents.ok());
  EXPECT_TRUE(consents->empty());
  ASSERT_TRUE(store_
                  ->Read([](SqlConnection& sql) -> absl::Status {
                    auto records =
                        AuditLog::ReadRecords(sql, "sild-test", 1, 0);
                    if (!records.ok()) return records.status();
                    EXPECT_TRUE(records->empty());
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_P(ConsentRegistryTest, VersionsAreKeptAndSealedToTheirRow) {
  auto granted = Grant(ParentConsent());
  ASSERT_TRUE(granted.ok());
  const std::string id = granted->consent.consent_id();
  ASSERT_TRUE(Withdraw(id).ok());
  std::vector<Consent> versions;
  ASSERT_TRUE(store_
                  ->Read([&](SqlConnection& sql) -> absl::Status {
                    auto read = registry_->LoadVersions(sql, id);
                    if (!read.ok()) return read.status();
                    versions = *read;
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].status(), v1::CONSENT_STATUS_APPROVED);
  EXPECT_EQ(versions[1].status(), v1::CONSENT_STATUS_WITHDRAWN);

  // Copying version 1's sealed payload over the current row (a rollback
  // attempt in the database) does not open: the seal binds id and version.
  ASSERT_TRUE(store_->writer()
                  .Run([&](WriteTxn& txn) -> absl::Status {
                    return txn.sql()
                        .Exec(
                            "UPDATE consents SET payload = (SELECT payload"
                            " FROM consent_versions WHERE consent_id = ?"
                            " AND version = 1) WHERE consent_id = ?",
                            {id, id})
                        .status();
                  })
                  .ok());
  StoreConsentReader reader(store_.get(), registry_.get());
  auto consents = reader.ConsentsForSubject(kChild);
  EXPECT_EQ(consents.status().code(), absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(Cache, ConsentRegistryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "WriterCache" : "Uncached";
                         });

}  // namespace
}  // namespace sild
