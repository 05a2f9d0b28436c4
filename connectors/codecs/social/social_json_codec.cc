#include "connectors/codecs/social/social_json_codec.h"

#include <map>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "connectors/sdk/json_fields.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "sild/v1/referral.pb.h"

namespace sild::connectors {
namespace {

using nlohmann::ordered_json;
using sild::v1::Envelope;

constexpr size_t kDefaultMaxBytes = 1024 * 1024;
constexpr int kDefaultMaxDepth = 16;
constexpr absl::string_view kTypeReferral = "referral";
constexpr absl::string_view kTypeDecision = "referralDecision";
// Referral extensions that hold the structured parts of a needs assessment
// and case plan; the generic "extensions" member may not use the prefix.
constexpr absl::string_view kReservedPrefix = "social.";
constexpr absl::string_view kAssessedOnKey =
    "social.needsAssessmentCompletedOn";
constexpr absl::string_view kGoalKey = "social.casePlanGoal";
// servicesGranted has no sild.v1 field: it is appended to the note after
// this marker (docs/codecs.md).
constexpr absl::string_view kGrantedMarker = "Services granted: ";

// ---------------------------------------------------------------------------
// Decode helpers.

template <typename E>
absl::StatusOr<E> OptionalEnum(const JsonObject& object, absl::string_view key,
                               const google::protobuf::EnumDescriptor* type,
                               absl::string_view prefix,
                               const std::vector<int>& allowed = {}) {
  SILD_ASSIGN_OR_RETURN(std::string token, object.String(key));
  if (token.empty()) return static_cast<E>(0);
  SILD_ASSIGN_OR_RETURN(
      int number,
      ParseEnumToken(type, prefix, token, object.PointerOf(key), allowed));
  return static_cast<E>(number);
}

template <typename E>
absl::StatusOr<E> RequiredEnum(const JsonObject& object, absl::string_view key,
                               const google::protobuf::EnumDescriptor* type,
                               absl::string_view prefix,
                               const std::vector<int>& allowed = {}) {
  SILD_ASSIGN_OR_RETURN(std::string token, object.RequiredString(key));
  SILD_ASSIGN_OR_RETURN(
      int number,
      ParseEnumToken(type, prefix, token, object.PointerOf(key), allowed));
  return static_cast<E>(number);
}

absl::StatusOr<std::optional<sild::v1::Date>> OptionalDate(
    const JsonObject& object, absl::string_view key) {
  SILD_ASSIGN_OR_RETURN(std::string text, object.String(key));
  if (text.empty()) return std::optional<sild::v1::Date>();
  SILD_ASSIGN_OR_RETURN(sild::v1::Date date,
                        ParseIsoDate(text, object.PointerOf(key)));
  return std::optional<sild::v1::Date>(date);
}

absl::Status ReadAgency(const JsonObject& object, sild::v1::AgencyRef* agency) {
  SILD_RETURN_IF_ERROR(object.AllowOnly({"registryCode", "name"}));
  SILD_ASSIGN_OR_RETURN(std::string code,
                        object.RequiredString("registryCode"));
  SILD_RETURN_IF_ERROR(
      ValidateRegistryCode(code, object.PointerOf("registryCode")));
  agency->set_registry_code(code);
  SILD_ASSIGN_OR_RETURN(std::string name, object.String("name"));
  agency->set_name(name);
  return absl::OkStatus();
}

absl::Status ReadProfessional(const JsonObject& object,
                              sild::v1::Professional* professional) {
  SILD_RETURN_IF_ERROR(
      object.AllowOnly({"id", "name", "role", "phone", "email"}));
  SILD_ASSIGN_OR_RETURN(std::string id, object.String("id"));
  SILD_ASSIGN_OR_RETURN(std::string name, object.String("name"));
  SILD_ASSIGN_OR_RETURN(std::string role, object.String("role"));
  SILD_ASSIGN_OR_RETURN(std::string phone, object.String("phone"));
  SILD_ASSIGN_OR_RETURN(std::string email, object.String("email"));
  professional->set_id(id);
  professional->set_name(name);
  professional->set_role(role);
  professional->set_phone(phone);
  professional->set_email(email);
  return absl::OkStatus();
}

absl::Status ReadPersonalCode(const JsonObject& object,
                              sild::v1::PersonIdentifier* id) {
  SILD_ASSIGN_OR_RETURN(std::string code, object.String("personalCode"));
  if (code.empty()) return absl::OkStatus();
  auto parsed = ParsePersonalCode(code, object.PointerOf("personalCode"));
  if (!parsed.ok()) return parsed.status();
  id->set_scheme(sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  id->set_value(code);
  return absl::OkStatus();
}

absl::Status ReadContact(const JsonObject& object,
                         sild::v1::ContactPoint* contact) {
  SILD_RETURN_IF_ERROR(object.AllowOnly({"phone", "email", "address"}));
  SILD_ASSIGN_OR_RETURN(std::string phone, object.String("phone"));
  SILD_ASSIGN_OR_RETURN(std::string email, object.String("email"));
  contact->set_phone(phone);
  contact->set_email(email);
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> address,
                        object.Object("address"));
  if (address) {
    SILD_RETURN_IF_ERROR(
        address->AllowOnly({"street", "settlement", "municipality", "county",
                            "postalCode", "adsOid"}));
    sild::v1::Address* out = contact->mutable_address();
    SILD_ASSIGN_OR_RETURN(*out->mutable_street(), address->String("street"));
    SILD_ASSIGN_OR_RETURN(*out->mutable_settlement(),
                          address->String("settlement"));
    SILD_ASSIGN_OR_RETURN(*out->mutable_municipality(),
                          address->String("municipality"));
    SILD_ASSIGN_OR_RETURN(*out->mutable_county(), address->String("county"));
    SILD_ASSIGN_OR_RETURN(*out->mutable_postal_code(),
                          address->String("postalCode"));
    SILD_ASSIGN_OR_RETURN(*out->mutable_ads_oid(), address->String("adsOid"));
  }
  return absl::OkStatus();
}

absl::Status ReadChild(const JsonObject& object, sild::v1::Person* person) {
  SILD_RETURN_IF_ERROR(
      object.AllowOnly({"personalCode", "givenName", "familyName", "birthDate",
                        "homeLanguage", "contact"}));
  SILD_RETURN_IF_ERROR(ReadPersonalCode(object, person->mutable_id()));
  if (person->id().value().empty()) person->clear_id();
  SILD_ASSIGN_OR_RETURN(*person->mutable_given_name(),
                        object.String("givenName"));
  SILD_ASSIGN_OR_RETURN(*person->mutable_family_name(),
                        object.String("familyName"));
  SILD_ASSIGN_OR_RETURN(std::optional<sild::v1::Date> birth,
                        OptionalDate(object, "birthDate"));
  if (birth) *person->mutable_birth_date() = *birth;
  if (!person->has_id() && (person->given_name().empty() ||
                            person->family_name().empty() || !birth)) {
    return InvalidField("MISSING_FIELD", object.PointerOf("personalCode"),
                        "the child needs personalCode, or givenName, "
                        "familyName and birthDate");
  }
  SILD_ASSIGN_OR_RETURN(*person->mutable_home_language(),
                        object.String("homeLanguage"));
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> contact,
                        object.Object("contact"));
  if (contact)
    SILD_RETURN_IF_ERROR(ReadContact(*contact, person->mutable_contact()));
  return absl::OkStatus();
}

absl::Status ReadRepresentative(const JsonObject& object,
                                sild::v1::Representative* out) {
  SILD_RETURN_IF_ERROR(
      object.AllowOnly({"personalCode", "givenName", "familyName", "relation",
                        "phone", "email"}));
  sild::v1::Person* person = out->mutable_person();
  SILD_RETURN_IF_ERROR(ReadPersonalCode(object, person->mutable_id()));
  if (person->id().value().empty()) person->clear_id();
  SILD_ASSIGN_OR_RETURN(*person->mutable_given_name(),
                        object.String("givenName"));
  SILD_ASSIGN_OR_RETURN(*person->mutable_family_name(),
                        object.String("familyName"));
  SILD_ASSIGN_OR_RETURN(std::string phone, object.String("phone"));
  SILD_ASSIGN_OR_RETURN(std::string email, object.String("email"));
  if (!phone.empty()) person->mutable_contact()->set_phone(phone);
  if (!email.empty()) person->mutable_contact()->set_email(email);
  SILD_ASSIGN_OR_RETURN(
      sild::v1::RepresentativeRelation relation,
      RequiredEnum<sild::v1::RepresentativeRelation>(
          object, "relation", sild::v1::RepresentativeRelation_descriptor(),
          "REPRESENTATIVE_RELATION_"));
  out->set_relation(relation);
  return absl::OkStatus();
}

absl::Status ReadIndicator(const JsonObject& object,
                           sild::v1::RiskIndicator* out) {
  SILD_ASSIGN_OR_RETURN(std::string type, object.RequiredString("type"));
  if (type == "ATTENDANCE") {
    SILD_RETURN_IF_ERROR(
        object.AllowOnly({"type", "schoolYear", "quarter", "lessons",
                          "unexcusedAbsences", "excusedAbsences"}));
    sild::v1::AttendanceIndicator* attendance = out->mutable_attendance();
    SILD_ASSIGN_OR_RETURN(int64_t year, object.Int("schoolYear", 1900, 2200));
    SILD_ASSIGN_OR_RETURN(int64_t quarter, object.Int("quarter", 1, 4));
    SILD_ASSIGN_OR_RETURN(int64_t lessons, object.Int("lessons", 0, 100000));
    SILD_ASSIGN_OR_RETURN(int64_t unexcused,
                          object.Int("unexcusedAbsences", 0, 100000));
    SILD_ASSIGN_OR_RETURN(int64_t excused,
                          object.Int("excusedAbsences", 0, 100000));
    attendance->set_school_year(static_cast<int32_t>(year));
    attendance->set_quarter(static_cast<int32_t>(quarter));
    attendance->set_lessons(static_cast<int32_t>(lessons));
    attendance->set_unexcused_absences(static_cast<int32_t>(unexcused));
    attendance->set_excused_absences(static_cast<int32_t>(excused));
  } else if (type == "ACADEMIC") {
    SILD_RETURN_IF_ERROR(
        object.AllowOnly({"type", "failingSubjects", "repeatingGrade"}));
    sild::v1::AcademicIndicator* academic = out->mutable_academic();
    SILD_ASSIGN_OR_RETURN(std::vector<std::string> subjects,
                          object.Strings("failingSubjects"));
    for (std::string& subject : subjects) {
      academic->add_failing_subjects(std::move(subject));
    }
    SILD_ASSIGN_OR_RETURN(bool repeating, object.Bool("repeatingGrade"));
    academic->set_repeating_grade(repeating);
  } else if (type == "BEHAVIOUR") {
    SILD_RETURN_IF_ERROR(
        object.AllowOnly({"type", "incidents", "description"}));
    sild::v1::BehaviourIndicator* behaviour = out->mutable_behaviour();
    SILD_ASSIGN_OR_RETURN(int64_t incidents, object.Int("incidents", 0, 10000));
    behaviour->set_incidents(static_cast<int32_t>(incidents));
    SILD_ASSIGN_OR_RETURN(*behaviour->mutable_description(),
                          object.String("description"));
  } else if (type == "HEALTH") {
    SILD_RETURN_IF_ERROR(object.AllowOnly({"type", "concern", "icd10Code"}));
    sild::v1::HealthIndicator* health = out->mutable_health();
    SILD_ASSIGN_OR_RETURN(*health->mutable_concern(), object.String("concern"));
    SILD_ASSIGN_OR_RETURN(*health->mutable_icd10_code(),
                          object.String("icd10Code"));
  } else if (type == "SOCIAL") {
    SILD_RETURN_IF_ERROR(
        object.AllowOnly({"type", "concern", "familyReceivesBenefits"}));
    sild::v1::SocialIndicator* social = out->mutable_social();
    SILD_ASSIGN_OR_RETURN(*social->mutable_concern(), object.String("concern"));
    SILD_ASSIGN_OR_RETURN(bool benefits, object.Bool("familyReceivesBenefits"));
    social->set_family_receives_benefits(benefits);
  } else if (type == "SPECIAL_NEEDS") {
    SILD_RETURN_IF_ERROR(object.AllowOnly({"type", "supportLevel", "need"}));
    sild::v1::SpecialNeedsIndicator* special = out->mutable_special_needs();
    SILD_ASSIGN_OR_RETURN(
        sild::v1::SupportLevel level,
        OptionalEnum<sild::v1::SupportLevel>(
            object, "supportLevel", sild::v1::SupportLevel_descriptor(),
            "SUPPORT_LEVEL_"));
    special->set_support_level(level);
    SILD_ASSIGN_OR_RETURN(*special->mutable_need(), object.String("need"));
  } else {
    return InvalidField("INVALID_VALUE", object.PointerOf("type"),
                        absl::StrCat("\"", type,
                                     "\" is not one of ATTENDANCE, ACADEMIC, "
                                     "BEHAVIOUR, HEALTH, SOCIAL, "
                                     "SPECIAL_NEEDS"));
  }
  return absl::OkStatus();
}

absl::Status ReadStage(const JsonObject& object,
                       sild::v1::EducationStage* stage) {
  SILD_RETURN_IF_ERROR(
      object.AllowOnly({"level", "iscedLevel", "grade", "curriculumCode"}));
  SILD_ASSIGN_OR_RETURN(
      sild::v1::EducationLevel level,
      OptionalEnum<sild::v1::EducationLevel>(
          object, "level", sild::v1::EducationLevel_descriptor(),
          "EDUCATION_LEVEL_"));
  stage->set_level(level);
  SILD_ASSIGN_OR_RETURN(int64_t isced, object.Int("iscedLevel", 0, 8));
  SILD_ASSIGN_OR_RETURN(int64_t grade, object.Int("grade", 0, 12));
  stage->set_isced_level(static_cast<int32_t>(isced));
  stage->set_grade(static_cast<int32_t>(grade));
  SILD_ASSIGN_OR_RETURN(*stage->mutable_curriculum_code(),
                        object.String("curriculumCode"));
  return absl::OkStatus();
}

absl::Status ReadHeader(const JsonObject& root, sild::v1::MessageKind kind,
                        Envelope* envelope, sild::v1::MessageHeader* header) {
  SILD_ASSIGN_OR_RETURN(std::string message_id, root.String("messageId"));
  SILD_ASSIGN_OR_RETURN(std::string key, root.String("idempotencyKey"));
  if (key.empty()) {
    return InvalidField("MISSING_IDEMPOTENCY_KEY",
                        root.PointerOf("idempotencyKey"),
                        "every message needs an idempotency key");
  }
  envelope->set_message_id(message_id);
  envelope->set_kind(kind);
  header->set_message_id(message_id);
  header->set_idempotency_key(key);
  header->set_kind(kind);
  SILD_ASSIGN_OR_RETURN(*header->mutable_case_id(), root.String("caseId"));
  SILD_ASSIGN_OR_RETURN(
      sild::v1::Purpose purpose,
      OptionalEnum<sild::v1::Purpose>(
          root, "purpose", sild::v1::Purpose_descriptor(), "PURPOSE_"));
  header->set_purpose(purpose);
  return absl::OkStatus();
}

// The purpose a referral serves when the document does not say.
sild::v1::Purpose DefaultPurpose(sild::v1::ServiceType service) {
  switch (service) {
    case sild::v1::SERVICE_TYPE_CHILD_PROTECTION_ASSESSMENT:
      return sild::v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION;
    case sild::v1::SERVICE_TYPE_CASE_MANAGEMENT:
      return sild::v1::PURPOSE_CASE_MANAGEMENT;
    case sild::v1::SERVICE_TYPE_HEALTH_CHECK:
    case sild::v1::SERVICE_TYPE_PSYCHIATRY:
      return sild::v1::PURPOSE_HEALTH_CARE;
    case sild::v1::SERVICE_TYPE_YOUTH_GUARANTEE:
      return sild::v1::PURPOSE_YOUTH_GUARANTEE;
    default:
      return sild::v1::PURPOSE_SUPPORT_SERVICE;
  }
}

absl::Status DecodeReferral(const JsonObject& root, Envelope* envelope) {
  SILD_RETURN_IF_ERROR(root.AllowOnly(
      {"type", "messageId", "idempotencyKey", "caseId", "purpose", "child",
       "representatives", "service", "urgency", "summary", "referredBy",
       "performer", "municipality", "currentInstitution", "educationStage",
       "respondBy", "needsAssessment", "casePlan", "extensions"}));
  sild::v1::Referral* referral = envelope->mutable_referral();
  sild::v1::MessageHeader* header = referral->mutable_header();
  SILD_RETURN_IF_ERROR(
      ReadHeader(root, sild::v1::MESSAGE_KIND_REFERRAL, envelope, header));
  SILD_ASSIGN_OR_RETURN(JsonObject child, root.RequiredObject("child"));
  SILD_RETURN_IF_ERROR(ReadChild(child, referral->mutable_subject()));
  SILD_ASSIGN_OR_RETURN(std::vector<JsonObject> representatives,
                        root.Objects("representatives"));
  for (const JsonObject& item : representatives) {
    SILD_RETURN_IF_ERROR(
        ReadRepresentative(item, referral->add_representatives()));
  }
  SILD_ASSIGN_OR_RETURN(sild::v1::ServiceType service,
                        RequiredEnum<sild::v1::ServiceType>(
                            root, "service", sild::v1::ServiceType_descriptor(),
                            "SERVICE_TYPE_"));
  referral->set_service(service);
  if (header->purpose() == sild::v1::PURPOSE_UNSPECIFIED) {
    header->set_purpose(DefaultPurpose(service));
  }
  SILD_ASSIGN_OR_RETURN(
      sild::v1::Urgency urgency,
      OptionalEnum<sild::v1::Urgency>(
          root, "urgency", sild::v1::Urgency_descriptor(), "URGENCY_"));
  referral->set_urgency(urgency);
  SILD_ASSIGN_OR_RETURN(*referral->mutable_summary(), root.String("summary"));
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> referred_by,
                        root.Object("referredBy"));
  if (referred_by) {
    SILD_RETURN_IF_ERROR(
        ReadProfessional(*referred_by, referral->mutable_requested_by()));
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> performer,
                        root.Object("performer"));
  if (performer) {
    SILD_RETURN_IF_ERROR(ReadAgency(*performer, referral->mutable_performer()));
  }
  SILD_ASSIGN_OR_RETURN(*referral->mutable_municipality(),
                        root.String("municipality"));
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> institution,
                        root.Object("currentInstitution"));
  if (institution) {
    SILD_RETURN_IF_ERROR(
        ReadAgency(*institution, referral->mutable_current_institution()));
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> stage,
                        root.Object("educationStage"));
  if (stage) {
    SILD_RETURN_IF_ERROR(
        ReadStage(*stage, referral->mutable_education_stage()));
  }
  SILD_ASSIGN_OR_RETURN(std::optional<sild::v1::Date> respond_by,
                        OptionalDate(root, "respondBy"));
  if (respond_by) *referral->mutable_respond_by() = *respond_by;

  auto& extensions = *referral->mutable_extensions();
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> assessment,
                        root.Object("needsAssessment"));
  if (assessment) {
    SILD_RETURN_IF_ERROR(assessment->AllowOnly({"completedOn", "findings"}));
    SILD_ASSIGN_OR_RETURN(std::optional<sild::v1::Date> completed,
                          OptionalDate(*assessment, "completedOn"));
    if (completed) {
      extensions[std::string(kAssessedOnKey)] = FormatIsoDate(*completed);
    }
    SILD_ASSIGN_OR_RETURN(std::vector<JsonObject> findings,
                          assessment->Objects("findings"));
    for (const JsonObject& finding : findings) {
      SILD_RETURN_IF_ERROR(
          ReadIndicator(finding, referral->add_risk_indicators()));
    }
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> plan,
                        root.Object("casePlan"));
  if (plan) {
    SILD_RETURN_IF_ERROR(plan->AllowOnly({"goal"}));
    SILD_ASSIGN_OR_RETURN(std::string goal, plan->String("goal"));
    if (!goal.empty()) extensions[std::string(kGoalKey)] = goal;
  }
  using StringMap = std::map<std::string, std::string>;
  SILD_ASSIGN_OR_RETURN(StringMap other, root.StringMap("extensions"));
  for (const auto& [key, value] : other) {
    if (absl::StartsWith(key, kReservedPrefix) || key.empty()) {
      return InvalidField(
          "INVALID_VALUE",
          absl::StrCat(root.PointerOf("extensions"), "/",
                       EscapePointerToken(key)),
          "extension names must not be empty or start with \"social.\"");
    }
    extensions[key] = value;
  }
  return absl::OkStatus();
}

