#include "gateway/policy/rules.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/minimise/category_set.h"
#include "gateway/policy/wording.h"

namespace sild {
namespace {

using sild::config::v1::LegalBasisRule;

constexpr absl::string_view kInvalidConfig = "INVALID_CONFIG";

template <typename List>
bool InListOrAny(const List& list, int value) {
  if (value == 0) return false;  // UNSPECIFIED never matches, not even "any"
  return list.empty() ||
         std::find(list.begin(), list.end(), value) != list.end();
}

template <typename List>
std::string ListWords(const List& list,
                      const google::protobuf::EnumDescriptor* type,
                      const char* conjunction) {
  std::vector<std::string> words;
  for (int value : list) words.push_back(EnumWords(type, value));
  return JoinWords(words, conjunction);
}

// Checks that every value of an enum list is defined and not UNSPECIFIED.
template <typename List>
absl::Status CheckEnumList(const List& list,
                           const google::protobuf::EnumDescriptor* type,
                           absl::string_view path) {
  for (int i = 0; i < list.size(); ++i) {
    int value = list.Get(i);
    if (value == 0 || type->FindValueByNumber(value) == nullptr) {
      return InvalidField(
          kInvalidConfig, absl::StrCat(path, "[", i, "]"),
          absl::StrCat("must name a ", type->name(), " other than ",
                       type->value(0)->name(), ", got ", value));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRule(const LegalBasisRule& rule, absl::string_view path) {
  if (rule.id().empty()) {
    return InvalidField(kInvalidConfig, absl::StrCat(path, ".id"),
                        "a rule needs an id (it is sealed in audit records)");
  }
  if (rule.citation().empty()) {
    return InvalidField(kInvalidConfig, absl::StrCat(path, ".citation"),
                        absl::StrCat("rule ", rule.id(),
                                     " must cite the statute that permits it"));
  }
  if (rule.categories().empty()) {
    return InvalidField(
        kInvalidConfig, absl::StrCat(path, ".categories"),
        absl::StrCat("rule ", rule.id(),
                     " must list the data categories it permits"));
  }
  const google::protobuf::EnumDescriptor* kinds = v1::AgencyKind_descriptor();
  absl::Status status = CheckEnumList(rule.sender_kinds(), kinds,
                                      absl::StrCat(path, ".sender_kinds"));
  if (!status.ok()) return status;
  status = CheckEnumList(rule.recipient_kinds(), kinds,
                         absl::StrCat(path, ".recipient_kinds"));
  if (!status.ok()) return status;
  status = CheckEnumList(rule.purposes(), v1::Purpose_descriptor(),
                         absl::StrCat(path, ".purposes"));
  if (!status.ok()) return status;
  status = CheckEnumList(rule.message_kinds(), v1::MessageKind_descriptor(),
                         absl::StrCat(path, ".message_kinds"));
  if (!status.ok()) return status;
  return CheckEnumList(rule.categories(), v1::DataCategory_descriptor(),
                       absl::StrCat(path, ".categories"));
}

}  // namespace

bool RuleMatches(const LegalBasisRule& rule, v1::AgencyKind sender_kind,
                 v1::AgencyKind recipient_kind, v1::Purpose purpose,
                 v1::MessageKind message_kind) {
  return InListOrAny(rule.sender_kinds(), sender_kind) &&
         InListOrAny(rule.recipient_kinds(), recipient_kind) &&
         InListOrAny(rule.purposes(), purpose) &&
         InListOrAny(rule.message_kinds(), message_kind);
}

std::string ExplainRule(const LegalBasisRule& rule) {
  const google::protobuf::EnumDescriptor* kinds = v1::AgencyKind_descriptor();
  std::string senders =
      rule.sender_kinds().empty()
          ? "any agency"
          : absl::StrCat("a ", ListWords(rule.sender_kinds(), kinds, "or"));
  std::string recipients = rule.recipient_kinds().empty()
                               ? "any agency"
                               : ListWords(rule.recipient_kinds(), kinds, "or");
  std::string messages =
      rule.message_kinds().empty()
          ? "any kind of message"
          : absl::StrCat(ListWords(rule.message_kinds(),
                                   v1::MessageKind_descriptor(), "or"),
                         " messages");
  std::string purposes =
      rule.purposes().empty()
          ? "any purpose"
          : ListWords(rule.purposes(), v1::Purpose_descriptor(), "or");
  CategorySet categories = CategorySet::FromRepeated(rule.categories());
  std::string disclosing =
      categories.empty() ? "disclosing nothing (the rule lists no categories)"
                         : absl::StrCat("disclosing ", categories.ToPhrase());
  std::string text =
      absl::StrCat("Rule ", rule.id().empty() ? "(no id)" : rule.id(), " (",
                   rule.citation().empty() ? "no citation" : rule.citation(),
                   ") lets ", senders, " send ", messages, " to ", recipients,
                   " for ", purposes, ", ", disclosing, ", without consent.");
  if (!rule.description().empty()) {
    absl::StrAppend(&text, " ", rule.description());
  }
  return text;
}

absl::Status ValidateRules(const sild::config::v1::GatewayConfig& config) {
  absl::flat_hash_map<std::string, int> first_index_of_id;
  for (int i = 0; i < config.rules_size(); ++i) {
    const LegalBasisRule& rule = config.rules(i);
    std::string path = absl::StrCat("rules[", i, "]");
    absl::Status status = ValidateRule(rule, path);
    if (!status.ok()) return status;
    auto [it, inserted] = first_index_of_id.emplace(rule.id(), i);
    if (!inserted) {
      return InvalidField(
          kInvalidConfig, absl::StrCat(path, ".id"),
          absl::StrCat("rule id ", rule.id(), " is already used by rules[",
                       it->second, "]"));
    }
  }
  const sild::config::v1::ConsentPolicy& policy = config.consent_policy();
  if (policy.self_consent_age() < 1 || policy.self_consent_age() > 18) {
    return InvalidField(
        kInvalidConfig, "consent_policy.self_consent_age",
        absl::StrCat("must be set to the age (1-18) from which a young person "
                     "consents alone; got ",
                     policy.self_consent_age()));
  }
  return CheckEnumList(policy.representative_relations(),
                       v1::RepresentativeRelation_descriptor(),
                       "consent_policy.representative_relations");
}

}  // namespace sild
