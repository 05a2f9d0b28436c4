// sildctl verbs for the consent registry and the legal-basis rules:
// consent grant|withdraw|get|list|history|check, rules list|explain.
// Enum values are accepted as short names ("school-health", "support-service",
// "health") or full names ("AGENCY_KIND_SCHOOL_HEALTH").
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "gateway/base/files.h"
#include "gateway/base/status_macros.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/sildctl/cli.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "sild/v1/consent_service.grpc.pb.h"

namespace sild::ctl {
namespace {

using google::protobuf::EnumDescriptor;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using sild::v1::Consent;

absl::TimeZone Tallinn() {
  absl::TimeZone zone;
  if (absl::LoadTimeZone("Europe/Tallinn", &zone)) return zone;
  return absl::FixedTimeZone(2 * 60 * 60);
}

// "AGENCY_KIND_SCHOOL_HEALTH" -> "school-health".
std::string ShortName(const EnumDescriptor* type, int number) {
  const auto* value = type->FindValueByNumber(number);
  if (value == nullptr) return absl::StrCat(number);
  std::string prefix = type->value(0)->name();  // X_UNSPECIFIED
  prefix = prefix.substr(0, prefix.rfind("UNSPECIFIED"));
  std::string name = value->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  name = absl::AsciiStrToLower(name);
  absl::StrReplaceAll({{"_", "-"}}, &name);
  return name;
}

template <typename Repeated>
std::string ShortNames(const EnumDescriptor* type, const Repeated& values) {
  std::vector<std::string> names;
  for (int v : values) names.push_back(ShortName(type, v));
  return names.empty() ? std::string("any") : absl::StrJoin(names, ", ");
}

// Accepts "school-health", "school_health" or "AGENCY_KIND_SCHOOL_HEALTH".
absl::StatusOr<int> ParseEnum(const EnumDescriptor* type,
                              const std::string& flag,
                              const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  absl::StrReplaceAll({{"-", "_"}}, &upper);
  std::string prefix = type->value(0)->name();
  prefix = prefix.substr(0, prefix.rfind("UNSPECIFIED"));
  for (const std::string& name : {upper, prefix + upper}) {
    const auto* value = type->FindValueByName(name);
    if (value != nullptr && value->number() != 0) return value->number();
  }
  std::vector<std::string> known;
  for (int i = 1; i < type->value_count(); ++i) {
    known.push_back(ShortName(type, type->value(i)->number()));
  }
  return UsageError(absl::StrCat("--", flag, ": unknown value \"", text,
                                 "\"; one of: ", absl::StrJoin(known, ", ")));
}

// YYYY-MM-DD as the start of that day in Estonia.
absl::StatusOr<Timestamp> ParseDay(const std::string& flag,
                                   const std::string& text, int add_days) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) {
    return UsageError(absl::StrCat("--", flag, " must be YYYY-MM-DD"));
  }
  absl::Time t = absl::FromCivil(day + add_days, Tallinn());
  return TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(t));
}

std::string Day(const Timestamp& t) {
  absl::Time time = absl::FromUnixSeconds(t.seconds());
  return absl::FormatCivilTime(absl::ToCivilDay(time, Tallinn()));
}

std::string When(const Timestamp& t) { return TimeUtil::ToString(t); }

absl::Status CallStatus(const grpc::Status& status,
                        const grpc::ClientContext* context) {
  return FromGrpcStatus(status, context);
}

absl::StatusOr<std::unique_ptr<v1::ConsentService::Stub>> Stub(
    CommandContext& ctx) {
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  return v1::ConsentService::NewStub(channel);
}

