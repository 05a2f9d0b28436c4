#include "connectors/codecs/fhir/fhir_codec.h"

#include <algorithm>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "connectors/codecs/fhir/fhir_json.h"
#include "connectors/sdk/json_fields.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"

namespace sild::connectors {
namespace {

using fhir_internal::Json;
using fhir_internal::Node;
using fhir_internal::StringAt;

constexpr uint64_t kDefaultMaxBytes = 4 * 1024 * 1024;
constexpr int kDefaultMaxDepth = 64;

// Enum value name without its prefix ("SERVICE_TYPE_PSYCHOLOGIST" ->
// "PSYCHOLOGIST"): the codes of sild's CodeSystems.
template <typename Enum>
std::string Code(Enum value, absl::string_view prefix,
                 const std::string& (*name)(Enum)) {
  absl::string_view full = name(value);
  if (full.substr(0, prefix.size()) == prefix)
    full.remove_prefix(prefix.size());
  return std::string(full);
}

template <typename Enum>
bool ParseCode(const std::string& code, absl::string_view prefix,
               bool (*parse)(const std::string&, Enum*), Enum* out) {
  return !code.empty() && parse(absl::StrCat(prefix, code), out) &&
         static_cast<int>(*out) != 0;
}

Json Coding(absl::string_view system, absl::string_view code) {
  Json coding = Json::object();
  coding["system"] = std::string(system);
  coding["code"] = std::string(code);
  return coding;
}

Json Concept(absl::string_view system, absl::string_view code) {
  Json codeable = Json::object();
  codeable["coding"] = Json::array({Coding(system, code)});
  return codeable;
}

Json Identifier(absl::string_view system, absl::string_view value) {
  Json identifier = Json::object();
  identifier["system"] = std::string(system);
  identifier["value"] = std::string(value);
  return identifier;
}

Json OrganizationRef(const std::string& registry_code,
                     const std::string& display) {
  Json ref = Json::object();
  ref["type"] = "Organization";
  if (!registry_code.empty()) {
    ref["identifier"] = Identifier(fhir::kRegistryCodeSystem, registry_code);
  }
  if (!display.empty()) ref["display"] = display;
  return ref;
}

// The code of the first coding of `codeable` (a CodeableConcept) in `system`,
// "" when none; `code_path` receives that code's pointer.
absl::StatusOr<std::string> CodeIn(const Node& codeable,
                                   absl::string_view system,
                                   std::string* code_path) {
  SILD_ASSIGN_OR_RETURN(Node codings, codeable.Get("coding"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> list, codings.Elements());
  for (const Node& coding : list) {
    SILD_ASSIGN_OR_RETURN(std::string coding_system,
                          StringAt(coding, "system"));
    if (coding_system != system) continue;
    SILD_ASSIGN_OR_RETURN(Node code, coding.Get("code"));
    *code_path = code.path();
    return code.String();
  }
  return std::string();
}

// A Coding (not a CodeableConcept) in `system`: its code, or "".
absl::StatusOr<std::string> CodingCode(const Node& coding,
                                       absl::string_view system) {
  SILD_ASSIGN_OR_RETURN(std::string coding_system, StringAt(coding, "system"));
  if (coding_system != system) return std::string();
  return StringAt(coding, "code");
}

// identifier.value of a Reference when its system is `system`, else "".
absl::StatusOr<std::string> ReferenceIdentifier(const Node& reference,
                                                absl::string_view system,
                                                std::string* value_path) {
  SILD_ASSIGN_OR_RETURN(Node identifier, reference.Get("identifier"));
  SILD_ASSIGN_OR_RETURN(std::string id_system, StringAt(identifier, "system"));
  SILD_ASSIGN_OR_RETURN(Node value, identifier.Get("value"));
  if (value_path != nullptr) *value_path = value.path();
  if (id_system != system) return std::string();
  return value.String();
}

// The child's personal code from a Reference (subject, patient). Missing
// identifiers and foreign systems are MISSING_PERSONAL_CODE at
// <ref>/identifier; a wrong code is INVALID_PERSONAL_CODE at its value.
absl::StatusOr<std::string> PersonalCodeOf(const Node& parent,
                                           absl::string_view key) {
  SILD_ASSIGN_OR_RETURN(Node reference, parent.Get(key));
  if (!reference.present()) {
    return InvalidField("MISSING_FIELD", reference.path(),
                        "the child is required");
  }
  SILD_ASSIGN_OR_RETURN(Node identifier, reference.Get("identifier"));
  std::string value_path;
  SILD_ASSIGN_OR_RETURN(
      std::string code,
      ReferenceIdentifier(reference, fhir::kPersonalCodeSystem, &value_path));
  if (code.empty()) {
    return InvalidField(
        "MISSING_PERSONAL_CODE", identifier.path(),
        absl::StrCat("sild needs the child's personal code as an identifier "
                     "with system ",
                     fhir::kPersonalCodeSystem,
                     " (a literal reference alone cannot be resolved)"));
  }
  SILD_RETURN_IF_ERROR(ParsePersonalCode(code, value_path).status());
  return code;
}

absl::StatusOr<std::string> RegistryCodeOf(const Node& reference) {
  std::string value_path;
  SILD_ASSIGN_OR_RETURN(
      std::string code,
      ReferenceIdentifier(reference, fhir::kRegistryCodeSystem, &value_path));
  if (!code.empty())
    SILD_RETURN_IF_ERROR(ValidateRegistryCode(code, value_path));
  return code;
}

absl::Status ExpectResourceType(const Node& root, absl::string_view expected) {
  SILD_ASSIGN_OR_RETURN(Node type, root.Get("resourceType"));
  SILD_ASSIGN_OR_RETURN(std::string value, type.RequiredString());
  if (value != expected) {
    return InvalidField("UNSUPPORTED_RESOURCE", type.path(),
                        absl::StrCat("expected ", expected, ", got ", value));
  }
  return absl::OkStatus();
}

// Header identifiers: message id, idempotency key, case id.
Json HeaderIdentifiers(const std::string& message_id,
                       const sild::v1::MessageHeader& header) {
  Json identifiers = Json::array();
  if (!message_id.empty()) {
    identifiers.push_back(Identifier(fhir::kMessageIdSystem, message_id));
  }
  if (!header.idempotency_key().empty()) {
    identifiers.push_back(
        Identifier(fhir::kIdempotencyKeySystem, header.idempotency_key()));
  }
  if (!header.case_id().empty()) {
    identifiers.push_back(Identifier(fhir::kCaseIdSystem, header.case_id()));
  }
  return identifiers;
}

absl::Status ReadHeaderIdentifiers(const Node& root,
                                   sild::v1::Envelope* envelope,
                                   sild::v1::MessageHeader* header) {
  SILD_ASSIGN_OR_RETURN(Node identifiers, root.Get("identifier"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> list, identifiers.Elements());
  for (const Node& identifier : list) {
    SILD_ASSIGN_OR_RETURN(std::string system, StringAt(identifier, "system"));
    SILD_ASSIGN_OR_RETURN(std::string value, StringAt(identifier, "value"));
    if (system == fhir::kMessageIdSystem) {
      envelope->set_message_id(value);
      header->set_message_id(value);
    } else if (system == fhir::kIdempotencyKeySystem) {
      header->set_idempotency_key(value);
    } else if (system == fhir::kCaseIdSystem) {
      header->set_case_id(value);
    }
  }
  return absl::OkStatus();
}

// --- ServiceRequest ---------------------------------------------------------

const char* ServiceRequestStatus(sild::v1::ReferralStatus status) {
  switch (status) {
    case sild::v1::REFERRAL_STATUS_COMPLETED:
      return "completed";
    case sild::v1::REFERRAL_STATUS_REJECTED:
    case sild::v1::REFERRAL_STATUS_WITHDRAWN:
      return "revoked";
    default:
      return "active";
  }
}

absl::StatusOr<sild::v1::ReferralStatus> ReferralStatusFromFhir(
    const std::string& status, const std::string& path) {
  if (status == "active") return sild::v1::REFERRAL_STATUS_SUBMITTED;
  if (status == "on-hold") return sild::v1::REFERRAL_STATUS_IN_PROGRESS;
  if (status == "completed") return sild::v1::REFERRAL_STATUS_COMPLETED;
  if (status == "revoked" || status == "entered-in-error") {
    return sild::v1::REFERRAL_STATUS_WITHDRAWN;
  }
  if (status == "draft" || status == "unknown") {
    return sild::v1::REFERRAL_STATUS_UNSPECIFIED;
  }
  return InvalidField(
      "INVALID_CODE", path,
      absl::StrCat("\"", status, "\" is not a ServiceRequest status"));
}

const char* Priority(sild::v1::Urgency urgency) {
  switch (urgency) {
    case sild::v1::URGENCY_ROUTINE:
      return "routine";
    case sild::v1::URGENCY_URGENT:
      return "urgent";
    case sild::v1::URGENCY_EMERGENCY:
      return "stat";
    default:
      return nullptr;
  }
}

Json RiskIndicatorConcept(const sild::v1::RiskIndicator& indicator) {
  Json codeable = Json::object();
  Json codings = Json::array();
  std::string text;
  switch (indicator.detail_case()) {
    case sild::v1::RiskIndicator::kAttendance: {
      const auto& a = indicator.attendance();
      codings.push_back(Coding(fhir::kRiskIndicatorSystem, "attendance"));
      text = absl::StrCat("unexcused absences ", a.unexcused_absences(),
                          ", excused ", a.excused_absences(), " of ",
                          a.lessons(), " lessons");
      break;
    }
    case sild::v1::RiskIndicator::kAcademic:
      codings.push_back(Coding(fhir::kRiskIndicatorSystem, "academic"));
      text = absl::StrJoin(indicator.academic().failing_subjects(), ", ");
      break;
    case sild::v1::RiskIndicator::kBehaviour:
      codings.push_back(Coding(fhir::kRiskIndicatorSystem, "behaviour"));
      text = indicator.behaviour().description();
      break;
    case sild::v1::RiskIndicator::kHealth:
      codings.push_back(Coding(fhir::kRiskIndicatorSystem, "health"));
      if (!indicator.health().icd10_code().empty()) {
        codings.push_back(
            Coding(fhir::kIcd10System, indicator.health().icd10_code()));
      }
      text = indicator.health().concern();
      break;
    case sild::v1::RiskIndicator::kSocial:
      codings.push_back(Coding(fhir::kRiskIndicatorSystem, "social"));
      text = indicator.social().concern();
      break;
    case sild::v1::RiskIndicator::kSpecialNeeds:
      codings.push_back(Coding(fhir::kRiskIndicatorSystem, "special-needs"));
      text = indicator.special_needs().need();
      break;
    case sild::v1::RiskIndicator::DETAIL_NOT_SET:
      return nullptr;
  }
  codeable["coding"] = codings;
  if (!text.empty()) codeable["text"] = text;
  return codeable;
}

absl::Status ReadRiskIndicator(const Node& codeable, sild::v1::Referral* out) {
  std::string code_path;
  SILD_ASSIGN_OR_RETURN(
      std::string kind,
      CodeIn(codeable, fhir::kRiskIndicatorSystem, &code_path));
  if (kind.empty()) return absl::OkStatus();  // another system's reason
  SILD_ASSIGN_OR_RETURN(std::string text, StringAt(codeable, "text"));
  std::string icd_path;
  SILD_ASSIGN_OR_RETURN(std::string icd10,
                        CodeIn(codeable, fhir::kIcd10System, &icd_path));
  sild::v1::RiskIndicator indicator;
  if (kind == "attendance") {
    // The counts travel as text only; an empty AttendanceIndicator keeps the
    // fact that attendance is a concern.
    indicator.mutable_attendance();
  } else if (kind == "academic") {
    indicator.mutable_academic();
  } else if (kind == "behaviour") {
    indicator.mutable_behaviour()->set_description(text);
  } else if (kind == "health") {
    indicator.mutable_health()->set_concern(text);
    indicator.mutable_health()->set_icd10_code(icd10);
  } else if (kind == "social") {
    indicator.mutable_social()->set_concern(text);
  } else if (kind == "special-needs") {
    indicator.mutable_special_needs()->set_need(text);
  } else {
    return InvalidField("INVALID_CODE", code_path,
                        absl::StrCat("\"", kind, "\" is not a risk indicator"));
  }
  *out->add_risk_indicators() = indicator;
  return absl::OkStatus();
}

Json EncodeServiceRequest(const sild::v1::Envelope& envelope) {
  const sild::v1::Referral& referral = envelope.referral();
  const sild::v1::MessageHeader& header = referral.header();
  Json sr = Json::object();
  sr["resourceType"] = "ServiceRequest";
  std::string message_id = envelope.message_id().empty()
                               ? header.message_id()
                               : envelope.message_id();
  Json identifiers = HeaderIdentifiers(message_id, header);
  if (!identifiers.empty()) sr["identifier"] = identifiers;
  sr["status"] = ServiceRequestStatus(referral.status());
  sr["intent"] = "order";
  if (header.purpose() != sild::v1::PURPOSE_UNSPECIFIED) {
    sr["category"] = Json::array(
        {Concept(fhir::kPurposeSystem,
                 Code(header.purpose(), "PURPOSE_", &sild::v1::Purpose_Name))});
  }
  if (const char* priority = Priority(referral.urgency())) {
    sr["priority"] = priority;
  }
  if (referral.service() != sild::v1::SERVICE_TYPE_UNSPECIFIED) {
    sr["code"] = Concept(
        fhir::kServiceTypeSystem,
        Code(referral.service(), "SERVICE_TYPE_", &sild::v1::ServiceType_Name));
  }
  // subject is required in R4: a copy minimised without IDENTITY still
  // names the child's reference type, with no identifier.
  Json subject = Json::object();
  subject["type"] = "Patient";
  const sild::v1::Person& person = referral.subject();
  if (person.id().scheme() == sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE &&
      !person.id().value().empty()) {
    subject["identifier"] =
        Identifier(fhir::kPersonalCodeSystem, person.id().value());
  }
  std::vector<std::string> names;
  if (!person.given_name().empty()) names.push_back(person.given_name());
  if (!person.family_name().empty()) names.push_back(person.family_name());
  if (!names.empty()) subject["display"] = absl::StrJoin(names, " ");
  sr["subject"] = subject;
  if (header.has_created_time()) {
    sr["authoredOn"] = fhir_internal::FormatDateTime(header.created_time());
  }
  if (!header.sender().registry_code().empty() ||
      !referral.requested_by().name().empty()) {
    sr["requester"] = OrganizationRef(header.sender().registry_code(),
                                      referral.requested_by().name());
  }
  if (!referral.performer().registry_code().empty() ||
      !referral.performer().name().empty()) {
    sr["performer"] = Json::array({OrganizationRef(
        referral.performer().registry_code(), referral.performer().name())});
  }
  Json reasons = Json::array();
  for (const sild::v1::RiskIndicator& indicator : referral.risk_indicators()) {
    Json codeable = RiskIndicatorConcept(indicator);
    if (!codeable.is_null()) reasons.push_back(codeable);
  }
  if (!reasons.empty()) sr["reasonCode"] = reasons;
  if (!referral.summary().empty()) {
    Json note = Json::object();
    note["text"] = referral.summary();
    sr["note"] = Json::array({note});
  }
  return sr;
}

absl::StatusOr<sild::v1::Envelope> DecodeServiceRequest(const Node& root) {
  sild::v1::Envelope envelope;
  envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  sild::v1::Referral* referral = envelope.mutable_referral();
  sild::v1::MessageHeader* header = referral->mutable_header();
  header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  SILD_RETURN_IF_ERROR(ReadHeaderIdentifiers(root, &envelope, header));

  SILD_ASSIGN_OR_RETURN(Node status, root.Get("status"));
  SILD_ASSIGN_OR_RETURN(std::string status_code, status.RequiredString());
  SILD_ASSIGN_OR_RETURN(sild::v1::ReferralStatus referral_status,
                        ReferralStatusFromFhir(status_code, status.path()));
  referral->set_status(referral_status);
  SILD_ASSIGN_OR_RETURN(Node intent, root.Get("intent"));
  SILD_ASSIGN_OR_RETURN(std::string intent_code, intent.RequiredString());
  static const char* const kIntents[] = {
      "proposal",     "plan",           "directive",
      "order",        "original-order", "reflex-order",
      "filler-order", "instance-order", "option"};
  if (std::find(std::begin(kIntents), std::end(kIntents), intent_code) ==
      std::end(kIntents)) {
    return InvalidField("INVALID_CODE", intent.path(),
                        absl::StrCat("\"", intent_code, "\" is not an intent"));
  }

  SILD_ASSIGN_OR_RETURN(std::string personal_code,
                        PersonalCodeOf(root, "subject"));
  referral->mutable_subject()->mutable_id()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  referral->mutable_subject()->mutable_id()->set_value(personal_code);

  SILD_ASSIGN_OR_RETURN(Node code, root.Get("code"));
  std::string code_path;
  SILD_ASSIGN_OR_RETURN(std::string service_code,
                        CodeIn(code, fhir::kServiceTypeSystem, &code_path));
  if (!service_code.empty()) {
    sild::v1::ServiceType service;
    if (!ParseCode(service_code, "SERVICE_TYPE_", &sild::v1::ServiceType_Parse,
                   &service)) {
      return InvalidField("INVALID_CODE", code_path,
                          absl::StrCat("\"", service_code, "\" is not in ",
                                       fhir::kServiceTypeSystem));
    }
    referral->set_service(service);
  }

  SILD_ASSIGN_OR_RETURN(Node categories, root.Get("category"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> category_list, categories.Elements());
  for (const Node& category : category_list) {
    SILD_ASSIGN_OR_RETURN(std::string purpose_code,
                          CodeIn(category, fhir::kPurposeSystem, &code_path));
    if (purpose_code.empty()) continue;
    sild::v1::Purpose purpose;
    if (!ParseCode(purpose_code, "PURPOSE_", &sild::v1::Purpose_Parse,
                   &purpose)) {
      return InvalidField("INVALID_CODE", code_path,
                          absl::StrCat("\"", purpose_code, "\" is not in ",
                                       fhir::kPurposeSystem));
    }
    header->set_purpose(purpose);
  }

  SILD_ASSIGN_OR_RETURN(Node priority, root.Get("priority"));
  SILD_ASSIGN_OR_RETURN(std::string priority_code, priority.String());
  if (priority_code == "routine") {
    referral->set_urgency(sild::v1::URGENCY_ROUTINE);
  } else if (priority_code == "urgent" || priority_code == "asap") {
    referral->set_urgency(sild::v1::URGENCY_URGENT);
  } else if (priority_code == "stat") {
    referral->set_urgency(sild::v1::URGENCY_EMERGENCY);
  } else if (!priority_code.empty()) {
    return InvalidField(
        "INVALID_CODE", priority.path(),
        absl::StrCat("\"", priority_code, "\" is not a request priority"));
  }

  SILD_ASSIGN_OR_RETURN(Node authored, root.Get("authoredOn"));
  SILD_ASSIGN_OR_RETURN(std::string authored_on, authored.String());
  if (!authored_on.empty()) {
    SILD_ASSIGN_OR_RETURN(
        *header->mutable_created_time(),
        fhir_internal::ParseDateTime(authored_on, authored.path()));
  }

  SILD_ASSIGN_OR_RETURN(Node requester, root.Get("requester"));
  SILD_ASSIGN_OR_RETURN(std::string sender, RegistryCodeOf(requester));
  if (!sender.empty()) header->mutable_sender()->set_registry_code(sender);
  SILD_ASSIGN_OR_RETURN(std::string requester_display,
                        StringAt(requester, "display"));
  if (!requester_display.empty()) {
    referral->mutable_requested_by()->set_name(requester_display);
  }

  SILD_ASSIGN_OR_RETURN(Node performers, root.Get("performer"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> performer_list,
                        performers.Elements());
  if (!performer_list.empty()) {  // sild names one performer: the first
    SILD_ASSIGN_OR_RETURN(std::string performer,
                          RegistryCodeOf(performer_list[0]));
    SILD_ASSIGN_OR_RETURN(std::string display,
                          StringAt(performer_list[0], "display"));
    if (!performer.empty()) {
      referral->mutable_performer()->set_registry_code(performer);
    }
    if (!display.empty()) referral->mutable_performer()->set_name(display);
  }

  SILD_ASSIGN_OR_RETURN(Node reasons, root.Get("reasonCode"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> reason_list, reasons.Elements());
  for (const Node& reason : reason_list) {
    SILD_RETURN_IF_ERROR(ReadRiskIndicator(reason, referral));
  }

  SILD_ASSIGN_OR_RETURN(Node notes, root.Get("note"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> note_list, notes.Elements());
  std::vector<std::string> texts;
  for (const Node& note : note_list) {
    SILD_ASSIGN_OR_RETURN(std::string text, StringAt(note, "text"));
    if (!text.empty()) texts.push_back(text);
  }
  referral->set_summary(absl::StrJoin(texts, "\n"));
  return envelope;
}

// --- Task -------------------------------------------------------------------

const char* TaskStatus(sild::v1::ReferralStatus status) {
  switch (status) {
    case sild::v1::REFERRAL_STATUS_SUBMITTED:
      return "requested";
    case sild::v1::REFERRAL_STATUS_RECEIVED:
      return "received";
    case sild::v1::REFERRAL_STATUS_ACCEPTED:
      return "accepted";
    case sild::v1::REFERRAL_STATUS_REJECTED:
      return "rejected";
    case sild::v1::REFERRAL_STATUS_IN_PROGRESS:
      return "in-progress";
    case sild::v1::REFERRAL_STATUS_COMPLETED:
      return "completed";
    case sild::v1::REFERRAL_STATUS_WITHDRAWN:
      return "cancelled";
    default:
      return "draft";
  }
}

absl::StatusOr<sild::v1::ReferralStatus> StatusFromTask(
    const std::string& status, const std::string& path) {
  static const std::pair<const char*, sild::v1::ReferralStatus> kMap[] = {
      {"draft", sild::v1::REFERRAL_STATUS_UNSPECIFIED},
      {"requested", sild::v1::REFERRAL_STATUS_SUBMITTED},
      {"received", sild::v1::REFERRAL_STATUS_RECEIVED},
      {"accepted", sild::v1::REFERRAL_STATUS_ACCEPTED},
      {"rejected", sild::v1::REFERRAL_STATUS_REJECTED},
      {"ready", sild::v1::REFERRAL_STATUS_ACCEPTED},
      {"cancelled", sild::v1::REFERRAL_STATUS_WITHDRAWN},
      {"in-progress", sild::v1::REFERRAL_STATUS_IN_PROGRESS},
      {"on-hold", sild::v1::REFERRAL_STATUS_IN_PROGRESS},
      {"failed", sild::v1::REFERRAL_STATUS_REJECTED},
      {"completed", sild::v1::REFERRAL_STATUS_COMPLETED},
      {"entered-in-error", sild::v1::REFERRAL_STATUS_WITHDRAWN},
  };
  for (const auto& [code, value] : kMap) {
    if (status == code) return value;
  }
  return InvalidField("INVALID_CODE", path,
                      absl::StrCat("\"", status, "\" is not a Task status"));
}

Json EncodeTask(const sild::v1::Envelope& envelope) {
  const sild::v1::ReferralStatusUpdate& update = envelope.status_update();
  const sild::v1::MessageHeader& header = update.header();
  const sild::v1::ReferralStatusChange& change = update.change();
  Json task = Json::object();
  task["resourceType"] = "Task";
  std::string message_id = envelope.message_id().empty()
                               ? header.message_id()
                               : envelope.message_id();
  Json identifiers = HeaderIdentifiers(message_id, header);
  if (!identifiers.empty()) task["identifier"] = identifiers;
  task["status"] = TaskStatus(change.status());
  if (change.status() != sild::v1::REFERRAL_STATUS_UNSPECIFIED) {
    task["businessStatus"] = Concept(fhir::kReferralStatusSystem,
                                     Code(change.status(), "REFERRAL_STATUS_",
                                          &sild::v1::ReferralStatus_Name));
  }
  if (change.rejection_reason() != sild::v1::REJECTION_REASON_UNSPECIFIED) {
    task["statusReason"] =
        Concept(fhir::kRejectionReasonSystem,
                Code(change.rejection_reason(), "REJECTION_REASON_",
                     &sild::v1::RejectionReason_Name));
  }
  task["intent"] = "order";
  if (!update.referral_id().empty()) {
    Json focus = Json::object();
    focus["type"] = "ServiceRequest";
    focus["identifier"] =
        Identifier(fhir::kMessageIdSystem, update.referral_id());
    task["focus"] = focus;
  }
  if (change.has_time()) {
    task["lastModified"] = fhir_internal::FormatDateTime(change.time());
  }
  if (!change.changed_by().registry_code().empty() ||
      !change.professional().name().empty()) {
    task["owner"] = OrganizationRef(change.changed_by().registry_code(),
                                    change.professional().name());
  }
  if (!change.note().empty()) {
    Json note = Json::object();
    note["text"] = change.note();
    task["note"] = Json::array({note});
  }
  return task;
}

absl::StatusOr<sild::v1::Envelope> DecodeTask(const Node& root) {
  sild::v1::Envelope envelope;
  envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
  sild::v1::ReferralStatusUpdate* update = envelope.mutable_status_update();
  sild::v1::MessageHeader* header = update->mutable_header();
  header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
  sild::v1::ReferralStatusChange* change = update->mutable_change();
  SILD_RETURN_IF_ERROR(ReadHeaderIdentifiers(root, &envelope, header));

  SILD_ASSIGN_OR_RETURN(Node status, root.Get("status"));
  SILD_ASSIGN_OR_RETURN(std::string status_code, status.RequiredString());
  SILD_ASSIGN_OR_RETURN(sild::v1::ReferralStatus task_status,
                        StatusFromTask(status_code, status.path()));
  change->set_status(task_status);
  SILD_ASSIGN_OR_RETURN(Node intent, root.Get("intent"));
  SILD_RETURN_IF_ERROR(intent.RequiredString().status());

  // businessStatus in sild's CodeSystem is exact; status is the fallback.
  SILD_ASSIGN_OR_RETURN(Node business, root.Get("businessStatus"));
  std::string code_path;
  SILD_ASSIGN_OR_RETURN(
      std::string business_code,
      CodeIn(business, fhir::kReferralStatusSystem, &code_path));
  if (!business_code.empty()) {
    sild::v1::ReferralStatus exact;
    if (!ParseCode(business_code, "REFERRAL_STATUS_",
                   &sild::v1::ReferralStatus_Parse, &exact)) {
      return InvalidField("INVALID_CODE", code_path,
                          absl::StrCat("\"", business_code, "\" is not in ",
                                       fhir::kReferralStatusSystem));
    }
    change->set_status(exact);
  }
  SILD_ASSIGN_OR_RETURN(Node reason, root.Get("statusReason"));
  SILD_ASSIGN_OR_RETURN(
      std::string reason_code,
      CodeIn(reason, fhir::kRejectionReasonSystem, &code_path));
  if (!reason_code.empty()) {
    sild::v1::RejectionReason rejection;
    if (!ParseCode(reason_code, "REJECTION_REASON_",
                   &sild::v1::RejectionReason_Parse, &rejection)) {
      return InvalidField("INVALID_CODE", code_path,
                          absl::StrCat("\"", reason_code, "\" is not in ",
                                       fhir::kRejectionReasonSystem));
    }
    change->set_rejection_reason(rejection);
  }

  SILD_ASSIGN_OR_RETURN(Node focus, root.Get("focus"));
  std::string focus_path;
  SILD_ASSIGN_OR_RETURN(
      std::string referral_id,
      ReferenceIdentifier(focus, fhir::kMessageIdSystem, &focus_path));
  if (referral_id.empty()) {
    return InvalidField("MISSING_FIELD",
                        absl::StrCat(focus.path(), "/identifier"),
                        absl::StrCat("the Task's focus names the referral by "
                                     "an identifier with system ",
                                     fhir::kMessageIdSystem));
  }
  update->set_referral_id(referral_id);
  header->set_in_reply_to(referral_id);

  SILD_ASSIGN_OR_RETURN(Node modified, root.Get("lastModified"));
  SILD_ASSIGN_OR_RETURN(std::string last_modified, modified.String());
  if (!last_modified.empty()) {
    SILD_ASSIGN_OR_RETURN(
        *change->mutable_time(),
        fhir_internal::ParseDateTime(last_modified, modified.path()));
  }
  SILD_ASSIGN_OR_RETURN(Node owner, root.Get("owner"));
  SILD_ASSIGN_OR_RETURN(std::string owner_code, RegistryCodeOf(owner));
  if (!owner_code.empty()) {
    change->mutable_changed_by()->set_registry_code(owner_code);
  }
  SILD_ASSIGN_OR_RETURN(std::string owner_display, StringAt(owner, "display"));
  if (!owner_display.empty()) {
    change->mutable_professional()->set_name(owner_display);
  }
  SILD_ASSIGN_OR_RETURN(Node notes, root.Get("note"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> note_list, notes.Elements());
  std::vector<std::string> texts;
  for (const Node& note : note_list) {
    SILD_ASSIGN_OR_RETURN(std::string text, StringAt(note, "text"));
    if (!text.empty()) texts.push_back(text);
  }
  change->set_note(absl::StrJoin(texts, "\n"));
  return envelope;
}

// --- Consent ----------------------------------------------------------------

const char* ConsentState(sild::v1::ConsentStatus status) {
  switch (status) {
    case sild::v1::CONSENT_STATUS_REQUESTED:
      return "proposed";
    case sild::v1::CONSENT_STATUS_APPROVED:
      return "active";
    case sild::v1::CONSENT_STATUS_DECLINED:
      return "rejected";
    case sild::v1::CONSENT_STATUS_EXPIRED:
    case sild::v1::CONSENT_STATUS_WITHDRAWN:
      return "inactive";
    default:
      return "draft";
  }
}

absl::StatusOr<sild::v1::ConsentStatus> ConsentStatusFromState(
    const std::string& state, const std::string& path) {
  if (state == "draft") return sild::v1::CONSENT_STATUS_UNSPECIFIED;
  if (state == "proposed") return sild::v1::CONSENT_STATUS_REQUESTED;
  if (state == "active") return sild::v1::CONSENT_STATUS_APPROVED;
  if (state == "rejected") return sild::v1::CONSENT_STATUS_DECLINED;
  if (state == "inactive" || state == "entered-in-error") {
    return sild::v1::CONSENT_STATUS_WITHDRAWN;
  }
  return InvalidField("INVALID_CODE", path,
                      absl::StrCat("\"", state, "\" is not a Consent state"));
}

Json PersonRef(const sild::v1::PersonIdentifier& id) {
  Json ref = Json::object();
  ref["type"] = "Patient";
  if (id.scheme() == sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE &&
      !id.value().empty()) {
    ref["identifier"] = Identifier(fhir::kPersonalCodeSystem, id.value());
  }
  return ref;
}

Json EncodeConsentJson(const sild::v1::Consent& consent) {
  Json out = Json::object();
  out["resourceType"] = "Consent";
  if (consent.version() > 0) {
    out["meta"] = Json::object();
    out["meta"]["versionId"] = absl::StrCat(consent.version());
  }
  if (consent.status() != sild::v1::CONSENT_STATUS_UNSPECIFIED) {
    Json extension = Json::object();
    extension["url"] = fhir::kConsentStatusExtension;
    extension["valueCode"] = Code(consent.status(), "CONSENT_STATUS_",
                                  &sild::v1::ConsentStatus_Name);
    out["extension"] = Json::array({extension});
  }
  Json identifiers = Json::array();
  if (!consent.consent_id().empty()) {
    identifiers.push_back(
        Identifier(fhir::kConsentIdSystem, consent.consent_id()));
  }
  if (!consent.external_reference().empty()) {
    identifiers.push_back(Identifier(fhir::kExternalReferenceSystem,
                                     consent.external_reference()));
  }
  if (!identifiers.empty()) out["identifier"] = identifiers;
  out["status"] = ConsentState(consent.status());
  out["scope"] = Concept("http://terminology.hl7.org/CodeSystem/consentscope",
                         "patient-privacy");
  out["category"] = Json::array({Concept("http://loinc.org", "59284-0")});
  out["patient"] = PersonRef(consent.subject());
  if (consent.has_recorded_time()) {
    out["dateTime"] = fhir_internal::FormatDateTime(consent.recorded_time());
  }
  if (consent.grantor().has_representative()) {
    const sild::v1::Representative& rep = consent.grantor().representative();
    Json performer = PersonRef(rep.person().id());
    performer["type"] = "RelatedPerson";
    if (rep.relation() != sild::v1::REPRESENTATIVE_RELATION_UNSPECIFIED) {
      Json extension = Json::object();
      extension["url"] = fhir::kRelationExtension;
      extension["valueCode"] = Code(rep.relation(), "REPRESENTATIVE_RELATION_",
                                    &sild::v1::RepresentativeRelation_Name);
      performer["extension"] = Json::array({extension});
    }
    out["performer"] = Json::array({performer});
  } else if (consent.grantor().subject_self()) {
    out["performer"] = Json::array({PersonRef(consent.subject())});
  }
  if (!consent.recorded_by().registry_code().empty()) {
    out["organization"] = Json::array(
        {OrganizationRef(consent.recorded_by().registry_code(), "")});
  }
  Json provision = Json::object();
  provision["type"] = "permit";
  if (consent.has_valid_from() || consent.has_valid_until()) {
    Json period = Json::object();
    if (consent.has_valid_from()) {
      period["start"] = fhir_internal::FormatDateTime(consent.valid_from());
    }
    if (consent.has_valid_until()) {
      period["end"] = fhir_internal::FormatDateTime(consent.valid_until());
    }
    provision["period"] = period;
  }
  Json actors = Json::array();
  Json recipient_role = Concept(
      "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP");
  for (const std::string& code : consent.recipients().registry_codes()) {
    Json actor = Json::object();
    actor["role"] = recipient_role;
    actor["reference"] = OrganizationRef(code, "");
    actors.push_back(actor);
  }
  for (int kind : consent.recipients().kinds()) {
    Json actor = Json::object();
    actor["role"] = recipient_role;
    Json ref = Json::object();
    ref["type"] = "Organization";
    ref["identifier"] =
        Identifier(fhir::kAgencyKindSystem,
                   Code(static_cast<sild::v1::AgencyKind>(kind), "AGENCY_KIND_",
                        &sild::v1::AgencyKind_Name));
    actor["reference"] = ref;
    actors.push_back(actor);
  }
  if (!actors.empty()) provision["actor"] = actors;
  provision["action"] = Json::array({Concept(
      "http://terminology.hl7.org/CodeSystem/consentaction", "disclose")});
  Json purposes = Json::array();
  for (int purpose : consent.purposes()) {
    purposes.push_back(Coding(fhir::kPurposeSystem,
                              Code(static_cast<sild::v1::Purpose>(purpose),
                                   "PURPOSE_", &sild::v1::Purpose_Name)));
  }
  if (!purposes.empty()) provision["purpose"] = purposes;
  Json classes = Json::array();
  for (int category : consent.data_categories()) {
    classes.push_back(
        Coding(fhir::kDataCategorySystem,
               Code(static_cast<sild::v1::DataCategory>(category),
                    "DATA_CATEGORY_", &sild::v1::DataCategory_Name)));
  }
  if (!classes.empty()) provision["class"] = classes;
  out["provision"] = provision;
  return out;
}

absl::StatusOr<sild::v1::Consent> DecodeConsentJson(const Node& root) {
  sild::v1::Consent consent;
  SILD_ASSIGN_OR_RETURN(Node status, root.Get("status"));
  SILD_ASSIGN_OR_RETURN(std::string state, status.RequiredString());
  SILD_ASSIGN_OR_RETURN(sild::v1::ConsentStatus consent_status,
                        ConsentStatusFromState(state, status.path()));
  consent.set_status(consent_status);
  SILD_ASSIGN_OR_RETURN(Node scope, root.Get("scope"));
  if (!scope.present()) {
    return InvalidField("MISSING_FIELD", scope.path(),
                        "R4 Consent needs scope");
  }
  SILD_ASSIGN_OR_RETURN(Node category, root.Get("category"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> categories, category.Elements());
  if (categories.empty()) {
    return InvalidField("MISSING_FIELD", category.path(),
                        "R4 Consent needs a category");
  }
  SILD_ASSIGN_OR_RETURN(Node extensions, root.Get("extension"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> extension_list,
                        extensions.Elements());
  for (const Node& extension : extension_list) {
    SILD_ASSIGN_OR_RETURN(std::string url, StringAt(extension, "url"));
    if (url != fhir::kConsentStatusExtension) continue;
    SILD_ASSIGN_OR_RETURN(Node value, extension.Get("valueCode"));
    SILD_ASSIGN_OR_RETURN(std::string code, value.String());
    sild::v1::ConsentStatus exact;
    if (!ParseCode(code, "CONSENT_STATUS_", &sild::v1::ConsentStatus_Parse,
                   &exact)) {
      return InvalidField(
          "INVALID_CODE", value.path(),
          absl::StrCat("\"", code, "\" is not a consent status"));
    }
    consent.set_status(exact);
  }
  SILD_ASSIGN_OR_RETURN(Node meta, root.Get("meta"));
  SILD_ASSIGN_OR_RETURN(Node version_id, meta.Get("versionId"));
  SILD_ASSIGN_OR_RETURN(std::string version, version_id.String());
  if (!version.empty()) {
    int64_t number = 0;
    if (!absl::SimpleAtoi(version, &number) || number < 0) {
      return InvalidField("INVALID_FHIR", version_id.path(),
                          "sild consent versions are numbers");
    }
    consent.set_version(number);
  }
  SILD_ASSIGN_OR_RETURN(Node identifiers, root.Get("identifier"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> identifier_list,
                        identifiers.Elements());
  for (const Node& identifier : identifier_list) {
    SILD_ASSIGN_OR_RETURN(std::string system, StringAt(identifier, "system"));
    SILD_ASSIGN_OR_RETURN(std::string value, StringAt(identifier, "value"));
    if (system == fhir::kConsentIdSystem) consent.set_consent_id(value);
    if (system == fhir::kExternalReferenceSystem) {
      consent.set_external_reference(value);
    }
  }
  SILD_ASSIGN_OR_RETURN(std::string personal_code,
                        PersonalCodeOf(root, "patient"));
  consent.mutable_subject()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  consent.mutable_subject()->set_value(personal_code);

  SILD_ASSIGN_OR_RETURN(Node date_time, root.Get("dateTime"));
  SILD_ASSIGN_OR_RETURN(std::string recorded, date_time.String());
  if (!recorded.empty()) {
    SILD_ASSIGN_OR_RETURN(
        *consent.mutable_recorded_time(),
        fhir_internal::ParseDateTime(recorded, date_time.path()));
  }
  SILD_ASSIGN_OR_RETURN(Node performers, root.Get("performer"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> performer_list,
                        performers.Elements());
  if (!performer_list.empty()) {
    const Node& performer = performer_list[0];
    std::string value_path;
    SILD_ASSIGN_OR_RETURN(
        std::string grantor_code,
        ReferenceIdentifier(performer, fhir::kPersonalCodeSystem, &value_path));
    if (!grantor_code.empty()) {
      SILD_RETURN_IF_ERROR(
          ParsePersonalCode(grantor_code, value_path).status());
    }
    if (!grantor_code.empty() && grantor_code == personal_code) {
      consent.mutable_grantor()->set_subject_self(true);
    } else if (!grantor_code.empty()) {
      sild::v1::Representative* rep =
          consent.mutable_grantor()->mutable_representative();
      rep->mutable_person()->mutable_id()->set_scheme(
          sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
      rep->mutable_person()->mutable_id()->set_value(grantor_code);
      SILD_ASSIGN_OR_RETURN(Node rep_extensions, performer.Get("extension"));
      SILD_ASSIGN_OR_RETURN(std::vector<Node> rep_list,
                            rep_extensions.Elements());
      for (const Node& extension : rep_list) {
        SILD_ASSIGN_OR_RETURN(std::string url, StringAt(extension, "url"));
        if (url != fhir::kRelationExtension) continue;
        SILD_ASSIGN_OR_RETURN(Node value, extension.Get("valueCode"));
        SILD_ASSIGN_OR_RETURN(std::string code, value.String());
        sild::v1::RepresentativeRelation relation;
        if (!ParseCode(code, "REPRESENTATIVE_RELATION_",
                       &sild::v1::RepresentativeRelation_Parse, &relation)) {
          return InvalidField("INVALID_CODE", value.path(),
                              absl::StrCat("\"", code, "\" is not a relation"));
        }
        rep->set_relation(relation);
      }
    }
  }
  SILD_ASSIGN_OR_RETURN(Node organizations, root.Get("organization"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> organization_list,
                        organizations.Elements());
  if (!organization_list.empty()) {
    SILD_ASSIGN_OR_RETURN(std::string recorder,
                          RegistryCodeOf(organization_list[0]));
    if (!recorder.empty()) {
      consent.mutable_recorded_by()->set_registry_code(recorder);
    }
  }

  SILD_ASSIGN_OR_RETURN(Node provision, root.Get("provision"));
  SILD_ASSIGN_OR_RETURN(Node type, provision.Get("type"));
  SILD_ASSIGN_OR_RETURN(std::string type_code, type.String());
  if (!type_code.empty() && type_code != "permit") {
    return InvalidField("UNSUPPORTED_PROVISION", type.path(),
                        "sild consents permit; a deny provision has no "
                        "sild equivalent");
  }
  SILD_ASSIGN_OR_RETURN(Node period, provision.Get("period"));
  SILD_ASSIGN_OR_RETURN(Node start, period.Get("start"));
  SILD_ASSIGN_OR_RETURN(std::string start_text, start.String());
  if (!start_text.empty()) {
    SILD_ASSIGN_OR_RETURN(
        *consent.mutable_valid_from(),
        fhir_internal::ParseDateTime(start_text, start.path()));
  }
  SILD_ASSIGN_OR_RETURN(Node end, period.Get("end"));
  SILD_ASSIGN_OR_RETURN(std::string end_text, end.String());
  if (!end_text.empty()) {
    SILD_ASSIGN_OR_RETURN(*consent.mutable_valid_until(),
                          fhir_internal::ParseDateTime(end_text, end.path()));
  }
  SILD_ASSIGN_OR_RETURN(Node actors, provision.Get("actor"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> actor_list, actors.Elements());
  for (const Node& actor : actor_list) {
    SILD_ASSIGN_OR_RETURN(Node reference, actor.Get("reference"));
    SILD_ASSIGN_OR_RETURN(std::string registry_code, RegistryCodeOf(reference));
    if (!registry_code.empty()) {
      consent.mutable_recipients()->add_registry_codes(registry_code);
      continue;
    }
    std::string kind_path;
    SILD_ASSIGN_OR_RETURN(
        std::string kind_code,
        ReferenceIdentifier(reference, fhir::kAgencyKindSystem, &kind_path));
    if (kind_code.empty()) continue;
    sild::v1::AgencyKind kind;
    if (!ParseCode(kind_code, "AGENCY_KIND_", &sild::v1::AgencyKind_Parse,
                   &kind)) {
      return InvalidField("INVALID_CODE", kind_path,
                          absl::StrCat("\"", kind_code, "\" is not in ",
                                       fhir::kAgencyKindSystem));
    }
    consent.mutable_recipients()->add_kinds(kind);
  }
  SILD_ASSIGN_OR_RETURN(Node purposes, provision.Get("purpose"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> purpose_list, purposes.Elements());
  for (const Node& coding : purpose_list) {
    SILD_ASSIGN_OR_RETURN(std::string code,
                          CodingCode(coding, fhir::kPurposeSystem));
    if (code.empty()) continue;
    sild::v1::Purpose purpose;
    if (!ParseCode(code, "PURPOSE_", &sild::v1::Purpose_Parse, &purpose)) {
      return InvalidField(
          "INVALID_CODE", coding.path() + "/code",
          absl::StrCat("\"", code, "\" is not in ", fhir::kPurposeSystem));
    }
    consent.add_purposes(purpose);
  }
  SILD_ASSIGN_OR_RETURN(Node classes, provision.Get("class"));
  SILD_ASSIGN_OR_RETURN(std::vector<Node> class_list, classes.Elements());
  for (const Node& coding : class_list) {
    SILD_ASSIGN_OR_RETURN(std::string code,
                          CodingCode(coding, fhir::kDataCategorySystem));
    if (code.empty()) continue;
    sild::v1::DataCategory category_value;
    if (!ParseCode(code, "DATA_CATEGORY_", &sild::v1::DataCategory_Parse,
                   &category_value)) {
      return InvalidField(
          "INVALID_CODE", coding.path() + "/code",
          absl::StrCat("\"", code, "\" is not in ", fhir::kDataCategorySystem));
    }
    consent.add_data_categories(category_value);
  }
  return consent;
}

// --- AuditEvent -------------------------------------------------------------

const char* AuditEventAction(sild::v1::AuditAction action) {
  switch (action) {
    case sild::v1::AUDIT_ACTION_DELIVERY:
      return "C";
    case sild::v1::AUDIT_ACTION_DISCLOSURE:
    case sild::v1::AUDIT_ACTION_AUDIT_QUERY:
      return "R";
    case sild::v1::AUDIT_ACTION_CONSENT_CHANGE:
    case sild::v1::AUDIT_ACTION_STATUS_CHANGE:
      return "U";
    default:
      return "E";
  }
}

const char* AuditEventOutcome(sild::v1::AuditOutcome outcome) {
  switch (outcome) {
    case sild::v1::AUDIT_OUTCOME_DENY:
      return "4";
    case sild::v1::AUDIT_OUTCOME_FAILURE:
      return "8";
    default:
      return "0";
  }
}

Json EncodeAuditEventJson(const sild::v1::AuditRecord& record) {
  Json event = Json::object();
  event["resourceType"] = "AuditEvent";
  event["type"] = Coding(
      fhir::kAuditActionSystem,
      Code(record.action(), "AUDIT_ACTION_", &sild::v1::AuditAction_Name));
  event["action"] = AuditEventAction(record.action());
  event["recorded"] = fhir_internal::FormatDateTime(record.time());
  event["outcome"] = AuditEventOutcome(record.outcome());
  std::string description = record.reason_code();
  if (!record.detail().empty()) {
    description = description.empty()
                      ? record.detail()
                      : absl::StrCat(description, ": ", record.detail());
  }
  if (!description.empty()) event["outcomeDesc"] = description;
  if (record.purpose() != sild::v1::PURPOSE_UNSPECIFIED) {
    event["purposeOfEvent"] = Json::array(
        {Concept(fhir::kPurposeSystem,
                 Code(record.purpose(), "PURPOSE_", &sild::v1::Purpose_Name))});
  }
  Json agent = Json::object();
  agent["who"] = OrganizationRef(record.actor().registry_code(), "");
  if (!record.actor().professional_id().empty()) {
    agent["altId"] = record.actor().professional_id();
  }
  agent["requestor"] = true;
  Json agents = Json::array({agent});
  if (!record.counterparty().empty()) {
    Json counterparty = Json::object();
    counterparty["who"] = OrganizationRef(record.counterparty(), "");
    counterparty["requestor"] = false;
    agents.push_back(counterparty);
  }
  event["agent"] = agents;
  Json source = Json::object();
  source["site"] = record.chain_id();
  Json observer = Json::object();
  observer["display"] = "sild gateway";
  source["observer"] = observer;
  event["source"] = source;
  Json entities = Json::array();
  if (!record.message_id().empty()) {
    Json entity = Json::object();
    Json what = Json::object();
    what["identifier"] =
        Identifier(fhir::kMessageIdSystem, record.message_id());
    entity["what"] = what;
    if (record.message_kind() != sild::v1::MESSAGE_KIND_UNSPECIFIED) {
      entity["type"] = Coding(fhir::kMessageKindSystem,
                              Code(record.message_kind(), "MESSAGE_KIND_",
                                   &sild::v1::MessageKind_Name));
    }
    Json details = Json::array();
    Json sequence = Json::object();
    sequence["type"] = "sequence";
    sequence["valueString"] = absl::StrCat(record.sequence());
    details.push_back(sequence);
    if (!record.record_hash().empty()) {
      Json hash = Json::object();
      hash["type"] = "record_hash";
      hash["valueBase64Binary"] = absl::Base64Escape(record.record_hash());
      details.push_back(hash);
    }
    entity["detail"] = details;
    entities.push_back(entity);
  }
  if (!record.subject_pseudonym().empty()) {
    Json entity = Json::object();
    Json what = Json::object();
    what["identifier"] =
        Identifier(fhir::kPseudonymSystem, record.subject_pseudonym());
    entity["what"] = what;
    entity["role"] =
        Coding("http://terminology.hl7.org/CodeSystem/object-role", "1");
    entities.push_back(entity);
  }
  if (!entities.empty()) event["entity"] = entities;
  return event;
}

}  // namespace

FhirCodec::FhirCodec(const sild::connectors::v1::FhirCodecConfig& config)
    : pretty_(config.pretty()) {
  limits_.max_bytes =
      config.max_bytes() == 0 ? kDefaultMaxBytes : config.max_bytes();
  limits_.max_depth = config.max_depth() == 0
                          ? kDefaultMaxDepth
                          : static_cast<int>(config.max_depth());
}

absl::StatusOr<std::string> FhirCodec::ResourceType(
    absl::string_view native) const {
  SILD_ASSIGN_OR_RETURN(Json json,
                        fhir_internal::ParseBounded(native, limits_));
  Node root(&json, "");
  SILD_ASSIGN_OR_RETURN(Node type, root.Get("resourceType"));
  return type.RequiredString();
}

absl::StatusOr<sild::v1::Envelope> FhirCodec::Decode(
    absl::string_view native) const {
  SILD_ASSIGN_OR_RETURN(Json json,
                        fhir_internal::ParseBounded(native, limits_));
  Node root(&json, "");
  SILD_ASSIGN_OR_RETURN(Node type, root.Get("resourceType"));
  SILD_ASSIGN_OR_RETURN(std::string resource_type, type.RequiredString());
  if (resource_type == "ServiceRequest") return DecodeServiceRequest(root);
  if (resource_type == "Task") return DecodeTask(root);
  return InvalidField(
      "UNSUPPORTED_RESOURCE", type.path(),
      absl::StrCat(resource_type,
                   " is not a message; fhir-r4 exchanges ServiceRequest and "
                   "Task (Consent through the consent API)"));
}

absl::StatusOr<std::string> FhirCodec::Encode(
    const sild::v1::Envelope& envelope) const {
  switch (envelope.body_case()) {
    case sild::v1::Envelope::kReferral:
      return DumpJson(EncodeServiceRequest(envelope), pretty_);
    case sild::v1::Envelope::kStatusUpdate:
      return DumpJson(EncodeTask(envelope), pretty_);
    default:
      return InvalidField(
          "UNSUPPORTED_KIND", "kind",
          absl::StrCat("fhir-r4 does not carry ",
                       sild::v1::MessageKind_Name(envelope.kind())));
  }
}

absl::StatusOr<sild::v1::Consent> FhirCodec::DecodeConsent(
    absl::string_view native) const {
  SILD_ASSIGN_OR_RETURN(Json json,
                        fhir_internal::ParseBounded(native, limits_));
  Node root(&json, "");
  SILD_RETURN_IF_ERROR(ExpectResourceType(root, "Consent"));
  return DecodeConsentJson(root);
}

absl::StatusOr<std::string> FhirCodec::EncodeConsent(
    const sild::v1::Consent& consent) const {
  return DumpJson(EncodeConsentJson(consent), pretty_);
}

absl::StatusOr<std::string> FhirCodec::EncodeAuditEvent(
    const sild::v1::AuditRecord& record) const {
  return DumpJson(EncodeAuditEventJson(record), pretty_);
}

namespace {

using FhirCodecFactory =
    TypedCodecFactory<FhirCodec::kName, sild::connectors::v1::FhirCodecConfig,
                      FhirCodec>;

SILD_REGISTER_CODEC_FACTORY(FhirCodecFactory);

}  // namespace
}  // namespace sild::connectors
