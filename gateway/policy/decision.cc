#include "gateway/policy/decision.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/types/optional.h"
#include "gateway/base/personal_code.h"

namespace sild {
namespace {

using sild::config::v1::GatewayConfig;
using sild::config::v1::LegalBasisRule;
using sild::v1::Consent;

// How far a consent got through the checks; a later stage is a more specific
// failure, kUsable is no failure.
enum Stage : int {
  kStageNone = 0,
  kStageRecipient = 1,
  kStagePurpose = 2,
  kStageStatus = 3,
  kStageValidity = 4,
  kStageGrantor = 5,
  kStageCategories = 6,
  kStageUsable = 7,
};

uint64_t EnumBit(int number) {
  return number > 0 && number < 64 ? uint64_t{1} << number : 0;
}

template <typename List>
uint64_t EnumMask(const List& list) {
  uint64_t mask = 0;
  for (int value : list) mask |= EnumBit(value);
  return mask;
}

// A rule list matches when it is empty ("any") or names the value; an
// UNSPECIFIED request value matches nothing.
bool ListMatches(bool any, uint64_t mask, int value) {
  uint64_t bit = EnumBit(value);
  return bit != 0 && (any || (mask & bit) != 0);
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::TimeZone EstonianTimeZone() {
  absl::TimeZone zone;
  if (absl::LoadTimeZone("Europe/Tallinn", &zone)) return zone;
  // No tz database: Estonian standard time, at most an hour off in summer.
  return absl::FixedTimeZone(2 * 60 * 60);
}

// What a sentence needs of a consent, kept after the reader's loan ends.
struct ConsentFacts {
  explicit ConsentFacts(const Consent& c)
      : consent_id(c.consent_id()),
        version(c.version()),
        status(c.status()),
        grantor_case(c.grantor().grantor_case()),
        relation(c.grantor().representative().relation()),
        has_valid_until(c.has_valid_until()),
        valid_from(ToTime(c.valid_from())),
        valid_until(ToTime(c.valid_until())),
        updated(ToTime(c.updated_time())) {}

  std::string consent_id;
  int64_t version;
  v1::ConsentStatus status;
  v1::ConsentGrantor::GrantorCase grantor_case;
  int relation;
  bool has_valid_until;
  absl::Time valid_from;
  absl::Time valid_until;
  absl::Time updated;
};

std::string PersonalPhrase(CategorySet set) {
  return set.empty() ? std::string("only operational data") : set.ToPhrase();
}

}  // namespace

struct DecisionEngine::Evaluation {
  int stage = kStageNone;
  ReasonCode reason = ReasonCode::kNoConsent;
  CategorySet cover;
};

DecisionEngine::DecisionEngine(const GatewayConfig& config,
                               const ConsentReader* reader)
    : DecisionEngine(config, reader, EstonianTimeZone()) {}

DecisionEngine::DecisionEngine(const GatewayConfig& config,
                               const ConsentReader* reader, absl::TimeZone zone)
    : consent_policy_(config.consent_policy()),
      representative_relations_(
          EnumMask(config.consent_policy().representative_relations())),
      reader_(reader),
      zone_(zone),
      agency_kinds_(v1::AgencyKind_descriptor()),
      purposes_(v1::Purpose_descriptor()),
      message_kinds_(v1::MessageKind_descriptor()),
      relations_(v1::RepresentativeRelation_descriptor()),
      statuses_(v1::ConsentStatus_descriptor()) {
  for (const LegalBasisRule& rule : config.rules()) {
    rules_.push_back(CompiledRule{
        rule, EnumMask(rule.sender_kinds()), EnumMask(rule.recipient_kinds()),
        EnumMask(rule.purposes()), EnumMask(rule.message_kinds()),
        CategorySet::FromRepeated(rule.categories())});
  }
}

bool DecisionEngine::Matches(const CompiledRule& compiled,
                             const DecisionRequest& request) const {
  const LegalBasisRule& rule = compiled.rule;
  return ListMatches(rule.sender_kinds().empty(), compiled.sender_kinds,
                     request.sender.kind()) &&
         ListMatches(rule.recipient_kinds().empty(), compiled.recipient_kinds,
                     request.recipient.kind()) &&
         ListMatches(rule.purposes().empty(), compiled.purposes,
                     request.purpose) &&
         ListMatches(rule.message_kinds().empty(), compiled.message_kinds,
                     request.message_kind);
}

DecisionEngine::Evaluation DecisionEngine::Evaluate(
    const Consent& consent, const DecisionRequest& request,
    CategorySet personal, int subject_age) const {
  Evaluation e;
  const v1::ConsentRecipients& recipients = consent.recipients();
  const std::string& code = request.recipient.registry_code();
  bool names_recipient =
      (!code.empty() && std::find(recipients.registry_codes().begin(),
                                  recipients.registry_codes().end(),
                                  code) != recipients.registry_codes().end()) ||
      (request.recipient.kind() != v1::AGENCY_KIND_UNSPECIFIED &&
       std::find(recipients.kinds().begin(), recipients.kinds().end(),
                 request.recipient.kind()) != recipients.kinds().end());
  if (!names_recipient) {
    e.stage = kStageRecipient;
    e.reason = ReasonCode::kRecipientNotCovered;
    return e;
  }
  if (request.purpose == v1::PURPOSE_UNSPECIFIED ||
      std::find(consent.purposes().begin(), consent.purposes().end(),
                request.purpose) == consent.purposes().end()) {
    e.stage = kStagePurpose;
    e.reason = ReasonCode::kPurposeNotCovered;
    return e;
  }
  e.stage = kStageStatus;
  switch (consent.status()) {
    case v1::CONSENT_STATUS_APPROVED:
      break;
    case v1::CONSENT_STATUS_DECLINED:
      e.reason = ReasonCode::kConsentDeclined;
      return e;
    case v1::CONSENT_STATUS_WITHDRAWN:
      e.reason = ReasonCode::kConsentWithdrawn;
      return e;
    case v1::CONSENT_STATUS_EXPIRED:
      e.reason = ReasonCode::kConsentExpired;
      return e;
    default:  // REQUESTED, or a status never set: not approved
      e.reason = ReasonCode::kConsentPending;
      return e;
  }
  e.stage = kStageValidity;
  if (consent.has_valid_from() && request.time < ToTime(consent.valid_from())) {
    e.reason = ReasonCode::kConsentNotYetValid;
    return e;
  }
  if (consent.has_valid_until() &&
      request.time >= ToTime(consent.valid_until())) {
    e.reason = ReasonCode::kConsentExpired;
    return e;
  }
  e.stage = kStageGrantor;
  const int self_age = consent_policy_.self_consent_age();
  const v1::ConsentGrantor& grantor = consent.grantor();
  switch (grantor.grantor_case()) {
    case v1::ConsentGrantor::kSubjectSelf:
      if (!grantor.subject_self()) {
        e.reason = ReasonCode::kRepresentativeNotEntitled;
        return e;
      }
      if (self_age <= 0 || subject_age < self_age) {
        e.reason = ReasonCode::kSubjectTooYoungToConsent;
        return e;
      }
      break;
    case v1::ConsentGrantor::kRepresentative:
      if ((representative_relations_ &
           EnumBit(grantor.representative().relation())) == 0 ||
          self_age <= 0 || subject_age >= self_age) {
        e.reason = ReasonCode::kRepresentativeNotEntitled;
        return e;
      }
      break;
    case v1::ConsentGrantor::GRANTOR_NOT_SET:
      e.reason = ReasonCode::kRepresentativeNotEntitled;
      return e;
  }
  e.cover = CategorySet::FromRepeated(consent.data_categories()) & personal;
  if (e.cover.empty()) {
    e.stage = kStageCategories;
    e.reason = ReasonCode::kCategoryNotCovered;
    return e;
  }
  e.stage = kStageUsable;
  e.reason = ReasonCode::kOk;
  return e;
}

std::string DecisionEngine::RecipientWords(
    const v1::AgencyRef& recipient) const {
  if (recipient.registry_code().empty()) {
    return absl::StrCat("a recipient of kind ",
                        agency_kinds_[recipient.kind()]);
  }
  return absl::StrCat("recipient ", recipient.registry_code(), " (",
                      agency_kinds_[recipient.kind()], ")");
}

std::string DecisionEngine::DateWords(absl::Time time) const {
  const absl::CivilDay day = absl::ToCivilDay(time, zone_);
  auto two = [](int n) { return absl::StrCat(n < 10 ? "0" : "", n); };
  return absl::StrCat(day.year(), "-", two(day.month()), "-", two(day.day()));
}

namespace {
// Stands in for a missing construction-time reader: fail closed.
class NoConsentReader final : public ConsentReader {
 public:
  absl::StatusOr<std::vector<Consent>> ConsentsForSubject(
      absl::string_view) const override {
    return absl::FailedPreconditionError("no consent reader configured");
  }
};
}  // namespace

Decision DecisionEngine::Decide(const DecisionRequest& request) const {
  if (reader_ == nullptr) {
    static const NoConsentReader* const kNoReader = new NoConsentReader();
    return Decide(request, *kNoReader);
  }
  return Decide(request, *reader_);
}

Decision DecisionEngine::Decide(const DecisionRequest& request,
                                const ConsentReader& reader) const {
  Decision d;
  const CategorySet always = CategorySet::AlwaysPermitted();
  const CategorySet personal = request.requested - always;
  const std::string purpose = request.purpose == v1::PURPOSE_UNSPECIFIED
                                  ? std::string("an unspecified purpose")
                                  : purposes_[request.purpose];

  auto allow_on_rule = [&](const CompiledRule& compiled, CategorySet cover) {
    const LegalBasisRule& rule = compiled.rule;
    d.allow = true;
    d.basis.set_rule_id(rule.id());
    d.basis.set_citation(rule.citation());
    d.permitted = (request.requested & cover) | always;
    d.denied = personal - cover;
    d.reason = d.denied.empty() ? ReasonCode::kOk : ReasonCode::kOkMinimised;
    d.detail = absl::StrCat(
        "Allowed by rule ", rule.id(), " (", rule.citation(),
        "): ", agency_kinds_[request.sender.kind()], " may send a ",
        message_kinds_[request.message_kind], " message to ",
        RecipientWords(request.recipient), " for ", purpose, "; discloses ",
        PersonalPhrase(personal & cover), ".");
    if (!d.denied.empty()) {
      absl::StrAppend(&d.detail, " Removed ", d.denied.ToPhrase(),
                      ", which the rule does not cover.");
    }
  };
  auto deny = [&](ReasonCode reason, std::string detail) {
    d.allow = false;
    d.basis.Clear();
    d.permitted = CategorySet();
    d.denied = personal;
    d.reason = reason;
    d.detail = std::move(detail);
  };

  // 1. Only operational data: every recipient of the message gets it.
  if (personal.empty()) {
    for (const CompiledRule& compiled : rules_) {
      if (Matches(compiled, request)) {
        allow_on_rule(compiled, CategorySet());
        return d;
      }
    }
    d.allow = true;
    d.permitted = request.requested | always;
    d.reason = ReasonCode::kOk;
    d.detail = absl::StrCat(
        "Allowed without a consent or rule: the message to ",
        RecipientWords(request.recipient),
        " holds only operational data and the acting professional's work "
        "contact, which every recipient gets.");
    return d;
  }

  // 2. The subject must be a valid personal code. The code is not repeated
  // in the sentence: it goes to the audit trail, which holds pseudonyms.
  absl::StatusOr<PersonalCode> subject =
      ParsePersonalCode(request.subject_personal_code, "subject");
  if (!subject.ok()) {
    deny(ReasonCode::kInvalidSubject,
         "Denied: the subject's personal code is not a valid Estonian "
         "personal code, so no consent can be checked for it.");
    return d;
  }

  // 3. Rules, in config order.
  const CompiledRule* best_rule = nullptr;
  CategorySet best_rule_cover;
  const CompiledRule* first_matching_rule = nullptr;
  for (const CompiledRule& compiled : rules_) {
    if (!Matches(compiled, request)) continue;
    if (first_matching_rule == nullptr) first_matching_rule = &compiled;
    CategorySet cover = compiled.categories & personal;
    if (cover == personal) {
      allow_on_rule(compiled, cover);
      return d;
    }
    if (cover.size() > best_rule_cover.size()) {
      best_rule = &compiled;
      best_rule_cover = cover;
    }
  }

  // 4. Consents of the subject, lent by the reader (no copies); what the
  // decision needs of the best and of the most specific failure is kept.
  const int subject_age =
      AgeOn(*subject, absl::ToCivilDay(request.time, zone_));
  absl::optional<ConsentFacts> best_consent;
  CategorySet best_consent_cover;
  absl::optional<ConsentFacts> failed_consent;  // the most specific failure
  Evaluation failure;
  int considered = 0;
  absl::Status read = reader.VisitConsentsForSubject(
      subject->code, [&](const Consent& consent) {
        // A reader answers for one subject; anything else is ignored.
        if (consent.subject().value() != subject->code) return;
        ++considered;
        Evaluation e = Evaluate(consent, request, personal, subject_age);
        if (e.stage == kStageUsable) {
          const int size = e.cover.size();
          if (!best_consent || size > best_consent_cover.size() ||
              (size == best_consent_cover.size() &&
               consent.consent_id() < best_consent->consent_id)) {
            best_consent.emplace(consent);
            best_consent_cover = e.cover;
          }
          return;
        }
        bool more_specific = !failed_consent || e.stage > failure.stage;
        if (!more_specific && e.stage == failure.stage) {
          // Same stage: the latest state of affairs, then the lowest id.
          absl::Time updated = ToTime(consent.updated_time());
          more_specific = updated > failed_consent->updated ||
                          (updated == failed_consent->updated &&
                           consent.consent_id() < failed_consent->consent_id);
        }
        if (more_specific) {
          failed_consent.emplace(consent);
          failure = e;
        }
      });
  if (!read.ok()) {
    deny(ReasonCode::kRegistryUnavailable,
         absl::StrCat("Denied: the consent registry could not be read (",
                      absl::StatusCodeToString(read.code()),
                      "), and no rule covers ", personal.ToPhrase(), " for ",
                      RecipientWords(request.recipient), "; nothing is ",
                      "disclosed on an unchecked consent."));
    return d;
  }

  // 5. One basis: the one covering more; the rule on a tie.
  if (best_rule != nullptr &&
      best_rule_cover.size() >= best_consent_cover.size()) {
    allow_on_rule(*best_rule, best_rule_cover);
    return d;
  }
  const std::string recipient = RecipientWords(request.recipient);
  if (best_consent) {
    const ConsentFacts& c = *best_consent;
    d.allow = true;
    d.basis.mutable_consent()->set_consent_id(c.consent_id);
    d.basis.mutable_consent()->set_version(c.version);
    d.permitted = (request.requested & best_consent_cover) | always;
    d.denied = personal - best_consent_cover;
    d.reason = d.denied.empty() ? ReasonCode::kOk : ReasonCode::kOkMinimised;
    std::string grantor = c.grantor_case == v1::ConsentGrantor::kRepresentative
                              ? absl::StrCat("a ", relations_[c.relation])
                              : std::string("the subject");
    d.detail = absl::StrCat(
        "Allowed by consent ", c.consent_id, " version ", c.version,
        ", given by ", grantor, " and valid ",
        c.has_valid_until ? absl::StrCat("until ", DateWords(c.valid_until))
                          : std::string("with no end date"),
        ": it covers ", recipient, " for ", purpose, "; discloses ",
        best_consent_cover.ToPhrase(), ".");
    if (!d.denied.empty()) {
      absl::StrAppend(&d.detail, " Removed ", d.denied.ToPhrase(),
                      ", which the consent does not cover.");
    }
    return d;
  }

  // 6. DENY with the most specific failure. A consent for this recipient
  // and purpose (it got past those checks) says most about what the sender
  // can do; then a rule that applies to the flow but covers none of the
  // categories; then consents for other recipients or purposes.
  const std::string what =
      absl::StrCat(personal.ToPhrase(), " to ", recipient, " for ", purpose);
  if (first_matching_rule != nullptr &&
      (!failed_consent || failure.stage < kStageStatus)) {
    const LegalBasisRule& rule = first_matching_rule->rule;
    deny(ReasonCode::kCategoryNotCovered,
         absl::StrCat("Denied: rule ", rule.id(), " (", rule.citation(),
                      ") applies to this flow but covers none of ",
                      personal.ToPhrase(),
                      ", and no valid consent of the subject covers them."));
    return d;
  }
  if (!failed_consent) {
    deny(ReasonCode::kNoConsent,
         absl::StrCat("Denied: no rule permits sending ", what,
                      ", and the subject has no consent on record."));
    return d;
  }
  if (failure.reason == ReasonCode::kRecipientNotCovered) {
    deny(ReasonCode::kRecipientNotCovered,
         absl::StrCat("Denied: no rule permits sending ", what, ", and ",
                      considered == 1
                          ? std::string("the subject's only consent does not")
                          : absl::StrCat("none of the subject's ", considered,
                                         " consents does"),
                      " name this recipient."));
    return d;
  }
  const ConsentFacts& c = *failed_consent;
  // Every failure after the purpose check concerns a consent that names this
  // recipient and purpose.
  const std::string names = ", which names this recipient and purpose,";
  std::string clause;
  const int self_age = consent_policy_.self_consent_age();
  switch (failure.reason) {
    case ReasonCode::kPurposeNotCovered:
      clause = " names this recipient but not this purpose";
      break;
    case ReasonCode::kConsentPending:
      clause = absl::StrCat(names, " has not been approved (status ",
                            statuses_[c.status], ")");
      break;
    case ReasonCode::kConsentDeclined:
      clause = absl::StrCat(names, " was declined");
      break;
    case ReasonCode::kConsentWithdrawn:
      clause = absl::StrCat(names, " was withdrawn");
      break;
    case ReasonCode::kConsentExpired:
      clause =
          c.status == v1::CONSENT_STATUS_EXPIRED
              ? absl::StrCat(names, " has expired (status expired)")
              : absl::StrCat(names, " expired on ", DateWords(c.valid_until));
      break;
    case ReasonCode::kConsentNotYetValid:
      clause =
          absl::StrCat(names, " is valid only from ", DateWords(c.valid_from));
      break;
    case ReasonCode::kSubjectTooYoungToConsent:
      clause = self_age <= 0
                   ? absl::StrCat(names,
                                  " was given by the subject, and "
                                  "consent_policy.self_consent_age is not set")
                   : absl::StrCat(names,
                                  " was given by the subject, who is under "
                                  "the self-consent age of ",
                                  self_age);
      break;
    case ReasonCode::kRepresentativeNotEntitled:
      if (c.grantor_case != v1::ConsentGrantor::kRepresentative) {
        clause = absl::StrCat(names, " does not say who gave it");
      } else {
        const std::string& relation = relations_[c.relation];
        if ((representative_relations_ & EnumBit(c.relation)) == 0) {
          clause = absl::StrCat(
              names, " was given by a ", relation,
              ", and consent_policy.representative_relations does not let a ",
              relation, " consent for a child");
        } else if (self_age <= 0) {
          clause = absl::StrCat(names, " was given by a ", relation,
                                ", and consent_policy.self_consent_age is not "
                                "set");
        } else {
          clause = absl::StrCat(
              names, " was given by a ", relation,
              ", but the subject has reached the self-consent age of ",
              self_age, " and only the subject may consent now");
        }
      }
      break;
    case ReasonCode::kCategoryNotCovered:
      clause = absl::StrCat(names, " covers none of these categories");
      break;
    default:
      clause = " does not apply";
      break;
  }
  deny(failure.reason,
       absl::StrCat("Denied: no rule permits sending ", what, ", and consent ",
                    c.consent_id, " version ", c.version, clause, "."));
  return d;
}

}  // namespace sild