void PrintConsent(std::ostream& out, const Consent& c) {
  out << "consent:      " << c.consent_id() << " (version " << c.version()
      << ")\n"
      << "status:       "
      << ShortName(v1::ConsentStatus_descriptor(), c.status()) << "\n"
      << "subject:      " << c.subject().value() << "\n";
  out << "grantor:      ";
  if (c.grantor().has_representative()) {
    const auto& rep = c.grantor().representative();
    out << ShortName(v1::RepresentativeRelation_descriptor(), rep.relation());
    std::string name = absl::StrJoin(
        {rep.person().given_name(), rep.person().family_name()}, " ");
    if (name != " ") out << " " << name;
    if (!rep.person().id().value().empty()) {
      out << " (" << rep.person().id().value() << ")";
    }
  } else {
    out << "the subject";
  }
  out << "\n";
  std::vector<std::string> recipients(c.recipients().registry_codes().begin(),
                                      c.recipients().registry_codes().end());
  for (int kind : c.recipients().kinds()) {
    recipients.push_back(
        absl::StrCat("any ", ShortName(v1::AgencyKind_descriptor(), kind)));
  }
  out << "recipients:   " << absl::StrJoin(recipients, ", ") << "\n"
      << "purposes:     " << ShortNames(v1::Purpose_descriptor(), c.purposes())
      << "\n"
      << "categories:   "
      << ShortNames(v1::DataCategory_descriptor(), c.data_categories()) << "\n"
      << "valid:        from " << Day(c.valid_from())
      << (c.has_valid_until()
              ? absl::StrCat(" until ", Day(c.valid_until()), " (exclusive)")
              : std::string(", no end"))
      << "\n"
      << "recorded by:  " << c.recorded_by().name() << " ("
      << c.recorded_by().registry_code() << ") at " << When(c.recorded_time())
      << "\n";
  if (c.updated_time() != c.recorded_time()) {
    out << "updated:      " << When(c.updated_time()) << "\n";
  }
  if (!c.external_reference().empty()) {
    out << "external ref: " << c.external_reference() << "\n";
  }
  if (!c.status_note().empty())
    out << "note:         " << c.status_note() << "\n";
}

absl::StatusOr<std::string> OneId(CommandContext& ctx) {
  if (ctx.args.positionals().size() != 1) {
    return UsageError("give exactly one consent ID");
  }
  return ctx.args.positionals()[0];
}

