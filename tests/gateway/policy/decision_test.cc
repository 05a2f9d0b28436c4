#include "gateway/policy/decision.h"

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "gateway/policy/in_memory_consent_reader.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace sild {
namespace {

using sild::config::v1::GatewayConfig;
using sild::v1::Consent;

// Subjects, by age on the decision date 2026-03-02.
constexpr char kAge14[] = "51109140229";  // born 2011-09-14
constexpr char kAge12[] = "61304050170";  // born 2013-04-05
constexpr char kAge17[] = "50806110333";  // born 2008-06-11
constexpr char kSocialServices[] = "77000329";
constexpr char kOtherAgency[] = "70009112";

absl::Time At(int y, int m, int d, int hh = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, 0, 0),
                         absl::UTCTimeZone());
}
const absl::Time kNow = At(2026, 3, 2);

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

GatewayConfig TestConfig() {
  GatewayConfig config;
  constexpr char kText[] = R"pb(
    rules {
      id: "cp-notify"
      citation: "Child Protection Act § 27 (1)"
      description: "Anyone who learns of a child in need of assistance notifies the local authority."
      sender_kinds: [ AGENCY_KIND_SCHOOL, AGENCY_KIND_SCHOOL_HEALTH ]
      recipient_kinds: [ AGENCY_KIND_CHILD_PROTECTION ]
      purposes: [ PURPOSE_CHILD_PROTECTION_NOTIFICATION ]
      message_kinds: [ MESSAGE_KIND_REFERRAL, MESSAGE_KIND_ESCALATION ]
      categories: [
        DATA_CATEGORY_IDENTITY,
        DATA_CATEGORY_CONTACT,
        DATA_CATEGORY_EDUCATION,
        DATA_CATEGORY_SOCIAL_WELFARE
      ]
    }
    rules {
      id: "case-status"
      citation: "Social Welfare Act § 29"
      recipient_kinds: [ AGENCY_KIND_CASE_MANAGEMENT ]
      message_kinds: [ MESSAGE_KIND_REFERRAL_STATUS ]
      categories: [ DATA_CATEGORY_IDENTITY ]
    }
    consent_policy {
      self_consent_age: 15
      representative_relations: [
        REPRESENTATIVE_RELATION_PARENT,
        REPRESENTATIVE_RELATION_MUNICIPAL_GUARDIAN
      ]
    }
  )pb";
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kText, &config));
  return config;
}

