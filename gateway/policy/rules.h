// Legal-basis rules: flows that a statute permits without consent, e.g. the
// duty to notify child protection of a child in need of assistance.
//
// A rule (sild.config.v1.LegalBasisRule) matches a request when the sender's
// agency kind, the recipient's agency kind, the purpose and the message kind
// are each in the rule's list; an empty list means "any" (but a request value
// that is UNSPECIFIED never matches). `categories` is different: it is what
// the rule permits to disclose, and an empty list permits nothing.
//
//   SILD_RETURN_IF_ERROR(ValidateRules(config));   // when loading config
//   std::string why = ExplainRule(config.rules(0)); // for operators, sildctl
//
// Thread-safe; no state.
#ifndef SILD_GATEWAY_POLICY_RULES_H_
#define SILD_GATEWAY_POLICY_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "sild/config/v1/config.pb.h"

namespace sild {

// Whether `rule` applies to this flow (categories aside).
bool RuleMatches(const sild::config::v1::LegalBasisRule& rule,
                 sild::v1::AgencyKind sender_kind,
                 sild::v1::AgencyKind recipient_kind, sild::v1::Purpose purpose,
                 sild::v1::MessageKind message_kind);

// One English paragraph saying what the rule permits, e.g.
// "Rule cp-notify (Child Protection Act § 27 (1)) lets a school send a
// referral to child protection for child protection notification, disclosing
// identity, contact and education. <description>"
std::string ExplainRule(const sild::config::v1::LegalBasisRule& rule);

// Checks the parts of `config` the decision engine relies on. Each rule: a
// non-empty id unique among rules, a citation, at least one category, and no
// UNSPECIFIED or unknown enum value in any list. consent_policy:
// self_consent_age set (1..18; no default is assumed) and no UNSPECIFIED or
// unknown relation. Returns the first problem as INVALID_ARGUMENT with reason
// INVALID_CONFIG and the field path, e.g. "rules[2].citation" or
// "rules[0].purposes[1]" (see gateway/base/errors.h).
absl::Status ValidateRules(const sild::config::v1::GatewayConfig& config);

}  // namespace sild

#endif  // SILD_GATEWAY_POLICY_RULES_H_
