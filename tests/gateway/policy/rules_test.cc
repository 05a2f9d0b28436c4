#include "gateway/policy/rules.h"

#include "gateway/base/errors.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace sild {
namespace {

using sild::config::v1::GatewayConfig;
using sild::config::v1::LegalBasisRule;

GatewayConfig Parse(const char* text) {
  GatewayConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config))
      << text;
  return config;
}

constexpr char kValid[] = R"pb(
  rules {
    id: "cp-notify"
    citation: "Child Protection Act § 27 (1)"
    sender_kinds: [ AGENCY_KIND_SCHOOL, AGENCY_KIND_KINDERGARTEN ]
    recipient_kinds: [ AGENCY_KIND_CHILD_PROTECTION ]
    purposes: [ PURPOSE_CHILD_PROTECTION_NOTIFICATION ]
    message_kinds: [ MESSAGE_KIND_REFERRAL ]
    categories: [ DATA_CATEGORY_IDENTITY, DATA_CATEGORY_EDUCATION ]
  }
  rules {
    id: "yg-register"
    citation: "Labour Market Services and Benefits Act § 10"
    categories: [ DATA_CATEGORY_IDENTITY ]
  }
  consent_policy {
    self_consent_age: 15
    representative_relations: [ REPRESENTATIVE_RELATION_PARENT ]
  }
)pb";

TEST(ValidateRulesTest, AcceptsAValidConfig) {
  EXPECT_TRUE(ValidateRules(Parse(kValid)).ok());
}

struct Broken {
  const char* name;
  void (*edit)(GatewayConfig&);
  const char* field;
};

TEST(ValidateRulesTest, NamesTheFieldOfEachProblem) {
  const Broken cases[] = {
      {"empty id", [](GatewayConfig& c) { c.mutable_rules(1)->clear_id(); },
       "rules[1].id"},
      {"duplicate id",
       [](GatewayConfig& c) { c.mutable_rules(1)->set_id("cp-notify"); },
       "rules[1].id"},
      {"no citation",
       [](GatewayConfig& c) { c.mutable_rules(0)->clear_citation(); },
       "rules[0].citation"},
      {"no categories",
       [](GatewayConfig& c) { c.mutable_rules(1)->clear_categories(); },
       "rules[1].categories"},
      {"unspecified category",
       [](GatewayConfig& c) {
         c.mutable_rules(0)->add_categories(v1::DATA_CATEGORY_UNSPECIFIED);
       },
       "rules[0].categories[2]"},
      {"unspecified sender",
       [](GatewayConfig& c) {
         c.mutable_rules(0)->set_sender_kinds(1, v1::AGENCY_KIND_UNSPECIFIED);
       },
       "rules[0].sender_kinds[1]"},
      {"unknown recipient kind",
       [](GatewayConfig& c) {
         c.mutable_rules(0)->add_recipient_kinds(
             static_cast<v1::AgencyKind>(99));
       },
       "rules[0].recipient_kinds[1]"},
      {"unspecified purpose",
       [](GatewayConfig& c) {
         c.mutable_rules(1)->add_purposes(v1::PURPOSE_UNSPECIFIED);
       },
       "rules[1].purposes[0]"},
      {"unspecified message kind",
       [](GatewayConfig& c) {
         c.mutable_rules(0)->add_message_kinds(v1::MESSAGE_KIND_UNSPECIFIED);
       },
       "rules[0].message_kinds[1]"},
      {"self-consent age unset",
       [](GatewayConfig& c) {
         c.mutable_consent_policy()->clear_self_consent_age();
       },
       "consent_policy.self_consent_age"},
      {"self-consent age over 18",
       [](GatewayConfig& c) {
         c.mutable_consent_policy()->set_self_consent_age(21);
       },
       "consent_policy.self_consent_age"},
      {"unspecified relation",
       [](GatewayConfig& c) {
         c.mutable_consent_policy()->add_representative_relations(
             v1::REPRESENTATIVE_RELATION_UNSPECIFIED);
       },
       "consent_policy.representative_relations[1]"},
  };
  for (const Broken& b : cases) {
    SCOPED_TRACE(b.name);
    GatewayConfig config = Parse(kValid);
    b.edit(config);
    absl::Status status = ValidateRules(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_EQ(ErrorReason(status), "INVALID_CONFIG");
    EXPECT_EQ(ErrorField(status), b.field) << status;
  }
}

TEST(RuleMatchesTest, EmptyListsMeanAnyButUnspecifiedMatchesNothing) {
  GatewayConfig config = Parse(kValid);
  const LegalBasisRule& specific = config.rules(0);
  const LegalBasisRule& any = config.rules(1);
  EXPECT_TRUE(RuleMatches(
      specific, v1::AGENCY_KIND_SCHOOL, v1::AGENCY_KIND_CHILD_PROTECTION,
      v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION, v1::MESSAGE_KIND_REFERRAL));
  EXPECT_FALSE(RuleMatches(
      specific, v1::AGENCY_KIND_HEALTH_CARE, v1::AGENCY_KIND_CHILD_PROTECTION,
      v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION, v1::MESSAGE_KIND_REFERRAL));
  EXPECT_FALSE(RuleMatches(
      specific, v1::AGENCY_KIND_SCHOOL, v1::AGENCY_KIND_CHILD_PROTECTION,
      v1::PURPOSE_SUPPORT_SERVICE, v1::MESSAGE_KIND_REFERRAL));
  EXPECT_FALSE(RuleMatches(
      specific, v1::AGENCY_KIND_SCHOOL, v1::AGENCY_KIND_CHILD_PROTECTION,
      v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION, v1::MESSAGE_KIND_TRANSITION));
  EXPECT_TRUE(RuleMatches(any, v1::AGENCY_KIND_YOUTH_WORK,
                          v1::AGENCY_KIND_HEALTH_CARE, v1::PURPOSE_AUDIT,
                          v1::MESSAGE_KIND_ESCALATION));
  EXPECT_FALSE(RuleMatches(any, v1::AGENCY_KIND_UNSPECIFIED,
                           v1::AGENCY_KIND_HEALTH_CARE, v1::PURPOSE_AUDIT,
                           v1::MESSAGE_KIND_ESCALATION));
  EXPECT_FALSE(RuleMatches(any, v1::AGENCY_KIND_SCHOOL,
                           v1::AGENCY_KIND_HEALTH_CARE, v1::PURPOSE_UNSPECIFIED,
                           v1::MESSAGE_KIND_ESCALATION));
}

TEST(ExplainRuleTest, SaysWhoMaySendWhatToWhom) {
  GatewayConfig config = Parse(kValid);
  EXPECT_EQ(ExplainRule(config.rules(0)),
            "Rule cp-notify (Child Protection Act § 27 (1)) lets a school or "
            "kindergarten send referral messages to child protection for "
            "child protection notification, disclosing identity and "
            "education, without consent.");
  LegalBasisRule any = config.rules(1);
  any.set_description("Registers young people not in education.");
  EXPECT_EQ(ExplainRule(any),
            "Rule yg-register (Labour Market Services and Benefits Act § 10) "
            "lets any agency send any kind of message to any agency for any "
            "purpose, disclosing identity, without consent. Registers young "
            "people not in education.");
  any.clear_categories();
  EXPECT_NE(ExplainRule(any).find("disclosing nothing"), std::string::npos);
}

}  // namespace
}  // namespace sild