absl::StatusOr<v1::PersonIdentifier> Person(const std::string& code) {
  v1::PersonIdentifier id;
  id.set_scheme(v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  id.set_value(code);
  return id;
}

absl::StatusOr<Consent> ConsentFromFlags(const Args& args) {
  Consent consent;
  if (args.Has("file")) {
    for (const char* flag :
         {"subject", "grantor", "representative-code", "representative-name",
          "recipient", "recipient-kind", "purpose", "category", "from", "until",
          "external-ref"}) {
      if (args.Has(flag)) {
        return UsageError(
            absl::StrCat("--file and --", flag, " cannot be combined"));
      }
    }
    SILD_ASSIGN_OR_RETURN(std::string json, ReadFileToString(args.Get("file")));
    google::protobuf::util::JsonParseOptions options;
    auto parsed =
        google::protobuf::util::JsonStringToMessage(json, &consent, options);
    if (!parsed.ok()) {
      return UsageError(absl::StrCat(args.Get("file"),
                                     ": not a sild.v1.Consent in proto JSON: ",
                                     parsed.message().as_string()));
    }
    return consent;
  }
  SILD_ASSIGN_OR_RETURN(std::string subject, args.Require("subject"));
  SILD_ASSIGN_OR_RETURN(*consent.mutable_subject(), Person(subject));
  SILD_ASSIGN_OR_RETURN(std::string grantor, args.Require("grantor"));
  if (grantor == "self" || grantor == "subject") {
    if (args.Has("representative-code") || args.Has("representative-name")) {
      return UsageError("--representative-* needs --grantor RELATION");
    }
    consent.mutable_grantor()->set_subject_self(true);
  } else {
    SILD_ASSIGN_OR_RETURN(
        int relation,
        ParseEnum(v1::RepresentativeRelation_descriptor(), "grantor", grantor));
    auto* rep = consent.mutable_grantor()->mutable_representative();
    rep->set_relation(static_cast<v1::RepresentativeRelation>(relation));
    if (args.Has("representative-code")) {
      SILD_ASSIGN_OR_RETURN(*rep->mutable_person()->mutable_id(),
                            Person(args.Get("representative-code")));
    }
    if (args.Has("representative-name")) {
      std::string name = args.Get("representative-name");
      size_t space = name.rfind(' ');
      if (space == std::string::npos) {
        rep->mutable_person()->set_family_name(name);
      } else {
        rep->mutable_person()->set_given_name(name.substr(0, space));
        rep->mutable_person()->set_family_name(name.substr(space + 1));
      }
    }
  }
  for (const std::string& code : args.GetAll("recipient")) {
    consent.mutable_recipients()->add_registry_codes(code);
  }
  for (const std::string& kind : args.GetAll("recipient-kind")) {
    SILD_ASSIGN_OR_RETURN(int value, ParseEnum(v1::AgencyKind_descriptor(),
                                               "recipient-kind", kind));
    consent.mutable_recipients()->add_kinds(static_cast<v1::AgencyKind>(value));
  }
  for (const std::string& purpose : args.GetAll("purpose")) {
    SILD_ASSIGN_OR_RETURN(
        int value, ParseEnum(v1::Purpose_descriptor(), "purpose", purpose));
    consent.add_purposes(static_cast<v1::Purpose>(value));
  }
  for (const std::string& category : args.GetAll("category")) {
    SILD_ASSIGN_OR_RETURN(int value, ParseEnum(v1::DataCategory_descriptor(),
                                               "category", category));
    consent.add_data_categories(static_cast<v1::DataCategory>(value));
  }
  if (args.Has("from")) {
    SILD_ASSIGN_OR_RETURN(*consent.mutable_valid_from(),
                          ParseDay("from", args.Get("from"), 0));
  }
  if (args.Has("until")) {
    // The last day of validity, inclusive: valid until the next midnight.
    SILD_ASSIGN_OR_RETURN(*consent.mutable_valid_until(),
                          ParseDay("until", args.Get("until"), 1));
  }
  if (args.Has("external-ref")) {
    consent.set_external_reference(args.Get("external-ref"));
  }
  return consent;
}

absl::Status RunGrant(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown(
      {"file", "subject", "grantor", "representative-code",
       "representative-name", "recipient", "recipient-kind", "purpose",
       "category", "from", "until", "external-ref"}));
  if (!ctx.args.positionals().empty()) return UsageError("unexpected argument");
  v1::GrantConsentRequest request;
  SILD_ASSIGN_OR_RETURN(*request.mutable_consent(), ConsentFromFlags(ctx.args));
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  v1::GrantConsentResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Grant(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(CallStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    out << "granted\n";
    PrintConsent(out, response.consent());
    out << "audit record: #" << response.audit_sequence() << "\n";
  });
  return absl::OkStatus();
}

absl::Status RunWithdraw(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({"note"}));
  SILD_ASSIGN_OR_RETURN(std::string id, OneId(ctx));
  v1::WithdrawConsentRequest request;
  request.set_consent_id(id);
  request.set_note(ctx.args.Get("note"));
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  v1::WithdrawConsentResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Withdraw(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(CallStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    out << "withdrawn\n";
    PrintConsent(out, response.consent());
    out << "withdrawal notices queued: " << response.pending_notices() << "\n"
        << "audit record: #" << response.audit_sequence() << "\n";
  });
  return absl::OkStatus();
}

absl::Status RunGet(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  SILD_ASSIGN_OR_RETURN(std::string id, OneId(ctx));
  v1::GetConsentRequest request;
  request.set_consent_id(id);
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  Consent response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Get(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(CallStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) { PrintConsent(out, response); });
  return absl::OkStatus();
}

