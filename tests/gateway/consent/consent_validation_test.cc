// PrepareConsentGrant, EffectiveConsentStatus and consent ids, without a
// store.
#include "gateway/consent/consent_validation.h"

#include <set>

#include "gateway/base/errors.h"
#include "gateway/consent/consent_id.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gateway/consent/consent_test_util.h"

namespace sild {
namespace {

using testing::ParentConsent;
using testing::TestNow;
using v1::Consent;

config::v1::ConsentPolicy Policy() {
  config::v1::ConsentPolicy policy;
  policy.set_self_consent_age(15);
  policy.add_representative_relations(v1::REPRESENTATIVE_RELATION_PARENT);
  return policy;
}

absl::StatusOr<Consent> Prepare(const Consent& consent) {
  return PrepareConsentGrant(consent, Policy(), TestNow(), absl::UTCTimeZone());
}

TEST(ConsentValidationTest, FillsDefaultsAndClearsGatewayFields) {
  Consent input = ParentConsent();
  input.set_consent_id("chosen-by-client");
  input.set_version(7);
  input.mutable_recorded_by()->set_registry_code("75001017");
  input.clear_valid_from();
  input.mutable_subject()->clear_scheme();
  input.add_purposes(v1::PURPOSE_SUPPORT_SERVICE);  // a duplicate
  auto prepared = Prepare(input);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_TRUE(prepared->consent_id().empty());
  EXPECT_EQ(prepared->version(), 0);
  EXPECT_FALSE(prepared->has_recorded_by());
  EXPECT_EQ(prepared->status(), v1::CONSENT_STATUS_APPROVED);
  EXPECT_EQ(prepared->subject().scheme(),
            v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  EXPECT_EQ(prepared->valid_from().seconds(), absl::ToUnixSeconds(TestNow()));
  EXPECT_EQ(prepared->purposes_size(), 1);
}

TEST(ConsentValidationTest, RefusesWithReasonAndField) {
  struct Case {
    std::function<void(Consent&)> spoil;
    std::string reason;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](Consent& c) { c.mutable_subject()->set_value("5120528010"); },
       "INVALID_PERSONAL_CODE", "consent.subject.value"},
      {[](Consent& c) {
         c.mutable_subject()->set_scheme(v1::IDENTIFIER_SCHEME_AGENCY_LOCAL);
       },
       "UNSUPPORTED_IDENTIFIER_SCHEME", "consent.subject.scheme"},
      {[](Consent& c) { c.clear_grantor(); }, "MISSING_GRANTOR",
       "consent.grantor"},
      {[](Consent& c) { c.mutable_grantor()->set_subject_self(false); },
       "INVALID_GRANTOR", "consent.grantor.subject_self"},
      {[](Consent& c) {
         c.mutable_grantor()->mutable_representative()->set_relation(
             v1::REPRESENTATIVE_RELATION_UNSPECIFIED);
       },
       "INVALID_RELATION", "consent.grantor.representative.relation"},
      {[](Consent& c) {
         c.mutable_grantor()->mutable_representative()->set_relation(
             v1::REPRESENTATIVE_RELATION_GUARDIAN);
       },
       "REPRESENTATIVE_NOT_ENTITLED",
       "consent.grantor.representative.relation"},
      {[](Consent& c) {
         // The teenager has reached the self-consent age.
         c.mutable_subject()->set_value(testing::kTeen);
       },
       "REPRESENTATIVE_NOT_ENTITLED",
       "consent.grantor.representative.relation"},
      {[](Consent& c) {
         c.mutable_grantor()
             ->mutable_representative()
             ->mutable_person()
             ->mutable_id()
             ->set_value("39001010001");
       },
       "INVALID_PERSONAL_CODE",
       "consent.grantor.representative.person.id.value"},
      {[](Consent& c) {
         c.mutable_recipients()->add_kinds(v1::AGENCY_KIND_UNSPECIFIED);
       },
       "INVALID_AGENCY_KIND", "consent.recipients.kinds[0]"},
      {[](Consent& c) { c.clear_purposes(); }, "NO_PURPOSES",
       "consent.purposes"},
      {[](Consent& c) { c.add_data_categories(v1::DataCategory(42)); },
       "INVALID_CATEGORY", "consent.data_categories[2]"},
      {[](Consent& c) { c.mutable_valid_from()->set_nanos(-1); },
       "INVALID_TIMESTAMP", "consent.valid_from"},
      {[](Consent& c) { *c.mutable_valid_until() = c.valid_from(); },
       "INVALID_PERIOD", "consent.valid_until"},
      {[](Consent& c) { c.set_status(v1::CONSENT_STATUS_EXPIRED); },
       "INVALID_STATUS", "consent.status"},
      {[](Consent& c) { c.set_external_reference(std::string(300, 'r')); },
       "FIELD_TOO_LONG", "consent.external_reference"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].reason + " " + cases[i].field);
    Consent consent = ParentConsent();
    cases[i].spoil(consent);
    auto prepared = Prepare(consent);
    ASSERT_FALSE(prepared.ok());
    EXPECT_EQ(prepared.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorReason(prepared.status()), cases[i].reason);
    EXPECT_EQ(ErrorField(prepared.status()), cases[i].field);
  }
}

TEST(ConsentValidationTest, ExpiryIsComputed) {
  Consent consent = ParentConsent();
  consent.set_status(v1::CONSENT_STATUS_APPROVED);
  const absl::Time until =
      absl::FromUnixSeconds(consent.valid_until().seconds());
  EXPECT_EQ(EffectiveConsentStatus(consent, until - absl::Seconds(1)),
            v1::CONSENT_STATUS_APPROVED);
  EXPECT_EQ(EffectiveConsentStatus(consent, until), v1::CONSENT_STATUS_EXPIRED);
  consent.set_status(v1::CONSENT_STATUS_WITHDRAWN);
  EXPECT_EQ(EffectiveConsentStatus(consent, until),
            v1::CONSENT_STATUS_WITHDRAWN);
  consent.set_status(v1::CONSENT_STATUS_APPROVED);
  consent.clear_valid_until();
  EXPECT_EQ(EffectiveConsentStatus(consent, until + absl::Hours(1e5)),
            v1::CONSENT_STATUS_APPROVED);
}

TEST(ConsentIdTest, RandomVersionFourUuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = NewConsentId();
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(LooksLikeConsentId(*id)) << *id;
    EXPECT_EQ((*id)[14], '4');
    EXPECT_NE(std::string("89ab").find((*id)[19]), std::string::npos) << *id;
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(LooksLikeConsentId("3F6C2A0E-9B1D-4C57-8E2F-0A4B6D8C1E35"));
  EXPECT_FALSE(LooksLikeConsentId("3f6c2a0e9b1d4c578e2f0a4b6d8c1e35"));
  EXPECT_FALSE(LooksLikeConsentId("'; DROP TABLE consents; --"));
}

}  // namespace
}  // namespace sild
