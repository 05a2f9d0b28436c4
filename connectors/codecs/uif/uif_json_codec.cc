#include "connectors/codecs/uif/uif_json_codec.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "connectors/sdk/json_fields.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"
#include "sild/v1/referral.pb.h"
#include "sild/v1/transition.pb.h"

namespace sild::connectors {
namespace {

using nlohmann::ordered_json;
using sild::v1::Envelope;

constexpr size_t kDefaultMaxBytes = 1024 * 1024;
constexpr int kDefaultMaxDepth = 16;
constexpr absl::string_view kTypeReferral = "YOUTH_GUARANTEE_REFERRAL";
constexpr absl::string_view kTypeHistory = "STUDY_HISTORY";
constexpr absl::string_view kEscoPrefix =
    "http://data.europa.eu/esco/occupation/";
// Referral extensions for what sild.v1.Referral has no field for.
constexpr absl::string_view kOccupationsKey = "uif.escoOccupations";
constexpr absl::string_view kLeavingReasonKey = "uif.leavingReason";
constexpr absl::string_view kStudyEndKey = "uif.studyEndDate";

// The Fund's study levels, their sild.v1 level and the ISCED 2011 levels they
// may carry (the first is the default).
struct StudyLevel {
  absl::string_view native;
  sild::v1::EducationLevel level;
  std::vector<int> isced;
};

const std::vector<StudyLevel>& StudyLevels() {
  static const auto* levels = new std::vector<StudyLevel>{
      {"PRE_PRIMARY", sild::v1::EDUCATION_LEVEL_PRE_PRIMARY, {0}},
      {"PRIMARY", sild::v1::EDUCATION_LEVEL_BASIC_GRADES_1_6, {1}},
      {"BASIC", sild::v1::EDUCATION_LEVEL_BASIC_GRADES_7_9, {2}},
      {"GENERAL_SECONDARY",
       sild::v1::EDUCATION_LEVEL_GENERAL_UPPER_SECONDARY,
       {3}},
      {"VOCATIONAL_2", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_2, {2}},
      {"VOCATIONAL_3", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_3, {3}},
      {"VOCATIONAL_4", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_4, {3, 4}},
      {"VOCATIONAL_5", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_5, {4, 5}},
      {"BACHELOR", sild::v1::EDUCATION_LEVEL_HIGHER_BACHELOR, {6}},
      {"MASTER", sild::v1::EDUCATION_LEVEL_HIGHER_MASTER, {7}},
      {"DOCTORAL", sild::v1::EDUCATION_LEVEL_HIGHER_DOCTORAL, {8}},
  };
  return *levels;
}

const StudyLevel* FindLevel(sild::v1::EducationLevel level) {
  for (const StudyLevel& entry : StudyLevels()) {
    if (entry.level == level) return &entry;
  }
  return nullptr;
}

// What the codec reads from one study period.
struct Period {
  sild::v1::AgencyRef institution;
  sild::v1::EducationStage stage;
  std::optional<sild::v1::Date> start;
  std::optional<sild::v1::Date> end;
  sild::v1::LeavingReason leaving_reason = sild::v1::LEAVING_REASON_UNSPECIFIED;
  std::string pointer;
};

absl::StatusOr<std::optional<sild::v1::Date>> OptionalDate(
    const JsonObject& object, absl::string_view key) {
  SILD_ASSIGN_OR_RETURN(std::string text, object.String(key));
  if (text.empty()) return std::optional<sild::v1::Date>();
  SILD_ASSIGN_OR_RETURN(sild::v1::Date date,
                        ParseDottedDate(text, object.PointerOf(key)));
  return std::optional<sild::v1::Date>(date);
}

bool Before(const sild::v1::Date& a, const sild::v1::Date& b) {
  return std::make_tuple(a.year(), a.month(), a.day()) <
         std::make_tuple(b.year(), b.month(), b.day());
}

absl::Status ReadAgency(const JsonObject& object, sild::v1::AgencyRef* agency) {
  SILD_RETURN_IF_ERROR(object.AllowOnly({"registryCode", "name"}));
  SILD_ASSIGN_OR_RETURN(std::string code,
                        object.RequiredString("registryCode"));
  SILD_RETURN_IF_ERROR(
      ValidateRegistryCode(code, object.PointerOf("registryCode")));
  agency->set_registry_code(code);
  SILD_ASSIGN_OR_RETURN(*agency->mutable_name(), object.String("name"));
  return absl::OkStatus();
}

absl::Status ReadProfessional(const JsonObject& object,
                              sild::v1::Professional* professional) {
  SILD_RETURN_IF_ERROR(
      object.AllowOnly({"id", "name", "role", "phone", "email"}));
  SILD_ASSIGN_OR_RETURN(*professional->mutable_id(), object.String("id"));
  SILD_ASSIGN_OR_RETURN(*professional->mutable_name(), object.String("name"));
  SILD_ASSIGN_OR_RETURN(*professional->mutable_role(), object.String("role"));
  SILD_ASSIGN_OR_RETURN(*professional->mutable_phone(), object.String("phone"));
  SILD_ASSIGN_OR_RETURN(*professional->mutable_email(), object.String("email"));
  return absl::OkStatus();
}

absl::Status ReadPerson(const JsonObject& root, sild::v1::Person* person) {
  SILD_ASSIGN_OR_RETURN(JsonObject object, root.RequiredObject("person"));
  SILD_RETURN_IF_ERROR(
      object.AllowOnly({"personalCode", "firstName", "lastName", "birthDate"}));
  SILD_ASSIGN_OR_RETURN(std::string code, object.String("personalCode"));
  if (!code.empty()) {
    auto parsed = ParsePersonalCode(code, object.PointerOf("personalCode"));
    if (!parsed.ok()) return parsed.status();
    person->mutable_id()->set_scheme(
        sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    person->mutable_id()->set_value(code);
  }
  SILD_ASSIGN_OR_RETURN(*person->mutable_given_name(),
                        object.String("firstName"));
  SILD_ASSIGN_OR_RETURN(*person->mutable_family_name(),
                        object.String("lastName"));
  SILD_ASSIGN_OR_RETURN(std::optional<sild::v1::Date> birth,
                        OptionalDate(object, "birthDate"));
  if (birth) *person->mutable_birth_date() = *birth;
  if (code.empty() && (person->given_name().empty() ||
                       person->family_name().empty() || !birth)) {
    return InvalidField("MISSING_FIELD", object.PointerOf("personalCode"),
                        "the young person needs personalCode, or firstName, "
                        "lastName and birthDate");
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> contact,
                        root.Object("contact"));
  if (contact) {
    SILD_RETURN_IF_ERROR(contact->AllowOnly({"phone", "email", "address"}));
    sild::v1::ContactPoint* out = person->mutable_contact();
    SILD_ASSIGN_OR_RETURN(*out->mutable_phone(), contact->String("phone"));
    SILD_ASSIGN_OR_RETURN(*out->mutable_email(), contact->String("email"));
    SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> address,
                          contact->Object("address"));
    if (address) {
      SILD_RETURN_IF_ERROR(address->AllowOnly(
          {"street", "settlement", "municipality", "county", "postalCode"}));
      sild::v1::Address* a = out->mutable_address();
      SILD_ASSIGN_OR_RETURN(*a->mutable_street(), address->String("street"));
      SILD_ASSIGN_OR_RETURN(*a->mutable_settlement(),
                            address->String("settlement"));
      SILD_ASSIGN_OR_RETURN(*a->mutable_municipality(),
                            address->String("municipality"));
      SILD_ASSIGN_OR_RETURN(*a->mutable_county(), address->String("county"));
      SILD_ASSIGN_OR_RETURN(*a->mutable_postal_code(),
                            address->String("postalCode"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Period> ReadPeriod(const JsonObject& object) {
  SILD_RETURN_IF_ERROR(object.AllowOnly(
      {"institutionRegistryCode", "institutionName", "studyLevel", "isced",
       "curriculumCode", "startDate", "endDate", "leavingReason"}));
  Period period;
  period.pointer = object.pointer();
  SILD_ASSIGN_OR_RETURN(std::string code,
                        object.String("institutionRegistryCode"));
  if (!code.empty()) {
    SILD_RETURN_IF_ERROR(ValidateRegistryCode(
        code, object.PointerOf("institutionRegistryCode")));
    period.institution.set_registry_code(code);
  }
  SILD_ASSIGN_OR_RETURN(*period.institution.mutable_name(),
                        object.String("institutionName"));
  SILD_ASSIGN_OR_RETURN(std::string level, object.String("studyLevel"));
  if (!level.empty()) {
    const StudyLevel* found = nullptr;
    for (const StudyLevel& entry : StudyLevels()) {
      if (entry.native == level) found = &entry;
    }
    if (found == nullptr) {
      std::string expected;
      for (const StudyLevel& entry : StudyLevels()) {
        absl::StrAppend(&expected, expected.empty() ? "" : ", ", entry.native);
      }
      return InvalidField(
          "INVALID_VALUE", object.PointerOf("studyLevel"),
          absl::StrCat("\"", level, "\" is not one of ", expected));
    }
    period.stage.set_level(found->level);
    int isced = found->isced.front();
    if (object.Has("isced")) {
      SILD_ASSIGN_OR_RETURN(int64_t given, object.Int("isced", 0, 8));
      if (std::find(found->isced.begin(), found->isced.end(), given) ==
          found->isced.end()) {
        return InvalidField(
            "INVALID_VALUE", object.PointerOf("isced"),
            absl::StrCat("ISCED ", given, " does not fit study level ", level,
                         " (", absl::StrJoin(found->isced, " or "), ")"));
      }
      isced = static_cast<int>(given);
    }
    period.stage.set_isced_level(isced);
  } else if (object.Has("isced")) {
    return InvalidField("MISSING_FIELD", object.PointerOf("studyLevel"),
                        "an ISCED level needs the study level");
  }
  SILD_ASSIGN_OR_RETURN(*period.stage.mutable_curriculum_code(),
                        object.String("curriculumCode"));
  SILD_ASSIGN_OR_RETURN(period.start, OptionalDate(object, "startDate"));
  SILD_ASSIGN_OR_RETURN(period.end, OptionalDate(object, "endDate"));
  if (period.start && period.end && Before(*period.end, *period.start)) {
    return InvalidField("INVALID_RANGE", object.PointerOf("endDate"),
                        "a study period cannot end before it starts");
  }
  SILD_ASSIGN_OR_RETURN(std::string reason, object.String("leavingReason"));
  if (!reason.empty()) {
    SILD_ASSIGN_OR_RETURN(
        int number,
        ParseEnumToken(sild::v1::LeavingReason_descriptor(), "LEAVING_REASON_",
                       reason, object.PointerOf("leavingReason")));
    period.leaving_reason = static_cast<sild::v1::LeavingReason>(number);
  }
  return period;
}

bool HasStage(const sild::v1::EducationStage& stage) {
  return stage.level() != sild::v1::EDUCATION_LEVEL_UNSPECIFIED ||
         !stage.curriculum_code().empty();
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
  SILD_ASSIGN_OR_RETURN(std::string purpose, root.String("purpose"));
  header->set_purpose(sild::v1::PURPOSE_YOUTH_GUARANTEE);
  if (!purpose.empty()) {
    SILD_ASSIGN_OR_RETURN(
        int number, ParseEnumToken(sild::v1::Purpose_descriptor(), "PURPOSE_",
                                   purpose, root.PointerOf("purpose")));
    header->set_purpose(static_cast<sild::v1::Purpose>(number));
  }
  return absl::OkStatus();
}

// The periods, oldest first; the last is the latest.
absl::StatusOr<std::vector<Period>> ReadPeriods(const JsonObject& root) {
  SILD_ASSIGN_OR_RETURN(std::vector<JsonObject> items,
                        root.Objects("studyPeriods"));
  std::vector<Period> periods;
  for (const JsonObject& item : items) {
    SILD_ASSIGN_OR_RETURN(Period period, ReadPeriod(item));
    periods.push_back(std::move(period));
  }
  return periods;
}

absl::Status DecodeReferral(const JsonObject& root, Envelope* envelope) {
  SILD_RETURN_IF_ERROR(root.AllowOnly(
      {"documentType", "messageId", "idempotencyKey", "caseId", "purpose",
       "person", "contact", "reason", "studyPeriods", "service",
       "lastInstitution", "occupations", "contactPerson", "performer",
       "municipality", "urgency", "respondBy"}));
  sild::v1::Referral* referral = envelope->mutable_referral();
  SILD_RETURN_IF_ERROR(ReadHeader(root, sild::v1::MESSAGE_KIND_REFERRAL,
                                  envelope, referral->mutable_header()));
  SILD_RETURN_IF_ERROR(ReadPerson(root, referral->mutable_subject()));
  SILD_ASSIGN_OR_RETURN(std::string service, root.RequiredString("service"));
  SILD_ASSIGN_OR_RETURN(
      int number,
      ParseEnumToken(sild::v1::ServiceType_descriptor(), "SERVICE_TYPE_",
                     service, root.PointerOf("service"),
                     {sild::v1::SERVICE_TYPE_YOUTH_GUARANTEE,
                      sild::v1::SERVICE_TYPE_CAREER_COUNSELLING}));
  referral->set_service(static_cast<sild::v1::ServiceType>(number));
  SILD_ASSIGN_OR_RETURN(*referral->mutable_summary(), root.String("reason"));
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> last,
                        root.Object("lastInstitution"));
  if (last) {
    SILD_RETURN_IF_ERROR(
        ReadAgency(*last, referral->mutable_current_institution()));
  }
  auto& extensions = *referral->mutable_extensions();
  SILD_ASSIGN_OR_RETURN(std::vector<Period> periods, ReadPeriods(root));
  if (!periods.empty()) {
    const Period& latest = periods.back();
    if (HasStage(latest.stage)) {
      *referral->mutable_education_stage() = latest.stage;
    }
    if (latest.leaving_reason != sild::v1::LEAVING_REASON_UNSPECIFIED) {
      extensions[std::string(kLeavingReasonKey)] =
          EnumToken(sild::v1::LeavingReason_descriptor(), "LEAVING_REASON_",
                    latest.leaving_reason);
    }
    if (latest.end) {
      extensions[std::string(kStudyEndKey)] = FormatDottedDate(*latest.end);
    }
  }
  SILD_ASSIGN_OR_RETURN(std::vector<std::string> occupations,
                        root.Strings("occupations"));
  for (size_t i = 0; i < occupations.size(); ++i) {
    if (!IsEscoOccupationUri(occupations[i])) {
      return InvalidField("INVALID_ESCO_URI",
                          absl::StrCat(root.PointerOf("occupations"), "/", i),
                          absl::StrCat("\"", occupations[i], "\" is not ",
                                       kEscoPrefix, "<uuid>"));
    }
  }
  if (!occupations.empty()) {
    extensions[std::string(kOccupationsKey)] = absl::StrJoin(occupations, " ");
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> contact_person,
                        root.Object("contactPerson"));
  if (contact_person) {
    SILD_RETURN_IF_ERROR(
        ReadProfessional(*contact_person, referral->mutable_requested_by()));
  }
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> performer,
                        root.Object("performer"));
  if (performer) {
    SILD_RETURN_IF_ERROR(ReadAgency(*performer, referral->mutable_performer()));
  }
  SILD_ASSIGN_OR_RETURN(*referral->mutable_municipality(),
                        root.String("municipality"));
  SILD_ASSIGN_OR_RETURN(std::string urgency, root.String("urgency"));
  if (!urgency.empty()) {
    SILD_ASSIGN_OR_RETURN(
        int value, ParseEnumToken(sild::v1::Urgency_descriptor(), "URGENCY_",
                                  urgency, root.PointerOf("urgency")));
    referral->set_urgency(static_cast<sild::v1::Urgency>(value));
  }
  SILD_ASSIGN_OR_RETURN(std::optional<sild::v1::Date> respond_by,
                        OptionalDate(root, "respondBy"));
  if (respond_by) *referral->mutable_respond_by() = *respond_by;
  return absl::OkStatus();
}

absl::Status DecodeHistory(const JsonObject& root,
                           const std::string& fund_registry_code,
                           Envelope* envelope) {
  SILD_RETURN_IF_ERROR(root.AllowOnly(
      {"documentType", "messageId", "idempotencyKey", "caseId", "purpose",
       "person", "contact", "reason", "studyPeriods", "contactPerson"}));
  sild::v1::Transition* transition = envelope->mutable_transition();
  SILD_RETURN_IF_ERROR(ReadHeader(root, sild::v1::MESSAGE_KIND_TRANSITION,
                                  envelope, transition->mutable_header()));
  SILD_RETURN_IF_ERROR(ReadPerson(root, transition->mutable_subject()));
  SILD_ASSIGN_OR_RETURN(std::vector<Period> periods, ReadPeriods(root));
  if (periods.empty()) {
    return InvalidField("MISSING_FIELD", root.PointerOf("studyPeriods"),
                        "a study history has at least one period");
  }
  const Period& latest = periods.back();
  if (latest.institution.registry_code().empty()) {
    return InvalidField(
        "MISSING_FIELD",
        absl::StrCat(latest.pointer, "/institutionRegistryCode"),
        "the latest period names its institution");
  }
  if (!latest.end) {
    return InvalidField("MISSING_FIELD",
                        absl::StrCat(latest.pointer, "/endDate"),
                        "the latest period of a study history has ended");
  }
  if (latest.leaving_reason == sild::v1::LEAVING_REASON_UNSPECIFIED) {
    return InvalidField("MISSING_FIELD",
                        absl::StrCat(latest.pointer, "/leavingReason"),
                        "the latest period says why it ended");
  }
  *transition->mutable_from_institution() = latest.institution;
  if (HasStage(latest.stage)) {
    *transition->mutable_from_stage() = latest.stage;
  }
  *transition->mutable_effective_date() = *latest.end;
  transition->set_leaving_reason(latest.leaving_reason);
  sild::v1::AgencyRef* fund = transition->mutable_to_institution();
  fund->set_kind(sild::v1::AGENCY_KIND_UNEMPLOYMENT_INSURANCE_FUND);
  fund->set_registry_code(fund_registry_code);
  SILD_ASSIGN_OR_RETURN(*transition->mutable_summary(), root.String("reason"));
  SILD_ASSIGN_OR_RETURN(std::optional<JsonObject> contact_person,
                        root.Object("contactPerson"));
  if (contact_person) {
    SILD_RETURN_IF_ERROR(ReadProfessional(
        *contact_person, transition->mutable_handed_over_by()));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Encode.

void Put(ordered_json& object, const char* key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

void PutIfNotEmpty(ordered_json& object, const char* key, ordered_json value) {
  if (!value.empty()) object[key] = std::move(value);
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

void PutHeader(const Envelope& envelope, const sild::v1::MessageHeader& header,
               absl::string_view type, ordered_json& out) {
  out["documentType"] = std::string(type);
  Put(out, "messageId",
      envelope.message_id().empty() ? header.message_id()
                                    : envelope.message_id());
  Put(out, "idempotencyKey", header.idempotency_key());
  Put(out, "caseId", header.case_id());
  Put(out, "purpose",
      EnumToken(sild::v1::Purpose_descriptor(), "PURPOSE_", header.purpose()));
}

void PutPerson(const sild::v1::Person& person, ordered_json& out) {
  ordered_json json_person = ordered_json::object();
  if (person.id().scheme() == sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE) {
    Put(json_person, "personalCode", person.id().value());
  }
  Put(json_person, "firstName", person.given_name());
  Put(json_person, "lastName", person.family_name());
  if (person.has_birth_date()) {
    json_person["birthDate"] = FormatDottedDate(person.birth_date());
  }
  out["person"] = std::move(json_person);
  const sild::v1::ContactPoint& contact = person.contact();
  ordered_json json_contact = ordered_json::object();
  Put(json_contact, "phone", contact.phone());
  Put(json_contact, "email", contact.email());
  ordered_json address = ordered_json::object();
  Put(address, "street", contact.address().street());
  Put(address, "settlement", contact.address().settlement());
  Put(address, "municipality", contact.address().municipality());
  Put(address, "county", contact.address().county());
  Put(address, "postalCode", contact.address().postal_code());
  PutIfNotEmpty(json_contact, "address", std::move(address));
  PutIfNotEmpty(out, "contact", std::move(json_contact));
}

void PutStage(const sild::v1::EducationStage& stage, ordered_json& period) {
  const StudyLevel* level = FindLevel(stage.level());
  if (level != nullptr) {
    period["studyLevel"] = std::string(level->native);
    const bool fits = std::find(level->isced.begin(), level->isced.end(),
                                stage.isced_level()) != level->isced.end();
    period["isced"] = fits ? stage.isced_level() : level->isced.front();
  }
  Put(period, "curriculumCode", stage.curriculum_code());
}

ordered_json EncodeReferral(const Envelope& envelope) {
  const sild::v1::Referral& in = envelope.referral();
  ordered_json out = ordered_json::object();
  PutHeader(envelope, in.header(), kTypeReferral, out);
  PutPerson(in.subject(), out);
  Put(out, "reason", in.summary());
  ordered_json period = ordered_json::object();
  PutStage(in.education_stage(), period);
  auto end = in.extensions().find(std::string(kStudyEndKey));
  if (end != in.extensions().end()) Put(period, "endDate", end->second);
  auto reason = in.extensions().find(std::string(kLeavingReasonKey));
  if (reason != in.extensions().end()) {
    Put(period, "leavingReason", reason->second);
  }
  if (!period.empty()) out["studyPeriods"] = ordered_json::array({period});
  Put(out, "service",
      EnumToken(sild::v1::ServiceType_descriptor(), "SERVICE_TYPE_",
                in.service()));
  PutIfNotEmpty(out, "lastInstitution", AgencyJson(in.current_institution()));
  auto occupations = in.extensions().find(std::string(kOccupationsKey));
  if (occupations != in.extensions().end()) {
    ordered_json list = ordered_json::array();
    for (absl::string_view uri :
         absl::StrSplit(occupations->second, ' ', absl::SkipEmpty())) {
      list.push_back(std::string(uri));
    }
    PutIfNotEmpty(out, "occupations", std::move(list));
  }
  PutIfNotEmpty(out, "contactPerson", ProfessionalJson(in.requested_by()));
  PutIfNotEmpty(out, "performer", AgencyJson(in.performer()));
  Put(out, "municipality", in.municipality());
  Put(out, "urgency",
      EnumToken(sild::v1::Urgency_descriptor(), "URGENCY_", in.urgency()));
  if (in.has_respond_by()) out["respondBy"] = FormatDottedDate(in.respond_by());
  return out;
}

ordered_json EncodeHistory(const Envelope& envelope) {
  const sild::v1::Transition& in = envelope.transition();
  ordered_json out = ordered_json::object();
  PutHeader(envelope, in.header(), kTypeHistory, out);
  PutPerson(in.subject(), out);
  Put(out, "reason", in.summary());
  ordered_json period = ordered_json::object();
  Put(period, "institutionRegistryCode", in.from_institution().registry_code());
  Put(period, "institutionName", in.from_institution().name());
  PutStage(in.from_stage(), period);
  if (in.has_effective_date()) {
    period["endDate"] = FormatDottedDate(in.effective_date());
  }
  Put(period, "leavingReason",
      EnumToken(sild::v1::LeavingReason_descriptor(), "LEAVING_REASON_",
                in.leaving_reason()));
  if (!period.empty()) out["studyPeriods"] = ordered_json::array({period});
  PutIfNotEmpty(out, "contactPerson", ProfessionalJson(in.handed_over_by()));
  return out;
}

}  // namespace

bool IsEscoOccupationUri(absl::string_view uri) {
  if (!absl::ConsumePrefix(&uri, kEscoPrefix) || uri.size() != 36) {
    return false;
  }
  for (size_t i = 0; i < uri.size(); ++i) {
    const char c = uri[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
               !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

UifJsonCodec::UifJsonCodec(const sild::connectors::v1::UifCodecConfig& config)
    : pretty_(config.pretty()),
      fund_registry_code_(config.fund_registry_code()) {
  limits_.max_bytes =
      config.max_bytes() == 0 ? kDefaultMaxBytes : config.max_bytes();
  limits_.max_depth = config.max_depth() == 0
                          ? kDefaultMaxDepth
                          : static_cast<int>(config.max_depth());
}

absl::StatusOr<Envelope> UifJsonCodec::Decode(absl::string_view native) const {
  SILD_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJsonLimited(native, limits_));
  JsonObject root(&doc, "");
  SILD_ASSIGN_OR_RETURN(std::string type, root.RequiredString("documentType"));
  Envelope envelope;
  if (type == kTypeReferral) {
    SILD_RETURN_IF_ERROR(DecodeReferral(root, &envelope));
  } else if (type == kTypeHistory) {
    SILD_RETURN_IF_ERROR(DecodeHistory(root, fund_registry_code_, &envelope));
  } else {
    return InvalidField("INVALID_VALUE", "/documentType",
                        absl::StrCat("\"", type, "\" is not one of ",
                                     kTypeReferral, ", ", kTypeHistory));
  }
  return envelope;
}

absl::StatusOr<std::string> UifJsonCodec::Encode(
    const Envelope& envelope) const {
  ordered_json out;
  switch (envelope.body_case()) {
    case Envelope::kReferral:
      out = EncodeReferral(envelope);
      break;
    case Envelope::kTransition:
      out = EncodeHistory(envelope);
      break;
    default:
      return InvalidField("UNSUPPORTED_KIND", "kind",
                          "uif-json carries referrals and transitions");
  }
  return DumpJson(out, pretty_) + (pretty_ ? "\n" : "");
}

absl::StatusOr<std::unique_ptr<UifJsonCodec>> UifJsonCodec::Create(
    const sild::connectors::v1::UifCodecConfig& config) {
  if (config.max_depth() > 1000) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "max_depth",
                        "at most 1000");
  }
  if (!config.fund_registry_code().empty()) {
    absl::Status status =
        ValidateRegistryCode(config.fund_registry_code(), "fund_registry_code");
    if (!status.ok()) {
      return InvalidField("INVALID_CONNECTOR_CONFIG", "fund_registry_code",
                          status.message());
    }
  }
  return std::make_unique<UifJsonCodec>(config);
}

namespace {

using UifJsonCodecFactory =
    TypedCodecFactory<UifJsonCodec::kName, sild::connectors::v1::UifCodecConfig,
                      UifJsonCodec>;

SILD_REGISTER_CODEC_FACTORY(UifJsonCodecFactory);

}  // namespace
}  // namespace sild::connectors