// A consent for kAge14 by a parent, approved, valid 2025-09-01..2026-08-31,
// covering social services by registry code for support services with
// identity, education and health.
Consent BaseConsent(const std::string& id) {
  Consent c;
  c.set_consent_id(id);
  c.set_version(3);
  c.mutable_subject()->set_scheme(v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  c.mutable_subject()->set_value(kAge14);
  c.mutable_grantor()->mutable_representative()->set_relation(
      v1::REPRESENTATIVE_RELATION_PARENT);
  c.mutable_recipients()->add_registry_codes(kSocialServices);
  c.add_purposes(v1::PURPOSE_SUPPORT_SERVICE);
  c.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  c.add_data_categories(v1::DATA_CATEGORY_EDUCATION);
  c.add_data_categories(v1::DATA_CATEGORY_HEALTH);
  *c.mutable_valid_from() = Ts(At(2025, 9, 1, 0));
  *c.mutable_valid_until() = Ts(At(2026, 8, 31, 0));
  c.set_status(v1::CONSENT_STATUS_APPROVED);
  *c.mutable_updated_time() = Ts(At(2025, 9, 1, 0));
  return c;
}

Consent SelfConsent(const std::string& id, const std::string& subject) {
  Consent c = BaseConsent(id);
  c.mutable_subject()->set_value(subject);
  c.mutable_grantor()->set_subject_self(true);
  return c;
}

// School -> social services, support service referral about kAge14, holding
// identity, education and health.
DecisionRequest BaseRequest() {
  DecisionRequest r;
  r.sender.set_registry_code("75016705");
  r.sender.set_kind(v1::AGENCY_KIND_SCHOOL);
  r.recipient.set_registry_code(kSocialServices);
  r.recipient.set_kind(v1::AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES);
  r.purpose = v1::PURPOSE_SUPPORT_SERVICE;
  r.subject_personal_code = kAge14;
  r.message_kind = v1::MESSAGE_KIND_REFERRAL;
  r.requested = {v1::DATA_CATEGORY_OPERATIONAL, v1::DATA_CATEGORY_PROFESSIONAL,
                 v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION,
                 v1::DATA_CATEGORY_HEALTH};
  r.time = kNow;
  return r;
}

// Fault injection: a registry that cannot be reached.
class UnavailableReader final : public ConsentReader {
 public:
  absl::StatusOr<std::vector<Consent>> ConsentsForSubject(
      absl::string_view) const override {
    ++calls;
    return absl::UnavailableError("connection refused");
  }
  mutable int calls = 0;
};

// A reader answering with a fixed list in a fixed order (the in-memory one
// keeps insertion order too, but this makes the order explicit).
class ListReader final : public ConsentReader {
 public:
  explicit ListReader(std::vector<Consent> consents)
      : consents_(std::move(consents)) {}
  absl::StatusOr<std::vector<Consent>> ConsentsForSubject(
      absl::string_view code) const override {
    std::vector<Consent> out;
    for (const Consent& c : consents_) {
      if (c.subject().value() == code) out.push_back(c);
    }
    return out;
  }

 private:
  std::vector<Consent> consents_;
};

struct Case {
  Case(std::string name, std::vector<Consent> consents,
       std::function<void(DecisionRequest&)> adjust, ReasonCode reason,
       CategorySet personal_permitted = {}, std::string basis = "",
       bool unavailable_registry = false,
       std::function<void(GatewayConfig&)> adjust_config = nullptr)
      : name(std::move(name)),
        consents(std::move(consents)),
        adjust(std::move(adjust)),
        reason(reason),
        personal_permitted(personal_permitted),
        basis(std::move(basis)),
        unavailable_registry(unavailable_registry),
        adjust_config(std::move(adjust_config)) {}

  std::string name;
  std::vector<Consent> consents;
  std::function<void(DecisionRequest&)> adjust;  // may be null
  ReasonCode reason;
  // ALLOW only: the personal categories permitted, and the basis id.
  CategorySet personal_permitted;
  std::string basis;  // consent id or rule id
  bool unavailable_registry;
  std::function<void(GatewayConfig&)> adjust_config;  // may be null
};

std::vector<Case> Matrix() {
  const CategorySet kIdEduHealth = {v1::DATA_CATEGORY_IDENTITY,
                                    v1::DATA_CATEGORY_EDUCATION,
                                    v1::DATA_CATEGORY_HEALTH};
  std::vector<Case> cases;

  // --- ALLOW ---
  cases.push_back({"consent_covers_everything",
                   {BaseConsent("c-1")},
                   nullptr,
                   ReasonCode::kOk,
                   kIdEduHealth,
                   "c-1"});
  {
    Consent c = BaseConsent("c-1");
    c.clear_data_categories();
    c.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    c.add_data_categories(v1::DATA_CATEGORY_EDUCATION);
    cases.push_back({"consent_without_health_minimises",
                     {c},
                     nullptr,
                     ReasonCode::kOkMinimised,
                     {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION},
                     "c-1"});
  }
  {
    Consent by_kind = BaseConsent("c-kind");
    by_kind.mutable_recipients()->clear_registry_codes();
    by_kind.mutable_recipients()->add_kinds(
        v1::AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES);
    cases.push_back({"consent_names_recipient_by_kind",
                     {by_kind},
                     nullptr,
                     ReasonCode::kOk,
                     kIdEduHealth,
                     "c-kind"});
  }
  {
    Consent narrow = BaseConsent("c-a");
    narrow.clear_data_categories();
    narrow.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    Consent wide = BaseConsent("c-b");
    cases.push_back({"best_covering_consent_wins",
                     {narrow, wide},
                     nullptr,
                     ReasonCode::kOk,
                     kIdEduHealth,
                     "c-b"});
  }
  auto to_child_protection = [](DecisionRequest& r) {
    r.recipient.set_registry_code("70009209");
    r.recipient.set_kind(v1::AGENCY_KIND_CHILD_PROTECTION);
    r.purpose = v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION;
    r.requested = {v1::DATA_CATEGORY_OPERATIONAL, v1::DATA_CATEGORY_IDENTITY,
                   v1::DATA_CATEGORY_EDUCATION};
  };
  cases.push_back({"rule_covers_everything",
                   {},
                   to_child_protection,
                   ReasonCode::kOk,
                   {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION},
                   "cp-notify"});
  cases.push_back({"rule_needs_no_registry",
                   {},
                   to_child_protection,
                   ReasonCode::kOk,
                   {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION},
                   "cp-notify",
                   /*unavailable_registry=*/true});
  auto to_child_protection_with_health = [&](DecisionRequest& r) {
    to_child_protection(r);
    r.requested.Add(v1::DATA_CATEGORY_HEALTH);
  };
  cases.push_back({"rule_without_health_minimises",
                   {},
                   to_child_protection_with_health,
                   ReasonCode::kOkMinimised,
                   {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION},
                   "cp-notify"});
  {
    Consent cp = BaseConsent("c-cp");
    cp.mutable_recipients()->add_kinds(v1::AGENCY_KIND_CHILD_PROTECTION);
    cp.add_purposes(v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION);
    cases.push_back({"consent_covering_more_than_the_rule_wins",
                     {cp},
                     to_child_protection_with_health,
                     ReasonCode::kOk,
                     kIdEduHealth,
                     "c-cp"});
    Consent health_only = cp;
    health_only.clear_data_categories();
    health_only.add_data_categories(v1::DATA_CATEGORY_HEALTH);
    health_only.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    cases.push_back({"rule_wins_a_tie_with_a_consent",
                     {health_only},
                     to_child_protection_with_health,
                     ReasonCode::kOkMinimised,
                     {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION},
                     "cp-notify"});
  }
  cases.push_back({"rule_with_empty_lists_matches_any_sender_and_purpose",
                   {},
                   [](DecisionRequest& r) {
                     r.sender.set_kind(v1::AGENCY_KIND_YOUTH_WORK);
                     r.recipient.set_kind(v1::AGENCY_KIND_CASE_MANAGEMENT);
                     r.purpose = v1::PURPOSE_CASE_MANAGEMENT;
                     r.message_kind = v1::MESSAGE_KIND_REFERRAL_STATUS;
                     r.requested = {v1::DATA_CATEGORY_OPERATIONAL,
                                    v1::DATA_CATEGORY_IDENTITY};
                   },
                   ReasonCode::kOk,
                   {v1::DATA_CATEGORY_IDENTITY},
                   "case-status"});
  cases.push_back({"only_operational_data_needs_no_basis",
                   {},
                   [](DecisionRequest& r) {
                     r.requested = {v1::DATA_CATEGORY_OPERATIONAL,
                                    v1::DATA_CATEGORY_PROFESSIONAL};
                     r.subject_personal_code = "";
                   },
                   ReasonCode::kOk,
                   {},
                   "",
                   /*unavailable_registry=*/true});

  // --- minors ---
  {
    Consent parent_for_12 = BaseConsent("c-parent-12");
    parent_for_12.mutable_subject()->set_value(kAge12);
    cases.push_back(
        {"age_12_with_parent_consent",
         {parent_for_12},
         [](DecisionRequest& r) { r.subject_personal_code = kAge12; },
         ReasonCode::kOk,
         kIdEduHealth,
         "c-parent-12"});
    cases.push_back(
        {"age_12_own_consent_too_young",
         {SelfConsent("c-self-12", kAge12)},
         [](DecisionRequest& r) { r.subject_personal_code = kAge12; },
         ReasonCode::kSubjectTooYoungToConsent});
    cases.push_back(
        {"age_17_own_consent",
         {SelfConsent("c-self-17", kAge17)},
         [](DecisionRequest& r) { r.subject_personal_code = kAge17; },
         ReasonCode::kOk,
         kIdEduHealth,
         "c-self-17"});
    Consent guardian = BaseConsent("c-guardian");
    guardian.mutable_grantor()->mutable_representative()->set_relation(
        v1::REPRESENTATIVE_RELATION_GUARDIAN);
    cases.push_back({"guardian_relation_not_configured",
                     {guardian},
                     nullptr,
                     ReasonCode::kRepresentativeNotEntitled});
    Consent municipal = BaseConsent("c-municipal");
    municipal.mutable_grantor()->mutable_representative()->set_relation(
        v1::REPRESENTATIVE_RELATION_MUNICIPAL_GUARDIAN);
    cases.push_back({"municipal_guardian_configured",
                     {municipal},
                     nullptr,
                     ReasonCode::kOk,
                     kIdEduHealth,
                     "c-municipal"});
    Consent parent_for_17 = BaseConsent("c-parent-17");
    parent_for_17.mutable_subject()->set_value(kAge17);
    cases.push_back(
        {"parent_consent_lapses_at_self_consent_age",
         {parent_for_17},
         [](DecisionRequest& r) { r.subject_personal_code = kAge17; },
         ReasonCode::kRepresentativeNotEntitled});
    // Turns 15 on 2026-09-14 in Estonia; 22:00 UTC on the 13th is already
    // 01:00 on the 14th in Tallinn (UTC+3 in summer), 20:00 UTC is not.
    Consent own = SelfConsent("c-self-14", kAge14);
    *own.mutable_valid_until() = Ts(At(2027, 8, 31));
    cases.push_back({"self_consent_counts_from_the_birthday_in_tallinn",
                     {own},
                     [](DecisionRequest& r) { r.time = At(2026, 9, 13, 22); },
                     ReasonCode::kOk,
                     kIdEduHealth,
                     "c-self-14"});
    cases.push_back({"self_consent_not_the_day_before",
                     {own},
                     [](DecisionRequest& r) { r.time = At(2026, 9, 13, 20); },
                     ReasonCode::kSubjectTooYoungToConsent});
    cases.push_back(
        {"self_consent_age_unset_fails_closed",
         {SelfConsent("c-self-17", kAge17)},
         [](DecisionRequest& r) { r.subject_personal_code = kAge17; },
         ReasonCode::kSubjectTooYoungToConsent,
         {},
         "",
         false,
         [](GatewayConfig& c) {
           c.mutable_consent_policy()->clear_self_consent_age();
         }});
    Consent no_grantor = BaseConsent("c-nobody");
    no_grantor.clear_grantor();
    cases.push_back({"consent_without_grantor",
                     {no_grantor},
                     nullptr,
                     ReasonCode::kRepresentativeNotEntitled});
  }
  // --- DENY ---
  cases.push_back({"no_consent_at_all", {}, nullptr, ReasonCode::kNoConsent});
  {
    Consent c = BaseConsent("c-1");
    *c.mutable_valid_until() = Ts(At(2026, 3, 1));
    cases.push_back({"consent_valid_until_passed",
                     {c},
                     nullptr,
                     ReasonCode::kConsentExpired});
    Consent boundary = BaseConsent("c-1");
    *boundary.mutable_valid_until() = Ts(kNow);
    cases.push_back({"valid_until_is_exclusive",
                     {boundary},
                     nullptr,
                     ReasonCode::kConsentExpired});
  }
  {
    Consent c = BaseConsent("c-1");
    c.set_status(v1::CONSENT_STATUS_EXPIRED);
    cases.push_back(
        {"consent_status_expired", {c}, nullptr, ReasonCode::kConsentExpired});
  }
  {
    Consent c = BaseConsent("c-1");
    *c.mutable_valid_from() = Ts(At(2026, 4, 1));
    cases.push_back({"consent_not_yet_valid",
                     {c},
                     nullptr,
                     ReasonCode::kConsentNotYetValid});
  }
  for (auto [status, reason, name] :
       std::vector<std::tuple<v1::ConsentStatus, ReasonCode, std::string>>{
           {v1::CONSENT_STATUS_WITHDRAWN, ReasonCode::kConsentWithdrawn,
            "consent_withdrawn"},
           {v1::CONSENT_STATUS_DECLINED, ReasonCode::kConsentDeclined,
            "consent_declined"},
           {v1::CONSENT_STATUS_REQUESTED, ReasonCode::kConsentPending,
            "consent_requested_is_pending"},
           {v1::CONSENT_STATUS_UNSPECIFIED, ReasonCode::kConsentPending,
            "consent_without_status_is_pending"}}) {
    Consent c = BaseConsent("c-1");
    c.set_status(status);
    cases.push_back({name, {c}, nullptr, reason});
  }
  {
    Consent c = BaseConsent("c-1");
    c.clear_purposes();
    c.add_purposes(v1::PURPOSE_HEALTH_CARE);
    cases.push_back(
        {"purpose_not_covered", {c}, nullptr, ReasonCode::kPurposeNotCovered});
    cases.push_back(
        {"unspecified_purpose_is_never_covered",
         {BaseConsent("c-1")},
         [](DecisionRequest& r) { r.purpose = v1::PURPOSE_UNSPECIFIED; },
         ReasonCode::kPurposeNotCovered});
  }
  {
    Consent c = BaseConsent("c-1");
    c.mutable_recipients()->set_registry_codes(0, kOtherAgency);
    c.mutable_recipients()->add_kinds(v1::AGENCY_KIND_HEALTH_CARE);
    cases.push_back({"recipient_not_covered",
                     {c},
                     nullptr,
                     ReasonCode::kRecipientNotCovered});
  }
  {
    Consent c = BaseConsent("c-1");
    c.clear_data_categories();
    c.add_data_categories(v1::DATA_CATEGORY_SOCIAL_WELFARE);
    cases.push_back({"consent_covers_no_requested_category",
                     {c},
                     nullptr,
                     ReasonCode::kCategoryNotCovered});
  }
  cases.push_back({"rule_covers_no_requested_category",
                   {},
                   [&](DecisionRequest& r) {
                     to_child_protection(r);
                     r.requested = {v1::DATA_CATEGORY_HEALTH};
                   },
                   ReasonCode::kCategoryNotCovered});
  cases.push_back({"invalid_subject",
                   {BaseConsent("c-1")},
                   [](DecisionRequest& r) {
                     r.subject_personal_code = "51109140228";  // check digit
                   },
                   ReasonCode::kInvalidSubject});
  cases.push_back({"registry_unavailable",
                   {},
                   nullptr,
                   ReasonCode::kRegistryUnavailable,
                   {},
                   "",
                   /*unavailable_registry=*/true});

  // --- the most specific failure ---
  {
    Consent other_recipient = BaseConsent("c-a");
    other_recipient.mutable_recipients()->set_registry_codes(0, kOtherAgency);
    Consent withdrawn = BaseConsent("c-b");
    withdrawn.set_status(v1::CONSENT_STATUS_WITHDRAWN);
    Consent other_purpose = BaseConsent("c-c");
    other_purpose.clear_purposes();
    other_purpose.add_purposes(v1::PURPOSE_EARLY_WARNING);
    cases.push_back({"withdrawn_beats_other_recipient_and_purpose",
                     {other_recipient, withdrawn, other_purpose},
                     nullptr,
                     ReasonCode::kConsentWithdrawn});
    Consent too_young_self = SelfConsent("c-d", kAge14);
    cases.push_back({"grantor_failure_beats_withdrawn",
                     {withdrawn, too_young_self},
                     nullptr,
                     ReasonCode::kSubjectTooYoungToConsent});
    Consent expired = BaseConsent("c-e");
    expired.set_status(v1::CONSENT_STATUS_EXPIRED);
    cases.push_back({"a_usable_consent_beats_any_failure",
                     {withdrawn, expired, BaseConsent("c-f")},
                     nullptr,
                     ReasonCode::kOk,
                     kIdEduHealth,
                     "c-f"});
  }
  return cases;
}

void ExpectSameDecision(const Decision& a, const Decision& b) {
  EXPECT_EQ(a.allow, b.allow);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.permitted, b.permitted);
  EXPECT_EQ(a.denied, b.denied);
  EXPECT_EQ(a.detail, b.detail);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(a.basis, b.basis));
}