absl::Status DecodeDecision(const JsonObject& root, Envelope* envelope) {
  SILD_RETURN_IF_ERROR(root.AllowOnly(
      {"type", "messageId", "idempotencyKey", "caseId", "purpose", "referralId",
       "decision", "rejectionReason", "note", "decidedAt", "decidedBy",
       "agency", "servicesGranted"}));
  sild::v1::ReferralStatusUpdate* update = envelope->mutable_status_update();
  sild::v1::MessageHeader* header = update->mutable_header();
  SILD_RETURN_IF_ERROR(ReadHeader(root, sild::v1::MESSAGE_KIND_REFERRAL_STATUS,
                                  envelope, header));
  SILD_ASSIGN_OR_RETURN(std::string referral_id,
                        root.RequiredString("referralId"));
  update->set_referral_id(referral_id);
  header->set_in_reply_to(referral_id);
  sild::v1::ReferralStatusChange* change = update->mutable_change();
  SILD_ASSIGN_OR_RETURN(
      sild::v1::ReferralStatus status,
      RequiredEnum<sild::v1::ReferralStatus>(
          root, "decision", sild::v1::ReferralStatus_descriptor(),
          "REFERRAL_STATUS_",
          {sild::v1::REFERRAL_STATUS_RECEIVED,
           sild::v1::REFERRAL_STATUS_ACCEPTED,
           sild::v1::REFERRAL_STATUS_REJECTED,
           sild::v1::REFERRAL_STATUS_IN_PROGRESS,
           sild::v1::REFERRAL_STATUS_COMPLETED,
           sild::v1::REFERRAL_STATUS_WITHDRAWN}));
  change->set_status(status);
  SILD_ASSIGN_OR_RETURN(
      sild::v1::RejectionReason reason,
      OptionalEnum<sild::v1::RejectionReason>(
          root, "rejectionReason", sild::v1::RejectionReason_descriptor(),
          "REJECTION_REASON_"));
  if (status == sild::v1::REFERRAL_STATUS_REJECTED &&
      reason == sild::v1::REJECTION_REASON_UNSPECIFIED) {
    return InvalidField("MISSING_FIELD", root.PointerOf("rejectionReason"),
                        "a REJECTED decision names its reason");
  }
  if (status != sild::v1::REFERRAL_STATUS_REJECTED &&
      reason != sild::v1::REJECTION_REASON_UNSPECIFIED) {
    return InvalidField("INVALID_VALUE", root.PointerOf("rejectionReason"),
                        "only a REJECTED decision has a rejection reason");
  }
  change->set_rejection_reason(reason);
  SILD_ASSIGN_OR_RETURN(std::string note, root.String("note"));
  SILD_ASSIGN_OR_RETURN(std::string decided_at, root.String("decidedAt"));
  if (!decided_at.empty() && !google::protobuf::util::TimeUtil::FromString(
                                 decided_at, change->mutable_time())) {
    return InvalidField(
        "INVALID_TIME", root.PointerOf("decidedAt"),
        absl::StrCat("\"", decided_at, "\" is not an RFC 3339 time"));
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> decided_by,
                        root.Object("decidedBy"));
  if (decided_by) {
    SILD_RETURN_IF_ERROR(
        ReadProfessional(*decided_by, change->mutable_professional()));
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> agency,
                        root.Object("agency"));
  if (agency) {
    SILD_RETURN_IF_ERROR(ReadAgency(*agency, change->mutable_changed_by()));
  }
  SILD_ASSIGN_OR_RETURN(std::vector<JsonObject> granted,
                        root.Objects("servicesGranted"));
  std::vector<std::string> lines;
  for (const JsonObject& item : granted) {
    SILD_RETURN_IF_ERROR(item.AllowOnly({"service", "from", "to"}));
    SILD_ASSIGN_OR_RETURN(
        sild::v1::ServiceType service,
        RequiredEnum<sild::v1::ServiceType>(item, "service",
                                            sild::v1::ServiceType_descriptor(),
                                            "SERVICE_TYPE_"));
    SILD_ASSIGN_OR_RETURN(std::optional<sild::v1::Date> from,
                          OptionalDate(item, "from"));
    SILD_ASSIGN_OR_RETURN(std::optional<sild::v1::Date> to,
                          OptionalDate(item, "to"));
    std::string line =
        EnumToken(sild::v1::ServiceType_descriptor(), "SERVICE_TYPE_", service);
    if (from || to) {
      absl::StrAppend(&line, " ", from ? FormatIsoDate(*from) : "", "..",
                      to ? FormatIsoDate(*to) : "");
    }
    lines.push_back(line);
  }
  if (!lines.empty()) {
    absl::StrAppend(&note, note.empty() ? "" : "\n", kGrantedMarker,
                    absl::StrJoin(lines, "; "));
  }
  change->set_note(note);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Encode helpers: members are written only when set.

void Put(ordered_json& object, const char* key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

ordered_json AgencyJson(const sild::v1::AgencyRef& agency) {
  ordered_json out = ordered_json::object();
  Put(out, "registryCode", agency.registry_code());
  Put(out, "name", agency.name());
  return out;
}

ordered_json ProfessionalJson(const sild::v1::Professional& professional) {
  ordered_json out = ordered_json::object();
  Put(out, "id", professional.id());
  Put(out, "name", professional.name());
  Put(out, "role", professional.role());
  Put(out, "phone", professional.phone());
  Put(out, "email", professional.email());
  return out;
}

void PutIfNotEmpty(ordered_json& object, const char* key, ordered_json value) {
  if (!value.empty()) object[key] = std::move(value);
}

std::string PersonalCodeOf(const sild::v1::Person& person) {
  return person.id().scheme() == sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE
             ? person.id().value()
             : std::string();
}

ordered_json ChildJson(const sild::v1::Person& person) {
  ordered_json out = ordered_json::object();
  Put(out, "personalCode", PersonalCodeOf(person));
  Put(out, "givenName", person.given_name());
  Put(out, "familyName", person.family_name());
  if (person.has_birth_date()) {
    out["birthDate"] = FormatIsoDate(person.birth_date());
  }
  Put(out, "homeLanguage", person.home_language());
  if (person.has_contact()) {
    const sild::v1::ContactPoint& contact = person.contact();
    ordered_json json_contact = ordered_json::object();
    Put(json_contact, "phone", contact.phone());
    Put(json_contact, "email", contact.email());
    if (contact.has_address()) {
      const sild::v1::Address& address = contact.address();
      ordered_json json_address = ordered_json::object();
      Put(json_address, "street", address.street());
      Put(json_address, "settlement", address.settlement());
      Put(json_address, "municipality", address.municipality());
      Put(json_address, "county", address.county());
      Put(json_address, "postalCode", address.postal_code());
      Put(json_address, "adsOid", address.ads_oid());
      PutIfNotEmpty(json_contact, "address", std::move(json_address));
    }
    PutIfNotEmpty(out, "contact", std::move(json_contact));
  }
  return out;
}

ordered_json IndicatorJson(const sild::v1::RiskIndicator& indicator) {
  ordered_json out = ordered_json::object();
  switch (indicator.detail_case()) {
    case sild::v1::RiskIndicator::kAttendance: {
      const auto& in = indicator.attendance();
      out["type"] = "ATTENDANCE";
      if (in.school_year() != 0) out["schoolYear"] = in.school_year();
      if (in.quarter() != 0) out["quarter"] = in.quarter();
      out["lessons"] = in.lessons();
      out["unexcusedAbsences"] = in.unexcused_absences();
      out["excusedAbsences"] = in.excused_absences();
      break;
    }
    case sild::v1::RiskIndicator::kAcademic: {
      const auto& in = indicator.academic();
      out["type"] = "ACADEMIC";
      out["failingSubjects"] = ordered_json::array();
      for (const std::string& subject : in.failing_subjects()) {
        out["failingSubjects"].push_back(subject);
      }
      out["repeatingGrade"] = in.repeating_grade();
      break;
    }
    case sild::v1::RiskIndicator::kBehaviour:
      out["type"] = "BEHAVIOUR";
      out["incidents"] = indicator.behaviour().incidents();
      Put(out, "description", indicator.behaviour().description());
      break;
    case sild::v1::RiskIndicator::kHealth:
      out["type"] = "HEALTH";
      Put(out, "concern", indicator.health().concern());
      Put(out, "icd10Code", indicator.health().icd10_code());
      break;
    case sild::v1::RiskIndicator::kSocial:
      out["type"] = "SOCIAL";
      Put(out, "concern", indicator.social().concern());
      out["familyReceivesBenefits"] =
          indicator.social().family_receives_benefits();
      break;
    case sild::v1::RiskIndicator::kSpecialNeeds:
      out["type"] = "SPECIAL_NEEDS";
      Put(out, "supportLevel",
          EnumToken(sild::v1::SupportLevel_descriptor(), "SUPPORT_LEVEL_",
                    indicator.special_needs().support_level()));
      Put(out, "need", indicator.special_needs().need());
      break;
    case sild::v1::RiskIndicator::DETAIL_NOT_SET:
      break;
  }
  return out;
}

void PutHeader(const Envelope& envelope, const sild::v1::MessageHeader& header,
               absl::string_view type, ordered_json& out) {
  out["type"] = std::string(type);
  Put(out, "messageId",
      envelope.message_id().empty() ? header.message_id()
                                    : envelope.message_id());
  Put(out, "idempotencyKey", header.idempotency_key());
  Put(out, "caseId", header.case_id());
  Put(out, "purpose",
      EnumToken(sild::v1::Purpose_descriptor(), "PURPOSE_", header.purpose()));
}

ordered_json EncodeReferral(const Envelope& envelope) {
  const sild::v1::Referral& in = envelope.referral();
  ordered_json out = ordered_json::object();
  PutHeader(envelope, in.header(), kTypeReferral, out);
  out["child"] = ChildJson(in.subject());
  if (in.representatives_size() > 0) {
    ordered_json list = ordered_json::array();
    for (const sild::v1::Representative& rep : in.representatives()) {
      ordered_json item = ordered_json::object();
      Put(item, "personalCode", PersonalCodeOf(rep.person()));
      Put(item, "givenName", rep.person().given_name());
      Put(item, "familyName", rep.person().family_name());
      Put(item, "relation",
          EnumToken(sild::v1::RepresentativeRelation_descriptor(),
                    "REPRESENTATIVE_RELATION_", rep.relation()));
      Put(item, "phone", rep.person().contact().phone());
      Put(item, "email", rep.person().contact().email());
      list.push_back(std::move(item));
    }
    out["representatives"] = std::move(list);
  }
  Put(out, "service",
      EnumToken(sild::v1::ServiceType_descriptor(), "SERVICE_TYPE_",
                in.service()));
  Put(out, "urgency",
      EnumToken(sild::v1::Urgency_descriptor(), "URGENCY_", in.urgency()));
  Put(out, "summary", in.summary());
  PutIfNotEmpty(out, "referredBy", ProfessionalJson(in.requested_by()));
  PutIfNotEmpty(out, "performer", AgencyJson(in.performer()));
  Put(out, "municipality", in.municipality());
  PutIfNotEmpty(out, "currentInstitution",
                AgencyJson(in.current_institution()));
  if (in.has_education_stage()) {
    const sild::v1::EducationStage& stage = in.education_stage();
    ordered_json json_stage = ordered_json::object();
    Put(json_stage, "level",
        EnumToken(sild::v1::EducationLevel_descriptor(), "EDUCATION_LEVEL_",
                  stage.level()));
    if (stage.level() != sild::v1::EDUCATION_LEVEL_UNSPECIFIED ||
        stage.isced_level() != 0) {
      json_stage["iscedLevel"] = stage.isced_level();
    }
    if (stage.grade() != 0) json_stage["grade"] = stage.grade();
    Put(json_stage, "curriculumCode", stage.curriculum_code());
    PutIfNotEmpty(out, "educationStage", std::move(json_stage));
  }
  if (in.has_respond_by()) out["respondBy"] = FormatIsoDate(in.respond_by());

  ordered_json assessment = ordered_json::object();
  auto completed = in.extensions().find(std::string(kAssessedOnKey));
  if (completed != in.extensions().end()) {
    assessment["completedOn"] = completed->second;
  }
  if (in.risk_indicators_size() > 0) {
    ordered_json findings = ordered_json::array();
    for (const sild::v1::RiskIndicator& indicator : in.risk_indicators()) {
      ordered_json item = IndicatorJson(indicator);
      if (!item.empty()) findings.push_back(std::move(item));
    }
    assessment["findings"] = std::move(findings);
  }
  PutIfNotEmpty(out, "needsAssessment", std::move(assessment));
  auto goal = in.extensions().find(std::string(kGoalKey));
  if (goal != in.extensions().end()) out["casePlan"] = {{"goal", goal->second}};
  // Map order is unspecified: write extensions sorted by name.
  std::map<std::string, std::string> other;
  for (const auto& [key, value] : in.extensions()) {
    if (!absl::StartsWith(key, kReservedPrefix) && !key.empty()) {
      other[key] = value;
    }
  }
  if (!other.empty()) {
    ordered_json extensions = ordered_json::object();
    for (const auto& [key, value] : other) extensions[key] = value;
    out["extensions"] = std::move(extensions);
  }
  return out;
}

ordered_json EncodeDecision(const Envelope& envelope) {
  const sild::v1::ReferralStatusUpdate& in = envelope.status_update();
  ordered_json out = ordered_json::object();
  PutHeader(envelope, in.header(), kTypeDecision, out);
  Put(out, "referralId",
      in.referral_id().empty() ? in.header().in_reply_to() : in.referral_id());
  const sild::v1::ReferralStatusChange& change = in.change();
  Put(out, "decision",
      EnumToken(sild::v1::ReferralStatus_descriptor(), "REFERRAL_STATUS_",
                change.status()));
  Put(out, "rejectionReason",
      EnumToken(sild::v1::RejectionReason_descriptor(), "REJECTION_REASON_",
                change.rejection_reason()));
  Put(out, "note", change.note());
  if (change.has_time()) {
    out["decidedAt"] =
        google::protobuf::util::TimeUtil::ToString(change.time());
  }
  PutIfNotEmpty(out, "decidedBy", ProfessionalJson(change.professional()));
  PutIfNotEmpty(out, "agency", AgencyJson(change.changed_by()));
  return out;
}

}  // namespace

SocialJsonCodec::SocialJsonCodec(
    const sild::connectors::v1::SocialCodecConfig& config)
    : pretty_(config.pretty()) {
  limits_.max_bytes =
      config.max_bytes() == 0 ? kDefaultMaxBytes : config.max_bytes();
  limits_.max_depth = config.max_depth() == 0
                          ? kDefaultMaxDepth
                          : static_cast<int>(config.max_depth());
}

absl::StatusOr<Envelope> SocialJsonCodec::Decode(
    absl::string_view native) const {
  SILD_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJsonLimited(native, limits_));
  JsonObject root(&doc, "");
  SILD_ASSIGN_OR_RETURN(std::string type, root.RequiredString("type"));
  Envelope envelope;
  if (type == kTypeReferral) {
    SILD_RETURN_IF_ERROR(DecodeReferral(root, &envelope));
  } else if (type == kTypeDecision) {
    SILD_RETURN_IF_ERROR(DecodeDecision(root, &envelope));
  } else {
    return InvalidField("INVALID_VALUE", "/type",
                        absl::StrCat("\"", type,
                                     "\" is not one of referral, "
                                     "referralDecision"));
  }
  return envelope;
}

