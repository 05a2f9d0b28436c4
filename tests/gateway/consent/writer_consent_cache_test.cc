// The writer's consent cache on a real SQLite store: a second read of the
// same subject is answered from memory, and no write, rolled-back request
// or rolled-back batch can leave it answering with consents the database
// does not hold.
#include "gateway/consent/writer_consent_cache.h"

#include <memory>
#include <string>
#include <vector>

#include "gateway/consent/consent_registry.h"
#include "gateway/consent/consent_validation.h"
#include "gtest/gtest.h"
#include "tests/gateway/consent/consent_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using testing::kChild;
using testing::kSocialServices;
using testing::kTeen;
using testing::ParentConsent;
using testing::TestNow;
using v1::Consent;

// Fails the batch's commit while armed: a batch rollback the real store
// does not produce on demand.
class FailingCommit final : public TxnParticipant {
 public:
  absl::Status BeforeCommit(WriteTxn&) override {
    if (!armed) return absl::OkStatus();
    armed = false;
    return absl::UnavailableError("injected commit failure");
  }
  bool armed = false;
};

class WriterConsentCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = sild::testing::MakeTempDir("writer-consent-cache");
    config_ = sild::testing::DemoGatewayConfig(dir_);
    auto opened = sild::testing::OpenConsentStore(config_, &clock_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(opened->store);
    audit_log_ = std::move(opened->audit_log);
    store_->writer().AddParticipant(&cache_);
    store_->writer().AddParticipant(&failing_commit_);
    registry_ =
        std::make_unique<ConsentRegistry>(store_.get(), audit_log_.get());
    registry_->UseWriterCache(&cache_);
    store_->Start();
    recorder_.agency.set_registry_code(kSocialServices);
    recorder_.agency.set_kind(v1::AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES);
  }

  void TearDown() override {
    if (store_) store_->Close();
  }

  Consent Prepared() {
    auto prepared =
        PrepareConsentGrant(ParentConsent(), config_.consent_policy(),
                            clock_.Now(), absl::UTCTimeZone());
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    return prepared.ok() ? *prepared : Consent();
  }

  // The subject's consents as the writer reads them (cache or database).
  std::vector<Consent> ReadInTxn(const std::string& code = kChild) {
    std::vector<Consent> consents;
    absl::Status status = store_->writer().Run([&](WriteTxn& txn) {
      auto read = registry_->ConsentsForSubjectInTxn(txn, code);
      if (!read.ok()) return read.status();
      consents = std::move(*read);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return consents;
  }

  // What is committed, read past the cache.
  std::vector<Consent> ReadCommitted(const std::string& code = kChild) {
    std::vector<Consent> consents;
    absl::Status status = store_->Read([&](SqlConnection& sql) {
      auto read = registry_->ConsentsForSubject(sql, code);
      if (!read.ok()) return read.status();
      consents = std::move(*read);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return consents;
  }

  absl::StatusOr<ConsentChange> Grant() {
    Consent prepared = Prepared();
    absl::StatusOr<ConsentChange> change = absl::UnknownError("not run");
    absl::Status status = store_->writer().Run([&](WriteTxn& txn) {
      change = registry_->Grant(txn, recorder_, prepared);
      return change.status();
    });
    if (!status.ok()) return status;
    return change;
  }

  ManualClock clock_{TestNow()};
  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> audit_log_;
  WriterConsentCache cache_;
  FailingCommit failing_commit_;
  std::unique_ptr<ConsentRegistry> registry_;
  ConsentActor recorder_;
};

TEST_F(WriterConsentCacheTest, SecondReadComesFromMemoryAndMatches) {
  ASSERT_TRUE(Grant().ok());
  std::vector<Consent> first = ReadInTxn();
  std::vector<Consent> second = ReadInTxn();
  EXPECT_EQ(cache_.misses(), 1);
  EXPECT_EQ(cache_.hits(), 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  std::vector<Consent> committed = ReadCommitted();
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(second[0].SerializeAsString(), committed[0].SerializeAsString());
  // Another subject is its own entry.
  EXPECT_TRUE(ReadInTxn(kTeen).empty());
  EXPECT_EQ(cache_.size(), 2u);
}

TEST_F(WriterConsentCacheTest, GrantAndWithdrawAreSeenByTheNextRead) {
  EXPECT_TRUE(ReadInTxn().empty());  // cached: no consents
  auto granted = Grant();
  ASSERT_TRUE(granted.ok()) << granted.status();
  std::vector<Consent> after_grant = ReadInTxn();
  ASSERT_EQ(after_grant.size(), 1u);
  EXPECT_EQ(after_grant[0].status(), v1::CONSENT_STATUS_APPROVED);
  ReadInTxn();  // cached again
  ASSERT_TRUE(store_->writer()
                  .Run([&](WriteTxn& txn) {
                    return registry_
                        ->Withdraw(txn, recorder_,
                                   granted->consent.consent_id(), "withdrawn")
                        .status();
                  })
                  .ok());
  std::vector<Consent> after_withdraw = ReadInTxn();
  ASSERT_EQ(after_withdraw.size(), 1u);
  EXPECT_EQ(after_withdraw[0].status(), v1::CONSENT_STATUS_WITHDRAWN);
}

TEST_F(WriterConsentCacheTest, AGrantRolledBackWithItsRequestIsForgotten) {
  EXPECT_TRUE(ReadInTxn().empty());
  Consent prepared = Prepared();
  absl::Status status = store_->writer().Run([&](WriteTxn& txn) {
    auto change = registry_->Grant(txn, recorder_, prepared);
    if (!change.ok()) return change.status();
    // Read (and cache) inside the request: the uncommitted grant is seen.
    auto inside = registry_->ConsentsForSubjectInTxn(txn, kChild);
    if (!inside.ok() || inside->size() != 1) {
      return absl::InternalError("grant not visible inside its request");
    }
    return absl::AbortedError("the caller gives up");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(ReadCommitted().empty());
  EXPECT_TRUE(ReadInTxn().empty());
}

TEST_F(WriterConsentCacheTest, AGrantRolledBackWithItsBatchIsForgotten) {
  EXPECT_TRUE(ReadInTxn().empty());
  failing_commit_.armed = true;
  Consent prepared = Prepared();
  absl::Status status = store_->writer().Run([&](WriteTxn& txn) {
    auto change = registry_->Grant(txn, recorder_, prepared);
    if (!change.ok()) return change.status();
    return registry_->ConsentsForSubjectInTxn(txn, kChild).status();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(ReadCommitted().empty());
  EXPECT_TRUE(ReadInTxn().empty());
}

TEST(WriterConsentCacheCapacityTest, OldestSubjectGoesFirst) {
  WriterConsentCache cache(2);
  Consent consent = ParentConsent();
  cache.Put("a", {consent});
  cache.Put("b", {});
  cache.Put("a", {consent, consent});  // replaces, keeps its place
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Find("a")->size(), 2u);
  cache.Put("c", {});
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Find("a").has_value());
  EXPECT_TRUE(cache.Find("b").has_value());
  EXPECT_TRUE(cache.Find("c").has_value());
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  WriterConsentCache none(0);
  none.Put("a", {});
  EXPECT_FALSE(none.Find("a").has_value());
}

}  // namespace
}  // namespace sild
