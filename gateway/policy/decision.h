// The decision engine: may this recipient receive these data categories about
// this child, for this purpose, now? Start here for policy.
//
//   DecisionEngine engine(config, &consent_reader);  // config passed
//   ValidateRules DecisionRequest request; request.sender = sender; // from the
//   sender's certificate request.recipient = recipient; request.purpose =
//   v1::PURPOSE_SUPPORT_SERVICE; request.message_kind =
//   v1::MESSAGE_KIND_REFERRAL; request.subject_personal_code = "51205280105";
//   request.requested = Projector::Default().CategoriesPresent(referral);
//   request.time = now;                // the engine never reads a clock
//   Decision decision = engine.Decide(request);
//   if (decision.allow) Projector::Default().Project(decision.permitted,
//   &copy);
//   // audit: decision.basis, decision.reason_code(), decision.detail
//
// How a decision is made (docs/policy.md has the full account):
//  1. Nothing personal requested (only OPERATIONAL / PROFESSIONAL): ALLOW "OK",
//     on a matching rule if there is one, otherwise with no basis.
//  2. The subject's personal code must be valid, else DENY INVALID_SUBJECT.
//  3. Rules, in config order: the first matching rule that covers every
//     requested category gives ALLOW "OK" on that rule.
//  4. Consents of the subject: each is checked in turn for recipient, purpose,
//     status, validity period, grantor (minors) and categories. Of those that
//     pass, the one covering most requested categories is the candidate.
//     A reader error gives DENY REGISTRY_UNAVAILABLE (fail closed).
//  5. One basis per disclosure (the audit record seals exactly one): the
//     matching rule or the consent that covers more of the request, the rule
//     on a tie. The recipient gets only what that basis covers: "OK" if that
//     is everything requested, "OK_MINIMISED" if some categories are removed.
//  6. If no basis covers any requested personal category: DENY with the most
//     specific failure, the one that got furthest through the checks of 4
//     (a withdrawn consent for this recipient and purpose beats a consent
//     for another recipient, which beats having none: NO_CONSENT). A rule
//     that applies to the flow but covers none of the requested categories
//     gives CATEGORY_NOT_COVERED unless a consent for this recipient and
//     purpose failed a later check.
//
// Minors: a consent the subject gave counts from consent_policy
// .self_consent_age (age on the decision date in Estonia, from the personal
// code); a representative's consent counts only if its relation is listed in
// consent_policy.representative_relations and the subject is still under
// self_consent_age.
//
// Decide() is pure and deterministic given the reader's answer, the config
// and request.time: no clock reads, and ties are broken by consent id rather
// than by the reader's order. Thread safety: immutable after construction;
// Decide may be called concurrently if the reader allows it. The engine
// copies what it needs of the config and borrows `reader`, which must outlive
// it (it may be null if only Decide(request, reader) is used; Decide(request)
// then denies REGISTRY_UNAVAILABLE). Decisions never contain the personal
// code or names, so `detail` may go into the audit record as it is.
#ifndef SILD_GATEWAY_POLICY_DECISION_H_
#define SILD_GATEWAY_POLICY_DECISION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gateway/minimise/category_set.h"
#include "gateway/policy/consent_reader.h"
#include "gateway/policy/reason_code.h"
#include "gateway/policy/wording.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/common.pb.h"

namespace sild {

struct DecisionRequest {
  sild::v1::AgencyRef sender;     // kind is what rules match on
  sild::v1::AgencyRef recipient;  // registry_code and kind
  sild::v1::Purpose purpose = sild::v1::PURPOSE_UNSPECIFIED;
  std::string subject_personal_code;
  sild::v1::MessageKind message_kind = sild::v1::MESSAGE_KIND_UNSPECIFIED;
  // What the message holds (Projector::CategoriesPresent).
  CategorySet requested;
  absl::Time time;
};

struct Decision {
  bool allow = false;
  // The consent (id and version) or the rule (id and citation) relied on.
  // Unset on DENY and when nothing personal was requested and no rule
  // matched.
  sild::v1::LegalBasis basis;
  // ALLOW: requested ∩ covered, plus OPERATIONAL and PROFESSIONAL; pass it to
  // Projector::Project. DENY: empty (nothing may be disclosed).
  CategorySet permitted;
  // Requested personal categories the recipient does not get.
  CategorySet denied;
  ReasonCode reason = ReasonCode::kNoConsent;
  // One English sentence naming the consent or rule, recipient, purpose and
  // categories concerned.
  std::string detail;

  // The stable reason code string, e.g. "OK_MINIMISED".
  absl::string_view reason_code() const { return ReasonCodeName(reason); }
};

class DecisionEngine {
 public:
  // Uses config.rules() and config.consent_policy(); run ValidateRules first
  // (an invalid config still decides fail closed: a rule without categories
  // permits nothing, and with self_consent_age unset no consent counts).
  // Ages are counted on the calendar date in Europe/Tallinn.
  DecisionEngine(const sild::config::v1::GatewayConfig& config,
                 const ConsentReader* reader);
  // As above, counting ages on the calendar date in `zone`.
  DecisionEngine(const sild::config::v1::GatewayConfig& config,
                 const ConsentReader* reader, absl::TimeZone zone);

  // Reads consents through the reader given at construction.
  Decision Decide(const DecisionRequest& request) const;
  // Reads consents through `reader` instead, for one call: a caller inside a
  // store write transaction passes a reader bound to that transaction, so
  // the decision sees the transaction's own view (a withdrawal cannot slip
  // between decision and commit). The engine is built once; the reader per
  // call. The construction-time reader may then be null.
  Decision Decide(const DecisionRequest& request,
                  const ConsentReader& reader) const;

 private:
  struct CompiledRule {
    sild::config::v1::LegalBasisRule rule;
    uint64_t sender_kinds;  // bit per enum number; 0 = any
    uint64_t recipient_kinds;
    uint64_t purposes;
    uint64_t message_kinds;
    CategorySet categories;
  };
  struct Evaluation;

  bool Matches(const CompiledRule& rule, const DecisionRequest& request) const;
  Evaluation Evaluate(const sild::v1::Consent& consent,
                      const DecisionRequest& request, CategorySet personal,
                      int subject_age) const;
  std::string RecipientWords(const sild::v1::AgencyRef& recipient) const;
  std::string DateWords(absl::Time time) const;

  std::vector<CompiledRule> rules_;
  sild::config::v1::ConsentPolicy consent_policy_;
  uint64_t representative_relations_ = 0;
  const ConsentReader* reader_;
  absl::TimeZone zone_;
  EnumWordTable agency_kinds_;
  EnumWordTable purposes_;
  EnumWordTable message_kinds_;
  EnumWordTable relations_;
  EnumWordTable statuses_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_POLICY_DECISION_H_