absl::StatusOr<std::string> SocialJsonCodec::Encode(
    const Envelope& envelope) const {
  ordered_json out;
  switch (envelope.body_case()) {
    case Envelope::kReferral:
      out = EncodeReferral(envelope);
      break;
    case Envelope::kStatusUpdate:
      out = EncodeDecision(envelope);
      break;
    default:
      return InvalidField("UNSUPPORTED_KIND", "kind",
                          "social-json carries referrals and referral "
                          "decisions");
  }
  // Strings from protobuf are UTF-8; DumpJson keeps a damaged one from
  // throwing.
  return DumpJson(out, pretty_) + (pretty_ ? "\n" : "");
}

absl::StatusOr<std::unique_ptr<SocialJsonCodec>> SocialJsonCodec::Create(
    const sild::connectors::v1::SocialCodecConfig& config) {
  if (config.max_depth() > 1000) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "max_depth",
                        "at most 1000");
  }
  return std::make_unique<SocialJsonCodec>(config);
}

namespace {

using SocialJsonCodecFactory =
    TypedCodecFactory<SocialJsonCodec::kName,
                      sild::connectors::v1::SocialCodecConfig, SocialJsonCodec>;

SILD_REGISTER_CODEC_FACTORY(SocialJsonCodecFactory);

}  // namespace
}  // namespace sild::connectors