absl::Status RunList(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(
      ctx.args.CheckKnown({"subject", "recipient", "page-size", "page-token"}));
  v1::ListConsentsRequest request;
  if (ctx.args.Has("subject") == ctx.args.Has("recipient")) {
    return UsageError("give either --subject CODE or --recipient CODE");
  }
  if (ctx.args.Has("subject")) {
    SILD_ASSIGN_OR_RETURN(*request.mutable_subject(),
                          Person(ctx.args.Get("subject")));
  } else {
    request.set_recipient_registry_code(ctx.args.Get("recipient"));
  }
  if (ctx.args.Has("page-size")) {
    int size = 0;
    if (!absl::SimpleAtoi(ctx.args.Get("page-size"), &size) || size <= 0) {
      return UsageError("--page-size needs a positive number");
    }
    request.set_page_size(size);
  }
  request.set_page_token(ctx.args.Get("page-token"));
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  v1::ListConsentsResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->List(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(CallStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    if (response.consents().empty()) out << "no consents\n";
    for (const Consent& c : response.consents()) {
      std::vector<std::string> recipients(
          c.recipients().registry_codes().begin(),
          c.recipients().registry_codes().end());
      for (int kind : c.recipients().kinds()) {
        recipients.push_back(ShortName(v1::AgencyKind_descriptor(), kind));
      }
      out << c.consent_id() << "  v" << c.version() << "  "
          << ShortName(v1::ConsentStatus_descriptor(), c.status()) << "  "
          << ShortNames(v1::Purpose_descriptor(), c.purposes()) << "  -> "
          << absl::StrJoin(recipients, ", ") << "\n";
    }
    if (!response.next_page_token().empty()) {
      out << "more: --page-token " << response.next_page_token() << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunHistory(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  SILD_ASSIGN_OR_RETURN(std::string id, OneId(ctx));
  v1::ConsentHistoryRequest request;
  request.set_consent_id(id);
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  v1::ConsentHistoryResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->History(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(CallStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    for (const Consent& c : response.versions()) {
      out << "version " << c.version() << "  " << When(c.updated_time()) << "  "
          << ShortName(v1::ConsentStatus_descriptor(), c.status());
      if (!c.status_note().empty()) out << "  note: " << c.status_note();
      out << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunCheck(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown(
      {"recipient", "purpose", "subject", "kind", "category"}));
  v1::CheckConsentRequest request;
  SILD_ASSIGN_OR_RETURN(std::string recipient, ctx.args.Require("recipient"));
  request.set_recipient_registry_code(recipient);
  SILD_ASSIGN_OR_RETURN(std::string purpose, ctx.args.Require("purpose"));
  SILD_ASSIGN_OR_RETURN(int purpose_value, ParseEnum(v1::Purpose_descriptor(),
                                                     "purpose", purpose));
  request.set_purpose(static_cast<v1::Purpose>(purpose_value));
  SILD_ASSIGN_OR_RETURN(std::string subject, ctx.args.Require("subject"));
  SILD_ASSIGN_OR_RETURN(*request.mutable_subject(), Person(subject));
  SILD_ASSIGN_OR_RETURN(int kind,
                        ParseEnum(v1::MessageKind_descriptor(), "kind",
                                  ctx.args.Get("kind", "referral")));
  request.set_message_kind(static_cast<v1::MessageKind>(kind));
  for (const std::string& category : ctx.args.GetAll("category")) {
    SILD_ASSIGN_OR_RETURN(int value, ParseEnum(v1::DataCategory_descriptor(),
                                               "category", category));
    request.add_categories(static_cast<v1::DataCategory>(value));
  }
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  v1::CheckConsentResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Check(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(CallStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    out << (response.allow() ? "ALLOW " : "DENY ") << response.reason_code()
        << "\n";
    if (response.basis().has_consent()) {
      out << "basis:     consent " << response.basis().consent().consent_id()
          << " version " << response.basis().consent().version() << "\n";
    } else if (!response.basis().rule_id().empty()) {
      out << "basis:     rule " << response.basis().rule_id() << " ("
          << response.basis().citation() << ")\n";
    }
    if (response.allow()) {
      out << "permitted: "
          << ShortNames(v1::DataCategory_descriptor(),
                        response.permitted_categories())
          << "\n";
    }
    if (!response.denied_categories().empty()) {
      out << "denied:    "
          << ShortNames(v1::DataCategory_descriptor(),
                        response.denied_categories())
          << "\n";
    }
    out << response.sentence() << "\n";
  });
  return absl::OkStatus();
}

absl::StatusOr<v1::ListRulesResponse> ListRules(CommandContext& ctx,
                                                const std::string& rule_id) {
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  v1::ListRulesRequest request;
  request.set_rule_id(rule_id);
  v1::ListRulesResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->ListRules(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(CallStatus(status, call.get()));
  return response;
}

absl::Status RunRulesList(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  if (!ctx.args.positionals().empty()) return UsageError("unexpected argument");
  SILD_ASSIGN_OR_RETURN(v1::ListRulesResponse response, ListRules(ctx, ""));
  ctx.Print(response, [&](std::ostream& out) {
    if (response.rules().empty()) out << "no legal-basis rules configured\n";
    for (const auto& rule : response.rules()) {
      out << rule.id() << "  " << rule.citation() << "\n"
          << "  "
          << ShortNames(v1::AgencyKind_descriptor(), rule.sender_kinds())
          << " -> "
          << ShortNames(v1::AgencyKind_descriptor(), rule.recipient_kinds())
          << "; " << ShortNames(v1::Purpose_descriptor(), rule.purposes())
          << "; discloses "
          << ShortNames(v1::DataCategory_descriptor(), rule.categories())
          << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunRulesExplain(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  if (ctx.args.positionals().size() != 1) {
    return UsageError("give exactly one rule ID");
  }
  SILD_ASSIGN_OR_RETURN(v1::ListRulesResponse response,
                        ListRules(ctx, ctx.args.positionals()[0]));
  ctx.Print(response, [&](std::ostream& out) {
    for (const auto& rule : response.rules()) {
      out << rule.explanation() << "\n";
    }
  });
  return absl::OkStatus();
}

SILD_REGISTER_COMMAND(
    "consent grant", "record a consent (consent recorders only)",
    "usage: sildctl consent grant --subject CODE --grantor self|RELATION\n"
    "         [--representative-code CODE] [--representative-name NAME]\n"
    "         (--recipient REGISTRY_CODE | --recipient-kind KIND)...\n"
    "         --purpose PURPOSE... --category CATEGORY...\n"
    "         [--from YYYY-MM-DD] [--until YYYY-MM-DD] [--external-ref REF]\n"
    "       sildctl consent grant --file CONSENT.json\n\n"
    "RELATION: parent, guardian, foster-parent, municipal-guardian. KIND:\n"
    "school, school-health, child-protection, ... PURPOSE: support-service,\n"
    "case-management, health-care, ... CATEGORY: identity, contact,\n"
    "education, special-needs, health, social-welfare, ... --until is the\n"
    "last valid day (inclusive, Estonian time). --file takes a\n"
    "sild.v1.Consent in proto JSON. Repeat a flag for several values.",
    RunGrant);
SILD_REGISTER_COMMAND(
    "consent withdraw", "withdraw a consent; queues withdrawal notices",
    "usage: sildctl consent withdraw ID [--note TEXT]\n\n"
    "Recipients that received data under the consent get a withdrawal "
    "notice.",
    RunWithdraw);
SILD_REGISTER_COMMAND("consent get", "show a consent's current version",
                      "usage: sildctl consent get ID", RunGet);
SILD_REGISTER_COMMAND(
    "consent list", "list consents by subject or by recipient",
    "usage: sildctl consent list (--subject CODE | --recipient CODE)\n"
    "         [--page-size N] [--page-token TOKEN]\n\n"
    "Shows only consents your agency recorded or is a recipient of.",
    RunList);
SILD_REGISTER_COMMAND("consent history", "show every version of a consent",
                      "usage: sildctl consent history ID", RunHistory);
SILD_REGISTER_COMMAND(
    "consent check", "what the decision would be for a message you would send",
    "usage: sildctl consent check --recipient CODE --purpose PURPOSE\n"
    "         --subject CODE [--kind referral] --category CATEGORY...\n\n"
    "Nothing is sent. Prints ALLOW or DENY, the reason code, the basis,\n"
    "the permitted and denied categories and the decision's sentence.",
    RunCheck);
SILD_REGISTER_COMMAND("rules list", "list the configured legal-basis rules",
                      "usage: sildctl rules list", RunRulesList);
SILD_REGISTER_COMMAND("rules explain", "explain one legal-basis rule",
                      "usage: sildctl rules explain ID", RunRulesExplain);

}  // namespace
}  // namespace sild::ctl