class DecisionMatrixTest : public ::testing::TestWithParam<Case> {};

TEST_P(DecisionMatrixTest, Decides) {
  const Case& c = GetParam();
  GatewayConfig config = TestConfig();
  if (c.adjust_config) c.adjust_config(config);
  ListReader list(c.consents);
  UnavailableReader unavailable;
  const ConsentReader* reader =
      c.unavailable_registry ? static_cast<const ConsentReader*>(&unavailable)
                             : &list;
  DecisionEngine engine(config, reader);
  DecisionRequest request = BaseRequest();
  if (c.adjust) c.adjust(request);

  Decision d = engine.Decide(request);
  SCOPED_TRACE(d.detail);
  EXPECT_EQ(d.reason_code(), ReasonCodeName(c.reason));
  EXPECT_EQ(d.allow, IsAllowReason(c.reason));
  EXPECT_FALSE(d.detail.empty());
  // The sentence goes to the audit trail: never the personal code.
  EXPECT_FALSE(absl::StrContains(d.detail, request.subject_personal_code) &&
               !request.subject_personal_code.empty());
  const CategorySet personal =
      request.requested - CategorySet::AlwaysPermitted();
  if (d.allow) {
    EXPECT_EQ(d.permitted - CategorySet::AlwaysPermitted(),
              c.personal_permitted)
        << d.permitted.ToString();
    EXPECT_TRUE(CategorySet::AlwaysPermitted().IsSubsetOf(d.permitted));
    EXPECT_EQ(d.denied, personal - c.personal_permitted);
    EXPECT_EQ(d.reason == ReasonCode::kOkMinimised, !d.denied.empty());
    if (c.basis.empty()) {
      EXPECT_EQ(d.basis.basis_case(), v1::LegalBasis::BASIS_NOT_SET);
    } else if (d.basis.has_consent()) {
      EXPECT_EQ(d.basis.consent().consent_id(), c.basis);
      EXPECT_EQ(d.basis.consent().version(), 3);
      EXPECT_TRUE(absl::StrContains(d.detail, c.basis));
    } else {
      EXPECT_EQ(d.basis.rule_id(), c.basis);
      EXPECT_FALSE(d.basis.citation().empty());
      EXPECT_TRUE(absl::StrContains(d.detail, d.basis.citation()));
    }
  } else {
    EXPECT_TRUE(d.permitted.empty());
    EXPECT_EQ(d.denied, personal);
    EXPECT_EQ(d.basis.basis_case(), v1::LegalBasis::BASIS_NOT_SET);
    EXPECT_TRUE(absl::StartsWith(d.detail, "Denied: ")) << d.detail;
  }
  // The in-memory reader lends its consents instead of copying them; the
  // decision must not depend on which way the engine got them.
  if (!c.unavailable_registry) {
    InMemoryConsentReader lending;
    for (const Consent& consent : c.consents) lending.Put(consent);
    ExpectSameDecision(d, DecisionEngine(config, &lending).Decide(request));
  }
  // A rule that covers everything never needs the registry.
  if (c.unavailable_registry && d.allow) {
    EXPECT_EQ(unavailable.calls, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Matrix, DecisionMatrixTest,
                         ::testing::ValuesIn(Matrix()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(DecisionTest, EveryReasonCodeIsReachedByTheMatrix) {
  std::set<std::string> reached;
  for (const Case& c : Matrix()) {
    reached.insert(std::string(ReasonCodeName(c.reason)));
  }
  for (int code = static_cast<int>(ReasonCode::kOk);
       code <= static_cast<int>(ReasonCode::kRegistryUnavailable); ++code) {
    std::string name(ReasonCodeName(static_cast<ReasonCode>(code)));
    EXPECT_TRUE(reached.count(name)) << name << " is never reached";
  }
  EXPECT_EQ(reached.size(), 15u);
}

TEST(DecisionTest, DeterministicAndIndependentOfTheReadersOrder) {
  Consent withdrawn = BaseConsent("c-b");
  withdrawn.set_status(v1::CONSENT_STATUS_WITHDRAWN);
  Consent declined = BaseConsent("c-a");
  declined.set_status(v1::CONSENT_STATUS_DECLINED);
  Consent narrow = BaseConsent("c-n1");
  narrow.clear_data_categories();
  narrow.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  Consent narrow2 = narrow;
  narrow2.set_consent_id("c-n0");
  std::vector<Consent> consents = {withdrawn, declined, narrow, narrow2};

  GatewayConfig config = TestConfig();
  ListReader forward(consents);
  std::reverse(consents.begin(), consents.end());
  ListReader backward(consents);
  DecisionEngine a(config, &forward);
  DecisionEngine b(config, &backward);
  DecisionRequest request = BaseRequest();

  Decision first = a.Decide(request);
  ExpectSameDecision(first, a.Decide(request));
  ExpectSameDecision(first, b.Decide(request));
  // Equal cover: the lowest consent id.
  EXPECT_EQ(first.basis.consent().consent_id(), "c-n0");
  EXPECT_EQ(first.reason, ReasonCode::kOkMinimised);

  // Same for a denial between two consents failing at the same stage: the
  // most recently updated one is reported, whatever the order.
  withdrawn.mutable_updated_time()->set_seconds(
      absl::ToUnixSeconds(At(2026, 2, 1)));
  ListReader f2({withdrawn, declined});
  ListReader b2({declined, withdrawn});
  Decision d1 = DecisionEngine(config, &f2).Decide(request);
  Decision d2 = DecisionEngine(config, &b2).Decide(request);
  ExpectSameDecision(d1, d2);
  EXPECT_EQ(d1.reason, ReasonCode::kConsentWithdrawn);
}

TEST(DecisionTest, SentencesNameWhatTheyAreAbout) {
  GatewayConfig config = TestConfig();
  Consent c = BaseConsent("c-77");
  c.clear_data_categories();
  c.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  ListReader reader({c});
  DecisionEngine engine(config, &reader);
  Decision d = engine.Decide(BaseRequest());
  EXPECT_EQ(d.detail,
            "Allowed by consent c-77 version 3, given by a parent and valid "
            "until 2026-08-31: it covers recipient 77000329 (municipal social "
            "services) for support service; discloses identity. Removed "
            "education and health, which the consent does not cover.");

  c.set_status(v1::CONSENT_STATUS_WITHDRAWN);
  ListReader withdrawn({c});
  DecisionEngine engine2(config, &withdrawn);
  EXPECT_EQ(engine2.Decide(BaseRequest()).detail,
            "Denied: no rule permits sending identity, education and health "
            "to recipient 77000329 (municipal social services) for support "
            "service, and consent c-77 version 3, which names this recipient "
            "and purpose, was withdrawn.");
}

TEST(DecisionTest, InMemoryReaderServesTheEngine) {
  InMemoryConsentReader reader;
  Consent c = BaseConsent("c-1");
  c.set_status(v1::CONSENT_STATUS_REQUESTED);
  reader.Put(c);
  DecisionEngine engine(TestConfig(), &reader);
  EXPECT_EQ(engine.Decide(BaseRequest()).reason, ReasonCode::kConsentPending);
  c.set_status(v1::CONSENT_STATUS_APPROVED);
  c.set_version(4);
  reader.Put(c);  // replaces version 3
  Decision d = engine.Decide(BaseRequest());
  EXPECT_EQ(d.reason, ReasonCode::kOk);
  EXPECT_EQ(d.basis.consent().version(), 4);
}

}  // namespace
}  // namespace sild
