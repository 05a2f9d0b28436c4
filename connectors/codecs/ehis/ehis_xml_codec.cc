#include "connectors/codecs/ehis/ehis_xml_codec.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "connectors/codecs/ehis/abc_score.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"
#include "pugixml.hpp"
#include "sild/v1/assessment.pb.h"
#include "sild/v1/referral.pb.h"
#include "sild/v1/transition.pb.h"

namespace sild::connectors {
namespace {

using sild::v1::Date;
using sild::v1::Envelope;

constexpr size_t kDefaultMaxBytes = 1024 * 1024;
constexpr int kDefaultMaxDepth = 16;
constexpr absl::string_view kRoot = "opilane";
// Extension keys of a referral for EHIS data sild.v1 has no field for.
constexpr absl::string_view kStudyFormKey = "ehis.oppevorm";
constexpr absl::string_view kConsentKeyPrefix = "ehis.nousolek.";

// ---------------------------------------------------------------------------
// Classifier values: the native token of each canonical value. Matching is
// ASCII case-insensitive; Encode writes the token as listed.

template <typename E>
struct Token {
  absl::string_view native;
  E value;
};

constexpr Token<sild::v1::MessageKind> kKinds[] = {
    {"LAHKUMINE", sild::v1::MESSAGE_KIND_TRANSITION},
    {"HINDAMINE", sild::v1::MESSAGE_KIND_ASSESSMENT},
    {"SUUNAMINE", sild::v1::MESSAGE_KIND_REFERRAL},
};

constexpr Token<sild::v1::Purpose> kPurposes[] = {
    {"TUGITEENUS", sild::v1::PURPOSE_SUPPORT_SERVICE},
    {"LASTEKAITSE_TEADE", sild::v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION},
    {"JUHTUMIKORRALDUS", sild::v1::PURPOSE_CASE_MANAGEMENT},
    {"HARIDUSLIK_YLEMINEK", sild::v1::PURPOSE_EDUCATION_TRANSITION},
    {"TERVISHOID", sild::v1::PURPOSE_HEALTH_CARE},
    {"NOORTEGARANTII", sild::v1::PURPOSE_YOUTH_GUARANTEE},
    {"VARAJANE_MARKAMINE", sild::v1::PURPOSE_EARLY_WARNING},
};

constexpr Token<sild::v1::LeavingReason> kLeavingReasons[] = {
    {"LOPETANUD", sild::v1::LEAVING_REASON_GRADUATED},
    {"YLEMINEK", sild::v1::LEAVING_REASON_MOVED_TO_OTHER_SCHOOL},
    {"VALISMAALE", sild::v1::LEAVING_REASON_MOVED_ABROAD},
    {"KATKESTANUD", sild::v1::LEAVING_REASON_DROPPED_OUT},
    {"VALJAARVATUD", sild::v1::LEAVING_REASON_EXPELLED},
    {"TERVIS", sild::v1::LEAVING_REASON_HEALTH},
    {"TOOLE", sild::v1::LEAVING_REASON_STARTED_WORK},
    {"KOOLIKOHUSTUS_TAIDETUD",
     sild::v1::LEAVING_REASON_COMPULSORY_SCHOOLING_ENDED},
    {"MUU", sild::v1::LEAVING_REASON_OTHER},
};

constexpr Token<sild::v1::SupportLevel> kSupportLevels[] = {
    {"PUUDUB", sild::v1::SUPPORT_LEVEL_NONE},
    {"YLDINE", sild::v1::SUPPORT_LEVEL_GENERAL},
    {"TOHUSTATUD", sild::v1::SUPPORT_LEVEL_ENHANCED},
    {"ERI", sild::v1::SUPPORT_LEVEL_SPECIAL},
};

constexpr Token<sild::v1::MeasureStatus> kMeasureStatuses[] = {
    {"RAKENDATUD", sild::v1::MEASURE_STATUS_APPLIED},
    {"VAJALIK", sild::v1::MEASURE_STATUS_NEEDED},
    {"LOPETATUD", sild::v1::MEASURE_STATUS_ENDED},
};

constexpr Token<sild::v1::ServiceType> kServices[] = {
    {"JUHTUMIKORRALDUS", sild::v1::SERVICE_TYPE_CASE_MANAGEMENT},
    {"PSUHHOLOOG", sild::v1::SERVICE_TYPE_PSYCHOLOGIST},
    {"ERIPEDAGOOG", sild::v1::SERVICE_TYPE_SPECIAL_EDUCATION_TEACHER},
    {"LOGOPEED", sild::v1::SERVICE_TYPE_SPEECH_THERAPIST},
    {"SOTSIAALPEDAGOOG", sild::v1::SERVICE_TYPE_SOCIAL_PEDAGOGUE},
    {"SOTSIAALTOOTAJA", sild::v1::SERVICE_TYPE_SOCIAL_WORKER},
    {"NOORSOOTOO", sild::v1::SERVICE_TYPE_YOUTH_WORK},
    {"TERVISEKONTROLL", sild::v1::SERVICE_TYPE_HEALTH_CHECK},
    {"KARJAARINOUSTAMINE", sild::v1::SERVICE_TYPE_CAREER_COUNSELLING},
    {"NOORTEGARANTII", sild::v1::SERVICE_TYPE_YOUTH_GUARANTEE},
    {"LASTEKAITSE_HINDAMINE",
     sild::v1::SERVICE_TYPE_CHILD_PROTECTION_ASSESSMENT},
    {"PSUHHIAATRIA", sild::v1::SERVICE_TYPE_PSYCHIATRY},
};

constexpr Token<sild::v1::Urgency> kUrgencies[] = {
    {"TAVALINE", sild::v1::URGENCY_ROUTINE},
    {"KIIRE", sild::v1::URGENCY_URGENT},
    {"ERAKORRALINE", sild::v1::URGENCY_EMERGENCY},
};

constexpr absl::string_view kStudyForms[] = {"STATSIONAARNE",
                                             "MITTESTATSIONAARNE", "KODUOPE"};
constexpr absl::string_view kConsentDecisions[] = {"ANTUD", "KEELDUTUD"};

template <typename E, size_t N>
std::optional<E> FromNative(const Token<E> (&table)[N],
                            absl::string_view text) {
  for (const Token<E>& token : table) {
    if (absl::EqualsIgnoreCase(token.native, text)) return token.value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
absl::string_view ToNative(const Token<E> (&table)[N], E value) {
  for (const Token<E>& token : table) {
    if (token.value == value) return token.native;
  }
  return "";
}

template <typename E, size_t N>
std::string Expected(const Token<E> (&table)[N]) {
  std::string out;
  for (const Token<E>& token : table) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", token.native);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Input checks before parsing.

bool IsUtf8WithoutNul(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0) return false;
    int extra;
    uint32_t min;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, min = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min = 0x10000, code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// Depth of the deepest element (the root element is 1), walking without
// recursion; stops counting once past `limit`.
int ElementDepth(const pugi::xml_document& doc, int limit) {
  int deepest = 0;
  int depth = 1;  // of `node`
  pugi::xml_node node = doc.first_child();
  while (node) {
    if (node.type() == pugi::node_element) {
      deepest = std::max(deepest, depth);
      if (deepest > limit) return deepest;
    }
    if (node.first_child()) {
      node = node.first_child();
      ++depth;
      continue;
    }
    while (!node.next_sibling()) {
      node = node.parent();
      --depth;
      if (!node || node == doc) return deepest;
    }
    node = node.next_sibling();
  }
  return deepest;
}

// ---------------------------------------------------------------------------
// Reading: an element with its XPath.

class Element {
 public:
  Element(pugi::xml_node node, std::string path)
      : node_(node), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string PathOf(absl::string_view child) const {
    return absl::StrCat(path_, "/", child);
  }

  // Refuses child elements not named in `singular` or `repeated`, and a
  // second occurrence of a singular one.
  absl::Status CheckChildren(
      std::initializer_list<absl::string_view> singular,
      std::initializer_list<absl::string_view> repeated = {}) const {
    std::map<std::string, int> seen;
    for (pugi::xml_node child = node_.first_child(); child;
         child = child.next_sibling()) {
      if (child.type() != pugi::node_element) continue;
      absl::string_view name = child.name();
      const bool is_singular =
          std::find(singular.begin(), singular.end(), name) != singular.end();
      const bool is_repeated =
          std::find(repeated.begin(), repeated.end(), name) != repeated.end();
      if (!is_singular && !is_repeated) {
        return InvalidField(
            "UNKNOWN_ELEMENT", PathOf(name),
            absl::StrCat("<", node_.name(), "> has no element <", name, ">"));
      }
      if (is_singular && ++seen[std::string(name)] > 1) {
        return InvalidField("DUPLICATE_ELEMENT", PathOf(name),
                            absl::StrCat("<", name, "> may appear once"));
      }
    }
    return absl::OkStatus();
  }

  std::optional<Element> Child(absl::string_view name) const {
    pugi::xml_node child = node_.child(std::string(name).c_str());
    if (!child) return std::nullopt;
    return Element(child, PathOf(name));
  }

  std::vector<Element> Children(absl::string_view name) const {
    std::vector<Element> out;
    const std::string key(name);
    for (pugi::xml_node child = node_.child(key.c_str()); child;
         child = child.next_sibling(key.c_str())) {
      out.emplace_back(
          child, absl::StrCat(path_, "/", name, "[", out.size() + 1, "]"));
    }
    return out;
  }

  // The text of a leaf element; refuses child elements.
  absl::StatusOr<std::string> Text() const {
    std::string text;
    for (pugi::xml_node child = node_.first_child(); child;
         child = child.next_sibling()) {
      if (child.type() == pugi::node_element) {
        return InvalidField("INVALID_VALUE", path_,
                            "expected text, found an element");
      }
      if (child.type() == pugi::node_pcdata ||
          child.type() == pugi::node_cdata) {
        text += child.value();
      }
    }
    // A character reference such as &#xD800; decodes to bytes that are not
    // UTF-8, which no sild.v1 string may hold.
    if (!IsUtf8WithoutNul(text)) {
      return InvalidField("INVALID_ENCODING", path_,
                          "a character reference is not a Unicode character");
    }
    return text;
  }

 private:
  pugi::xml_node node_;
  std::string path_;
};

// Text of child `name`, "" when absent; free text keeps its whitespace.
absl::StatusOr<std::string> FreeText(const Element& parent,
                                     absl::string_view name) {
  std::optional<Element> child = parent.Child(name);
  if (!child) return std::string();
  return child->Text();
}

// Text of child `name` stripped of surrounding whitespace, "" when absent.
absl::StatusOr<std::string> Value(const Element& parent,
                                  absl::string_view name) {
  SILD_ASSIGN_OR_RETURN(std::string text, FreeText(parent, name));
  return std::string(absl::StripAsciiWhitespace(text));
}

absl::StatusOr<std::string> RequiredValue(const Element& parent,
                                          absl::string_view name) {
  SILD_ASSIGN_OR_RETURN(std::string text, Value(parent, name));
  if (text.empty()) {
    return InvalidField("MISSING_FIELD", parent.PathOf(name),
                        absl::StrCat("<", name, "> is required"));
  }
  return text;
}

template <typename E, size_t N>
absl::StatusOr<E> ParseToken(const Token<E> (&table)[N], absl::string_view text,
                             absl::string_view path) {
  std::optional<E> value = FromNative(table, text);
  if (!value) {
    return InvalidField(
        "INVALID_VALUE", path,
        absl::StrCat("\"", text, "\" is not one of ", Expected(table)));
  }
  return *value;
}

// An optional classifier child: UNSPECIFIED (0) when absent.
template <typename E, size_t N>
absl::StatusOr<E> OptionalToken(const Token<E> (&table)[N],
                                const Element& parent, absl::string_view name) {
  SILD_ASSIGN_OR_RETURN(std::string text, Value(parent, name));
  if (text.empty()) return static_cast<E>(0);
  return ParseToken(table, text, parent.PathOf(name));
}

template <size_t N>
absl::Status CheckOneOf(const absl::string_view (&allowed)[N],
                        absl::string_view text, absl::string_view path) {
  for (absl::string_view value : allowed) {
    if (value == text) return absl::OkStatus();
  }
  std::string expected;
  for (absl::string_view value : allowed) {
    absl::StrAppend(&expected, expected.empty() ? "" : ", ", value);
  }
  return InvalidField("INVALID_VALUE", path,
                      absl::StrCat("\"", text, "\" is not one of ", expected));
}

absl::StatusOr<int64_t> ParseInt(absl::string_view text, absl::string_view path,
                                 int64_t min, int64_t max) {
  int64_t value = 0;
  const bool digits_only =
      !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      });
  if (!digits_only || text.size() > 12 || !absl::SimpleAtoi(text, &value)) {
    return InvalidField("INVALID_VALUE", path,
                        absl::StrCat("\"", text, "\" is not a whole number"));
  }
  if (value < min || value > max) {
    return InvalidField("INVALID_RANGE", path,
                        absl::StrCat(value, " is outside ", min, "..", max));
  }
  return value;
}

// dd.mm.yyyy, a real calendar date.
absl::StatusOr<Date> ParseDottedDate(absl::string_view text,
                                     absl::string_view path) {
  auto bad = [&] {
    return InvalidField("INVALID_DATE", path, "not a real date dd.mm.yyyy");
  };
  if (text.size() != 10 || text[2] != '.' || text[5] != '.') return bad();
  int day = 0;
  int month = 0;
  int year = 0;
  for (size_t i : {0, 1, 3, 4, 6, 7, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      return bad();
    }
  }
  if (!absl::SimpleAtoi(text.substr(0, 2), &day) ||
      !absl::SimpleAtoi(text.substr(3, 2), &month) ||
      !absl::SimpleAtoi(text.substr(6, 4), &year) || year < 1800) {
    return bad();
  }
  const absl::CivilDay civil(year, month, day);
  if (civil.year() != year || civil.month() != month || civil.day() != day) {
    return bad();
  }
  Date date;
  date.set_year(year);
  date.set_month(month);
  date.set_day(day);
  return date;
}

absl::StatusOr<std::optional<Date>> OptionalDate(const Element& parent,
                                                 absl::string_view name) {
  SILD_ASSIGN_OR_RETURN(std::string text, Value(parent, name));
  if (text.empty()) return std::optional<Date>();
  SILD_ASSIGN_OR_RETURN(Date date, ParseDottedDate(text, parent.PathOf(name)));
  return std::optional<Date>(date);
}

std::string FormatDottedDate(const Date& date) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%02d.%02d.%04d", date.day() % 100,
                date.month() % 100, date.year() % 10000);
  return buffer;
}

bool IsSet(const Date& date) { return date.year() != 0; }

// ---------------------------------------------------------------------------
// The pupil record: what one <opilane> holds, independent of the kind it
// maps to. Decode reads XML into it, Encode fills it from an Envelope.

struct Consent {
  std::string decision;
  std::string number;
  std::string date;  // dd.mm.yyyy as written
};

struct PupilRecord {
  sild::v1::MessageKind kind = sild::v1::MESSAGE_KIND_UNSPECIFIED;
  std::string message_id;
  std::string idempotency_key;
  std::string case_id;
  sild::v1::Purpose purpose = sild::v1::PURPOSE_UNSPECIFIED;

  sild::v1::Person subject;
  sild::v1::AgencyRef school;
  int grade = 0;
  std::string curriculum;
  std::string study_form;
  std::vector<sild::v1::AttendanceIndicator> absences;
  int behaviour_incidents = 0;
  std::vector<sild::v1::FailingSubject> failing;
  bool repeating_grade = false;
  sild::v1::SupportLevel support_level = sild::v1::SUPPORT_LEVEL_UNSPECIFIED;
  std::vector<std::string> needs;
  std::vector<sild::v1::SupportMeasure> measures;
  std::vector<Consent> consents;

  Date leaving_date;
  sild::v1::LeavingReason leaving_reason = sild::v1::LEAVING_REASON_UNSPECIFIED;
  sild::v1::AgencyRef new_school;

  sild::v1::ServiceType service = sild::v1::SERVICE_TYPE_UNSPECIFIED;
  sild::v1::Urgency urgency = sild::v1::URGENCY_UNSPECIFIED;
  sild::v1::AgencyRef performer;
  std::string municipality;
  Date respond_by;

  Date period_start;
  Date period_end;
  sild::v1::Professional author;
  std::string note;
};

absl::Status ReadAgency(const Element& element, sild::v1::AgencyRef* agency) {
  SILD_RETURN_IF_ERROR(element.CheckChildren({"registrikood", "nimi"}));
  SILD_ASSIGN_OR_RETURN(std::string code,
                        RequiredValue(element, "registrikood"));
  SILD_RETURN_IF_ERROR(
      ValidateRegistryCode(code, element.PathOf("registrikood")));
  agency->set_registry_code(code);
  SILD_ASSIGN_OR_RETURN(std::string name, FreeText(element, "nimi"));
  agency->set_name(name);
  return absl::OkStatus();
}

absl::Status ReadMessage(const Element& sonum, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(sonum.CheckChildren(
      {"id", "idempotentsusvoti", "juhtumiId", "liik", "eesmark"}));
  SILD_ASSIGN_OR_RETURN(record->message_id, Value(sonum, "id"));
  SILD_ASSIGN_OR_RETURN(std::string key, Value(sonum, "idempotentsusvoti"));
  if (key.empty()) {
    return InvalidField("MISSING_IDEMPOTENCY_KEY",
                        sonum.PathOf("idempotentsusvoti"),
                        "every message needs an idempotency key");
  }
  record->idempotency_key = key;
  SILD_ASSIGN_OR_RETURN(record->case_id, Value(sonum, "juhtumiId"));
  SILD_ASSIGN_OR_RETURN(std::string kind, RequiredValue(sonum, "liik"));
  SILD_ASSIGN_OR_RETURN(record->kind,
                        ParseToken(kKinds, kind, sonum.PathOf("liik")));
  SILD_ASSIGN_OR_RETURN(record->purpose,
                        OptionalToken(kPurposes, sonum, "eesmark"));
  return absl::OkStatus();
}

absl::Status ReadSubject(const Element& root, PupilRecord* record) {
  sild::v1::Person& subject = record->subject;
  SILD_ASSIGN_OR_RETURN(std::string code, Value(root, "isikukood"));
  SILD_ASSIGN_OR_RETURN(std::string given, FreeText(root, "eesnimi"));
  SILD_ASSIGN_OR_RETURN(std::string family, FreeText(root, "perenimi"));
  SILD_ASSIGN_OR_RETURN(std::optional<Date> birth,
                        OptionalDate(root, "synniaeg"));
  if (!code.empty()) {
    auto parsed = ParsePersonalCode(code, root.PathOf("isikukood"));
    if (!parsed.ok()) return parsed.status();
    subject.mutable_id()->set_scheme(
        sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    subject.mutable_id()->set_value(code);
  } else if (given.empty() || family.empty() || !birth) {
    return InvalidField(
        "MISSING_FIELD", root.PathOf("isikukood"),
        "the pupil needs <isikukood>, or <eesnimi>, <perenimi> and "
        "<synniaeg>");
  }
  subject.set_given_name(given);
  subject.set_family_name(family);
  if (birth) *subject.mutable_birth_date() = *birth;
  return absl::OkStatus();
}

absl::Status ReadEnrolment(const Element& oppimine, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(
      oppimine.CheckChildren({"oppekava", "klass", "oppevorm"}));
  SILD_ASSIGN_OR_RETURN(record->curriculum, Value(oppimine, "oppekava"));
  SILD_ASSIGN_OR_RETURN(std::string grade, Value(oppimine, "klass"));
  if (!grade.empty()) {
    SILD_ASSIGN_OR_RETURN(int64_t value,
                          ParseInt(grade, oppimine.PathOf("klass"), 1, 12));
    record->grade = static_cast<int>(value);
  }
  SILD_ASSIGN_OR_RETURN(std::string form, Value(oppimine, "oppevorm"));
  if (!form.empty()) {
    form = absl::AsciiStrToUpper(form);
    SILD_RETURN_IF_ERROR(
        CheckOneOf(kStudyForms, form, oppimine.PathOf("oppevorm")));
    record->study_form = form;
  }
  return absl::OkStatus();
}

absl::Status ReadAbsences(const Element& list, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(list.CheckChildren({}, {"pohjusetaPuudumine"}));
  std::map<std::pair<int64_t, int64_t>, std::string> seen;
  for (const Element& item : list.Children("pohjusetaPuudumine")) {
    SILD_RETURN_IF_ERROR(
        item.CheckChildren({"aasta", "veerand", "tunnid", "puudumised"}));
    SILD_ASSIGN_OR_RETURN(std::string year_text, RequiredValue(item, "aasta"));
    SILD_ASSIGN_OR_RETURN(
        int64_t year, ParseInt(year_text, item.PathOf("aasta"), 1900, 2200));
    SILD_ASSIGN_OR_RETURN(std::string quarter_text,
                          RequiredValue(item, "veerand"));
    SILD_ASSIGN_OR_RETURN(int64_t quarter,
                          ParseInt(quarter_text, item.PathOf("veerand"), 1, 4));
    SILD_ASSIGN_OR_RETURN(std::string lessons_text,
                          RequiredValue(item, "tunnid"));
    SILD_ASSIGN_OR_RETURN(
        int64_t lessons,
        ParseInt(lessons_text, item.PathOf("tunnid"), 0, 100000));
    SILD_ASSIGN_OR_RETURN(std::string absences_text,
                          RequiredValue(item, "puudumised"));
    SILD_ASSIGN_OR_RETURN(
        int64_t absences,
        ParseInt(absences_text, item.PathOf("puudumised"), 0, lessons));
    if (!seen.emplace(std::make_pair(year, quarter), item.path()).second) {
      return InvalidField("DUPLICATE_ELEMENT", item.path(),
                          absl::StrCat("year ", year, " quarter ", quarter,
                                       " is listed twice"));
    }
    sild::v1::AttendanceIndicator indicator;
    indicator.set_school_year(static_cast<int32_t>(year));
    indicator.set_quarter(static_cast<int32_t>(quarter));
    indicator.set_lessons(static_cast<int32_t>(lessons));
    indicator.set_unexcused_absences(static_cast<int32_t>(absences));
    record->absences.push_back(indicator);
  }
  return absl::OkStatus();
}

absl::Status ReadFailingGrades(const Element& list, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(list.CheckChildren({}, {"puudulikHinne"}));
  for (const Element& item : list.Children("puudulikHinne")) {
    SILD_RETURN_IF_ERROR(item.CheckChildren({"aasta", "aine"}));
    sild::v1::FailingSubject failing;
    SILD_ASSIGN_OR_RETURN(std::string subject, RequiredValue(item, "aine"));
    failing.set_subject(subject);
    SILD_ASSIGN_OR_RETURN(std::string year, Value(item, "aasta"));
    if (!year.empty()) {
      SILD_ASSIGN_OR_RETURN(int64_t value,
                            ParseInt(year, item.PathOf("aasta"), 1900, 2200));
      failing.set_school_year(static_cast<int32_t>(value));
    }
    record->failing.push_back(failing);
  }
  return absl::OkStatus();
}

absl::Status ReadSpecialNeeds(const Element& hev, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(
      hev.CheckChildren({"toeTase"}, {"erivajadus", "tugiteenus"}));
  SILD_ASSIGN_OR_RETURN(record->support_level,
                        OptionalToken(kSupportLevels, hev, "toeTase"));
  for (const Element& need : hev.Children("erivajadus")) {
    SILD_ASSIGN_OR_RETURN(std::string text, need.Text());
    if (absl::StripAsciiWhitespace(text).empty()) {
      return InvalidField("MISSING_FIELD", need.path(),
                          "<erivajadus> must not be empty");
    }
    record->needs.push_back(text);
  }
  for (const Element& item : hev.Children("tugiteenus")) {
    SILD_RETURN_IF_ERROR(
        item.CheckChildren({"kood", "nimetus", "staatus", "algus", "lopp"}));
    sild::v1::SupportMeasure measure;
    SILD_ASSIGN_OR_RETURN(std::string code, Value(item, "kood"));
    SILD_ASSIGN_OR_RETURN(std::string name, FreeText(item, "nimetus"));
    if (code.empty() && name.empty()) {
      return InvalidField("MISSING_FIELD", item.PathOf("nimetus"),
                          "a support service needs <kood> or <nimetus>");
    }
    measure.set_code(code);
    measure.set_name(name);
    SILD_ASSIGN_OR_RETURN(std::string status, RequiredValue(item, "staatus"));
    SILD_ASSIGN_OR_RETURN(
        sild::v1::MeasureStatus parsed,
        ParseToken(kMeasureStatuses, status, item.PathOf("staatus")));
    measure.set_status(parsed);
    SILD_ASSIGN_OR_RETURN(std::optional<Date> start,
                          OptionalDate(item, "algus"));
    SILD_ASSIGN_OR_RETURN(std::optional<Date> end, OptionalDate(item, "lopp"));
    if (start) *measure.mutable_start_date() = *start;
    if (end) *measure.mutable_end_date() = *end;
    record->measures.push_back(measure);
  }
  return absl::OkStatus();
}

absl::Status ReadConsents(const Element& list, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(list.CheckChildren({}, {"nousolek"}));
  for (const Element& item : list.Children("nousolek")) {
    SILD_RETURN_IF_ERROR(
        item.CheckChildren({"otsus", "otsuseNumber", "kuupaev"}));
    Consent consent;
    SILD_ASSIGN_OR_RETURN(std::string decision, RequiredValue(item, "otsus"));
    consent.decision = absl::AsciiStrToUpper(decision);
    SILD_RETURN_IF_ERROR(
        CheckOneOf(kConsentDecisions, consent.decision, item.PathOf("otsus")));
    SILD_ASSIGN_OR_RETURN(consent.number, Value(item, "otsuseNumber"));
    SILD_ASSIGN_OR_RETURN(consent.date, RequiredValue(item, "kuupaev"));
    SILD_RETURN_IF_ERROR(
        ParseDottedDate(consent.date, item.PathOf("kuupaev")).status());
    record->consents.push_back(consent);
  }
  return absl::OkStatus();
}

absl::Status ReadLeaving(const Element& lahkumine, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(
      lahkumine.CheckChildren({"kuupaev", "pohjus", "uusOppeasutus"}));
  SILD_ASSIGN_OR_RETURN(std::string date, RequiredValue(lahkumine, "kuupaev"));
  SILD_ASSIGN_OR_RETURN(record->leaving_date,
                        ParseDottedDate(date, lahkumine.PathOf("kuupaev")));
  SILD_ASSIGN_OR_RETURN(std::string reason, RequiredValue(lahkumine, "pohjus"));
  SILD_ASSIGN_OR_RETURN(
      record->leaving_reason,
      ParseToken(kLeavingReasons, reason, lahkumine.PathOf("pohjus")));
  if (std::optional<Element> next = lahkumine.Child("uusOppeasutus")) {
    SILD_RETURN_IF_ERROR(ReadAgency(*next, &record->new_school));
  }
  return absl::OkStatus();
}

absl::Status ReadReferral(const Element& suunamine, PupilRecord* record) {
  SILD_RETURN_IF_ERROR(
      suunamine.CheckChildren({"teenus", "kiireloomulisus", "teenuseOsutaja",
                               "omavalitsus", "vastusHiljemalt"}));
  SILD_ASSIGN_OR_RETURN(std::string service,
                        RequiredValue(suunamine, "teenus"));
  SILD_ASSIGN_OR_RETURN(
      record->service,
      ParseToken(kServices, service, suunamine.PathOf("teenus")));
  SILD_ASSIGN_OR_RETURN(
      record->urgency, OptionalToken(kUrgencies, suunamine, "kiireloomulisus"));
  if (std::optional<Element> performer = suunamine.Child("teenuseOsutaja")) {
    SILD_RETURN_IF_ERROR(ReadAgency(*performer, &record->performer));
  }
  SILD_ASSIGN_OR_RETURN(record->municipality,
                        FreeText(suunamine, "omavalitsus"));
  SILD_ASSIGN_OR_RETURN(std::optional<Date> respond_by,
                        OptionalDate(suunamine, "vastusHiljemalt"));
  if (respond_by) record->respond_by = *respond_by;
  return absl::OkStatus();
}

absl::Status ReadProfessional(const Element& koostaja,
                              sild::v1::Professional* professional) {
  SILD_RETURN_IF_ERROR(
      koostaja.CheckChildren({"id", "nimi", "roll", "telefon", "epost"}));
  SILD_ASSIGN_OR_RETURN(std::string id, Value(koostaja, "id"));
  SILD_ASSIGN_OR_RETURN(std::string name, FreeText(koostaja, "nimi"));
  SILD_ASSIGN_OR_RETURN(std::string role, FreeText(koostaja, "roll"));
  SILD_ASSIGN_OR_RETURN(std::string phone, Value(koostaja, "telefon"));
  SILD_ASSIGN_OR_RETURN(std::string email, Value(koostaja, "epost"));
  professional->set_id(id);
  professional->set_name(name);
  professional->set_role(role);
  professional->set_phone(phone);
  professional->set_email(email);
  return absl::OkStatus();
}

absl::StatusOr<PupilRecord> ReadRecord(const Element& root) {
  SILD_RETURN_IF_ERROR(root.CheckChildren(
      {"sonum", "isikukood", "eesnimi", "perenimi", "synniaeg", "oppeasutus",
       "oppimine", "pohjusetaPuudumised", "kaitumisjuhtumid",
       "puudulikudHinded", "klassiKordamine", "hev", "nousolekud", "lahkumine",
       "suunamine", "hindamisperiood", "koostaja", "markus"}));
  PupilRecord record;
  std::optional<Element> sonum = root.Child("sonum");
  if (!sonum) {
    return InvalidField("MISSING_FIELD", root.PathOf("sonum"),
                        "<sonum> with <idempotentsusvoti> and <liik> is "
                        "required");
  }
  SILD_RETURN_IF_ERROR(ReadMessage(*sonum, &record));
  SILD_RETURN_IF_ERROR(ReadSubject(root, &record));
  if (std::optional<Element> school = root.Child("oppeasutus")) {
    SILD_RETURN_IF_ERROR(ReadAgency(*school, &record.school));
    record.school.set_kind(sild::v1::AGENCY_KIND_SCHOOL);
  }
  if (std::optional<Element> enrolment = root.Child("oppimine")) {
    SILD_RETURN_IF_ERROR(ReadEnrolment(*enrolment, &record));
  }
  if (std::optional<Element> list = root.Child("pohjusetaPuudumised")) {
    SILD_RETURN_IF_ERROR(ReadAbsences(*list, &record));
  }
  SILD_ASSIGN_OR_RETURN(std::string incidents, Value(root, "kaitumisjuhtumid"));
  if (!incidents.empty()) {
    SILD_ASSIGN_OR_RETURN(
        int64_t value,
        ParseInt(incidents, root.PathOf("kaitumisjuhtumid"), 0, 10000));
    record.behaviour_incidents = static_cast<int>(value);
  }
  if (std::optional<Element> list = root.Child("puudulikudHinded")) {
    SILD_RETURN_IF_ERROR(ReadFailingGrades(*list, &record));
  }
  SILD_ASSIGN_OR_RETURN(std::string repeating, Value(root, "klassiKordamine"));
  if (!repeating.empty()) {
    if (absl::EqualsIgnoreCase(repeating, "jah")) {
      record.repeating_grade = true;
    } else if (!absl::EqualsIgnoreCase(repeating, "ei")) {
      return InvalidField(
          "INVALID_VALUE", root.PathOf("klassiKordamine"),
          absl::StrCat("\"", repeating, "\" is not one of jah, ei"));
    }
  }
  if (std::optional<Element> hev = root.Child("hev")) {
    SILD_RETURN_IF_ERROR(ReadSpecialNeeds(*hev, &record));
  }
  if (std::optional<Element> list = root.Child("nousolekud")) {
    SILD_RETURN_IF_ERROR(ReadConsents(*list, &record));
  }
  std::optional<Element> lahkumine = root.Child("lahkumine");
  std::optional<Element> suunamine = root.Child("suunamine");
  std::optional<Element> period = root.Child("hindamisperiood");
  const bool leaving = record.kind == sild::v1::MESSAGE_KIND_TRANSITION;
  const bool referral = record.kind == sild::v1::MESSAGE_KIND_REFERRAL;
  if (lahkumine && !leaving) {
    return InvalidField("UNEXPECTED_ELEMENT", lahkumine->path(),
                        "<lahkumine> belongs to <liik>LAHKUMINE</liik>");
  }
  if (suunamine && !referral) {
    return InvalidField("UNEXPECTED_ELEMENT", suunamine->path(),
                        "<suunamine> belongs to <liik>SUUNAMINE</liik>");
  }
  if (leaving) {
    if (!lahkumine) {
      return InvalidField("MISSING_FIELD", root.PathOf("lahkumine"),
                          "a LAHKUMINE message needs <lahkumine>");
    }
    SILD_RETURN_IF_ERROR(ReadLeaving(*lahkumine, &record));
  }
  if (referral) {
    if (!suunamine) {
      return InvalidField("MISSING_FIELD", root.PathOf("suunamine"),
                          "a SUUNAMINE message needs <suunamine>");
    }
    SILD_RETURN_IF_ERROR(ReadReferral(*suunamine, &record));
  }
  if (period) {
    SILD_RETURN_IF_ERROR(period->CheckChildren({"algus", "lopp"}));
    SILD_ASSIGN_OR_RETURN(std::optional<Date> start,
                          OptionalDate(*period, "algus"));
    SILD_ASSIGN_OR_RETURN(std::optional<Date> end,
                          OptionalDate(*period, "lopp"));
    if (start) record.period_start = *start;
    if (end) record.period_end = *end;
  }
  if (std::optional<Element> koostaja = root.Child("koostaja")) {
    SILD_RETURN_IF_ERROR(ReadProfessional(*koostaja, &record.author));
  }
  SILD_ASSIGN_OR_RETURN(record.note, FreeText(root, "markus"));
  return record;
}

// ---------------------------------------------------------------------------
// Record -> canonical.

// Grade 1-6 basic school (ISCED 1), 7-9 (ISCED 2), 10-12 upper secondary
// (ISCED 3).
void FillStage(const PupilRecord& record, sild::v1::EducationStage* stage) {
  if (record.grade > 0) {
    stage->set_grade(record.grade);
    if (record.grade <= 6) {
      stage->set_level(sild::v1::EDUCATION_LEVEL_BASIC_GRADES_1_6);
      stage->set_isced_level(1);
    } else if (record.grade <= 9) {
      stage->set_level(sild::v1::EDUCATION_LEVEL_BASIC_GRADES_7_9);
      stage->set_isced_level(2);
    } else {
      stage->set_level(sild::v1::EDUCATION_LEVEL_GENERAL_UPPER_SECONDARY);
      stage->set_isced_level(3);
    }
  }
  stage->set_curriculum_code(record.curriculum);
}

bool HasStage(const PupilRecord& record) {
  return record.grade > 0 || !record.curriculum.empty();
}

void FillHeader(const PupilRecord& record, sild::v1::Purpose default_purpose,
                sild::v1::MessageHeader* header) {
  header->set_message_id(record.message_id);
  header->set_idempotency_key(record.idempotency_key);
  header->set_case_id(record.case_id);
  header->set_kind(record.kind);
  header->set_purpose(record.purpose != sild::v1::PURPOSE_UNSPECIFIED
                          ? record.purpose
                          : default_purpose);
}

bool HasAgency(const sild::v1::AgencyRef& agency) {
  return !agency.registry_code().empty();
}

void ToTransition(const PupilRecord& record, sild::v1::Transition* out) {
  FillHeader(record, sild::v1::PURPOSE_EDUCATION_TRANSITION,
             out->mutable_header());
  *out->mutable_subject() = record.subject;
  if (HasAgency(record.school))
    *out->mutable_from_institution() = record.school;
  if (HasStage(record)) FillStage(record, out->mutable_from_stage());
  if (HasAgency(record.new_school)) {
    *out->mutable_to_institution() = record.new_school;
  }
  *out->mutable_effective_date() = record.leaving_date;
  out->set_leaving_reason(record.leaving_reason);
  out->set_support_level(record.support_level);
  for (const std::string& need : record.needs) out->add_support_needs(need);
  for (const auto& measure : record.measures) *out->add_measures() = measure;
  for (const auto& failing : record.failing) {
    *out->add_failing_subjects() = failing;
  }
  out->set_repeated_grade(record.repeating_grade);
  out->set_summary(record.note);
  if (record.author.ByteSizeLong() > 0) {
    *out->mutable_handed_over_by() = record.author;
  }
}

void ToAssessment(const PupilRecord& record, sild::v1::Assessment* out) {
  FillHeader(record, sild::v1::PURPOSE_EARLY_WARNING, out->mutable_header());
  *out->mutable_subject() = record.subject;
  if (HasAgency(record.school)) *out->mutable_institution() = record.school;
  if (IsSet(record.period_start)) {
    *out->mutable_period_start() = record.period_start;
  }
  if (IsSet(record.period_end)) *out->mutable_period_end() = record.period_end;
  AbcInputs inputs;
  for (const auto& quarter : record.absences) {
    (*out->mutable_attendance()->mutable_by_quarter())[absl::StrCat(
        quarter.school_year(), "-Q", quarter.quarter())] = quarter;
    inputs.lessons += quarter.lessons();
    inputs.absences += quarter.unexcused_absences();
  }
  out->set_behaviour_incidents(record.behaviour_incidents);
  for (const auto& failing : record.failing) {
    out->add_failing_subjects(failing.subject());
  }
  out->set_repeating_grade(record.repeating_grade);
  inputs.behaviour_incidents = record.behaviour_incidents;
  inputs.failing_grades = static_cast<int64_t>(record.failing.size());
  const AbcScore score = ScoreAbc(inputs);
  out->set_attendance_points(score.attendance_points);
  out->set_behaviour_points(score.behaviour_points);
  out->set_course_points(score.course_points);
  out->set_tier(score.tier);
  if (record.author.ByteSizeLong() > 0) {
    *out->mutable_assessed_by() = record.author;
  }
  out->set_note(record.note);
}

void ToReferral(const PupilRecord& record, sild::v1::Referral* out) {
  FillHeader(record, sild::v1::PURPOSE_SUPPORT_SERVICE, out->mutable_header());
  *out->mutable_subject() = record.subject;
  out->set_service(record.service);
  for (const auto& quarter : record.absences) {
    *out->add_risk_indicators()->mutable_attendance() = quarter;
  }
  if (!record.failing.empty() || record.repeating_grade) {
    sild::v1::AcademicIndicator* academic =
        out->add_risk_indicators()->mutable_academic();
    for (const auto& failing : record.failing) {
      academic->add_failing_subjects(failing.subject());
    }
    academic->set_repeating_grade(record.repeating_grade);
  }
  if (record.behaviour_incidents > 0) {
    out->add_risk_indicators()->mutable_behaviour()->set_incidents(
        record.behaviour_incidents);
  }
  if (record.needs.empty() &&
      record.support_level != sild::v1::SUPPORT_LEVEL_UNSPECIFIED) {
    out->add_risk_indicators()->mutable_special_needs()->set_support_level(
        record.support_level);
  }
  for (const std::string& need : record.needs) {
    sild::v1::SpecialNeedsIndicator* indicator =
        out->add_risk_indicators()->mutable_special_needs();
    indicator->set_support_level(record.support_level);
    indicator->set_need(need);
  }
  out->set_urgency(record.urgency);
  out->set_summary(record.note);
  if (record.author.ByteSizeLong() > 0) {
    *out->mutable_requested_by() = record.author;
  }
  if (HasAgency(record.performer)) *out->mutable_performer() = record.performer;
  out->set_municipality(record.municipality);
  if (HasAgency(record.school)) {
    *out->mutable_current_institution() = record.school;
  }
  if (HasStage(record)) FillStage(record, out->mutable_education_stage());
  if (IsSet(record.respond_by)) *out->mutable_respond_by() = record.respond_by;
  auto& extensions = *out->mutable_extensions();
  if (!record.study_form.empty()) {
    extensions[std::string(kStudyFormKey)] = record.study_form;
  }
  for (size_t i = 0; i < record.consents.size(); ++i) {
    const std::string prefix = absl::StrCat(kConsentKeyPrefix, i + 1, ".");
    extensions[absl::StrCat(prefix, "otsus")] = record.consents[i].decision;
    if (!record.consents[i].number.empty()) {
      extensions[absl::StrCat(prefix, "otsuseNumber")] =
          record.consents[i].number;
    }
    extensions[absl::StrCat(prefix, "kuupaev")] = record.consents[i].date;
  }
}

// ---------------------------------------------------------------------------
// Canonical -> record.

void FromHeader(const Envelope& envelope, const sild::v1::MessageHeader& header,
                sild::v1::MessageKind kind, PupilRecord* record) {
  record->kind = kind;
  record->message_id = envelope.message_id().empty() ? header.message_id()
                                                     : envelope.message_id();
  record->idempotency_key = header.idempotency_key();
  record->case_id = header.case_id();
  record->purpose = header.purpose();
}

void FromStage(const sild::v1::EducationStage& stage, PupilRecord* record) {
  if (stage.grade() >= 1 && stage.grade() <= 12) record->grade = stage.grade();
  record->curriculum = stage.curriculum_code();
}

void FromTransition(const Envelope& envelope, PupilRecord* record) {
  const sild::v1::Transition& in = envelope.transition();
  FromHeader(envelope, in.header(), sild::v1::MESSAGE_KIND_TRANSITION, record);
  record->subject = in.subject();
  record->school = in.from_institution();
  FromStage(in.from_stage(), record);
  record->new_school = in.to_institution();
  record->leaving_date = in.effective_date();
  record->leaving_reason = in.leaving_reason();
  record->support_level = in.support_level();
  record->needs.assign(in.support_needs().begin(), in.support_needs().end());
  record->measures.assign(in.measures().begin(), in.measures().end());
  record->failing.assign(in.failing_subjects().begin(),
                         in.failing_subjects().end());
  record->repeating_grade = in.repeated_grade();
  record->note = in.summary();
  record->author = in.handed_over_by();
}

void FromAssessment(const Envelope& envelope, PupilRecord* record) {
  const sild::v1::Assessment& in = envelope.assessment();
  FromHeader(envelope, in.header(), sild::v1::MESSAGE_KIND_ASSESSMENT, record);
  record->subject = in.subject();
  record->school = in.institution();
  record->period_start = in.period_start();
  record->period_end = in.period_end();
  // Map order is unspecified: write quarters in key order ("YYYY-Qn").
  std::map<std::string, sild::v1::AttendanceIndicator> quarters(
      in.attendance().by_quarter().begin(), in.attendance().by_quarter().end());
  for (const auto& [key, quarter] : quarters) {
    record->absences.push_back(quarter);
  }
  record->behaviour_incidents = in.behaviour_incidents();
  for (const std::string& subject : in.failing_subjects()) {
    sild::v1::FailingSubject failing;
    failing.set_subject(subject);
    record->failing.push_back(failing);
  }
  record->repeating_grade = in.repeating_grade();
  record->author = in.assessed_by();
  record->note = in.note();
}

void FromReferral(const Envelope& envelope, PupilRecord* record) {
  const sild::v1::Referral& in = envelope.referral();
  FromHeader(envelope, in.header(), sild::v1::MESSAGE_KIND_REFERRAL, record);
  record->subject = in.subject();
  record->school = in.current_institution();
  FromStage(in.education_stage(), record);
  record->service = in.service();
  record->urgency = in.urgency();
  record->performer = in.performer();
  record->municipality = in.municipality();
  record->respond_by = in.respond_by();
  record->note = in.summary();
  record->author = in.requested_by();
  for (const sild::v1::RiskIndicator& indicator : in.risk_indicators()) {
    switch (indicator.detail_case()) {
      case sild::v1::RiskIndicator::kAttendance:
        record->absences.push_back(indicator.attendance());
        break;
      case sild::v1::RiskIndicator::kAcademic:
        for (const std::string& subject :
             indicator.academic().failing_subjects()) {
          sild::v1::FailingSubject failing;
          failing.set_subject(subject);
          record->failing.push_back(failing);
        }
        record->repeating_grade |= indicator.academic().repeating_grade();
        break;
      case sild::v1::RiskIndicator::kBehaviour:
        record->behaviour_incidents += indicator.behaviour().incidents();
        break;
      case sild::v1::RiskIndicator::kSpecialNeeds:
        if (record->support_level == sild::v1::SUPPORT_LEVEL_UNSPECIFIED) {
          record->support_level = indicator.special_needs().support_level();
        }
        if (!indicator.special_needs().need().empty()) {
          record->needs.push_back(indicator.special_needs().need());
        }
        break;
      default:  // health and social concerns: EHIS has no place for them
        break;
    }
  }
  auto form = in.extensions().find(std::string(kStudyFormKey));
  if (form != in.extensions().end()) record->study_form = form->second;
  // ehis.nousolek.<n>.<field>, grouped by n in numeric order.
  std::map<int, Consent> consents;
  for (const auto& [key, value] : in.extensions()) {
    absl::string_view rest = key;
    if (!absl::ConsumePrefix(&rest, kConsentKeyPrefix)) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(rest, '.');
    int index = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &index)) continue;
    Consent& consent = consents[index];
    if (parts[1] == "otsus") consent.decision = value;
    if (parts[1] == "otsuseNumber") consent.number = value;
    if (parts[1] == "kuupaev") consent.date = value;
  }
  for (auto& [index, consent] : consents) record->consents.push_back(consent);
}

// ---------------------------------------------------------------------------
// Record -> XML.

void AddText(pugi::xml_node parent, const char* name, absl::string_view text) {
  if (text.empty()) return;
  parent.append_child(name).text().set(std::string(text).c_str());
}

void AddDate(pugi::xml_node parent, const char* name, const Date& date) {
  if (IsSet(date)) AddText(parent, name, FormatDottedDate(date));
}

void AddAgency(pugi::xml_node parent, const char* name,
               const sild::v1::AgencyRef& agency) {
  if (agency.registry_code().empty() && agency.name().empty()) return;
  pugi::xml_node node = parent.append_child(name);
  AddText(node, "registrikood", agency.registry_code());
  AddText(node, "nimi", agency.name());
}

void WriteRecord(const PupilRecord& record, pugi::xml_node root) {
  pugi::xml_node sonum = root.append_child("sonum");
  AddText(sonum, "id", record.message_id);
  AddText(sonum, "idempotentsusvoti", record.idempotency_key);
  AddText(sonum, "juhtumiId", record.case_id);
  AddText(sonum, "liik", ToNative(kKinds, record.kind));
  AddText(sonum, "eesmark", ToNative(kPurposes, record.purpose));

  const sild::v1::Person& subject = record.subject;
  if (subject.id().scheme() == sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE) {
    AddText(root, "isikukood", subject.id().value());
  }
  AddText(root, "eesnimi", subject.given_name());
  AddText(root, "perenimi", subject.family_name());
  if (subject.has_birth_date()) {
    AddDate(root, "synniaeg", subject.birth_date());
  }
  AddAgency(root, "oppeasutus", record.school);
  if (record.grade > 0 || !record.curriculum.empty() ||
      !record.study_form.empty()) {
    pugi::xml_node oppimine = root.append_child("oppimine");
    AddText(oppimine, "oppekava", record.curriculum);
    if (record.grade > 0)
      AddText(oppimine, "klass", absl::StrCat(record.grade));
    AddText(oppimine, "oppevorm", record.study_form);
  }
  if (!record.absences.empty()) {
    pugi::xml_node list = root.append_child("pohjusetaPuudumised");
    for (const auto& quarter : record.absences) {
      pugi::xml_node item = list.append_child("pohjusetaPuudumine");
      AddText(item, "aasta", absl::StrCat(quarter.school_year()));
      AddText(item, "veerand", absl::StrCat(quarter.quarter()));
      AddText(item, "tunnid", absl::StrCat(quarter.lessons()));
      AddText(item, "puudumised", absl::StrCat(quarter.unexcused_absences()));
    }
  }
  if (record.behaviour_incidents > 0) {
    AddText(root, "kaitumisjuhtumid", absl::StrCat(record.behaviour_incidents));
  }
  if (!record.failing.empty()) {
    pugi::xml_node list = root.append_child("puudulikudHinded");
    for (const auto& failing : record.failing) {
      pugi::xml_node item = list.append_child("puudulikHinne");
      if (failing.school_year() > 0) {
        AddText(item, "aasta", absl::StrCat(failing.school_year()));
      }
      AddText(item, "aine", failing.subject());
    }
  }
  if (record.repeating_grade) AddText(root, "klassiKordamine", "jah");
  const absl::string_view level =
      ToNative(kSupportLevels, record.support_level);
  if (!level.empty() || !record.needs.empty() || !record.measures.empty()) {
    pugi::xml_node hev = root.append_child("hev");
    AddText(hev, "toeTase", level);
    for (const std::string& need : record.needs) {
      AddText(hev, "erivajadus", need);
    }
    for (const auto& measure : record.measures) {
      pugi::xml_node item = hev.append_child("tugiteenus");
      AddText(item, "kood", measure.code());
      AddText(item, "nimetus", measure.name());
      AddText(item, "staatus", ToNative(kMeasureStatuses, measure.status()));
      if (measure.has_start_date())
        AddDate(item, "algus", measure.start_date());
      if (measure.has_end_date()) AddDate(item, "lopp", measure.end_date());
    }
  }
  if (!record.consents.empty()) {
    pugi::xml_node list = root.append_child("nousolekud");
    for (const Consent& consent : record.consents) {
      pugi::xml_node item = list.append_child("nousolek");
      AddText(item, "otsus", consent.decision);
      AddText(item, "otsuseNumber", consent.number);
      AddText(item, "kuupaev", consent.date);
    }
  }
  if (record.kind == sild::v1::MESSAGE_KIND_TRANSITION) {
    pugi::xml_node lahkumine = root.append_child("lahkumine");
    AddDate(lahkumine, "kuupaev", record.leaving_date);
    AddText(lahkumine, "pohjus",
            ToNative(kLeavingReasons, record.leaving_reason));
    AddAgency(lahkumine, "uusOppeasutus", record.new_school);
  }
  if (record.kind == sild::v1::MESSAGE_KIND_REFERRAL) {
    pugi::xml_node suunamine = root.append_child("suunamine");
    AddText(suunamine, "teenus", ToNative(kServices, record.service));
    AddText(suunamine, "kiireloomulisus", ToNative(kUrgencies, record.urgency));
    AddAgency(suunamine, "teenuseOsutaja", record.performer);
    AddText(suunamine, "omavalitsus", record.municipality);
    AddDate(suunamine, "vastusHiljemalt", record.respond_by);
  }
  if (IsSet(record.period_start) || IsSet(record.period_end)) {
    pugi::xml_node period = root.append_child("hindamisperiood");
    AddDate(period, "algus", record.period_start);
    AddDate(period, "lopp", record.period_end);
  }
  const sild::v1::Professional& author = record.author;
  if (author.ByteSizeLong() > 0) {
    pugi::xml_node koostaja = root.append_child("koostaja");
    AddText(koostaja, "id", author.id());
    AddText(koostaja, "nimi", author.name());
    AddText(koostaja, "roll", author.role());
    AddText(koostaja, "telefon", author.phone());
    AddText(koostaja, "epost", author.email());
  }
  AddText(root, "markus", record.note);
}

absl::Status TooLarge(size_t size, size_t limit) {
  return MakeError(
      absl::StatusCode::kResourceExhausted, "INPUT_TOO_LARGE", "",
      absl::StrCat("document of ", size, " bytes exceeds ", limit));
}

}  // namespace

EhisXmlCodec::EhisXmlCodec(const sild::connectors::v1::EhisCodecConfig& config)
    : compact_(config.compact()) {
  limits_.max_bytes =
      config.max_bytes() == 0 ? kDefaultMaxBytes : config.max_bytes();
  limits_.max_depth = config.max_depth() == 0
                          ? kDefaultMaxDepth
                          : static_cast<int>(config.max_depth());
}

absl::StatusOr<Envelope> EhisXmlCodec::Decode(absl::string_view native) const {
  if (native.size() > limits_.max_bytes) {
    return TooLarge(native.size(), limits_.max_bytes);
  }
  // No DTD at all: nothing can define, expand or fetch an entity.
  if (absl::StrContains(native, "<!DOCTYPE") ||
      absl::StrContains(native, "<!ENTITY")) {
    return InvalidField("DOCTYPE_NOT_ALLOWED", "/",
                        "a document type declaration is not accepted");
  }
  if (!IsUtf8WithoutNul(native)) {
    return InvalidField("INVALID_ENCODING", "/",
                        "the document must be UTF-8 without NUL bytes");
  }
  pugi::xml_document doc;
  // parse_default expands only the five predefined entities and character
  // references; without parse_doctype the parser never sees a DTD.
  const pugi::xml_parse_result parsed = doc.load_buffer(
      native.data(), native.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return InvalidField(
        "MALFORMED_XML", "",
        absl::StrCat(parsed.description(), " at byte ", parsed.offset));
  }
  const int depth = ElementDepth(doc, limits_.max_depth);
  if (depth > limits_.max_depth) {
    return MakeError(
        absl::StatusCode::kResourceExhausted, "INPUT_TOO_DEEP", "",
        absl::StrCat("elements nest deeper than ", limits_.max_depth));
  }
  int roots = 0;
  for (pugi::xml_node node = doc.first_child(); node;
       node = node.next_sibling()) {
    if (node.type() == pugi::node_element) ++roots;
    if (node.type() == pugi::node_pcdata || node.type() == pugi::node_cdata) {
      return InvalidField("MALFORMED_XML", "", "text outside the root element");
    }
  }
  if (roots != 1) {
    return InvalidField("MALFORMED_XML", "",
                        "a document has exactly one root element");
  }
  pugi::xml_node root_node = doc.document_element();
  if (absl::string_view(root_node.name()) != kRoot) {
    return InvalidField("UNKNOWN_ELEMENT", absl::StrCat("/", root_node.name()),
                        "the root element is <opilane>");
  }
  SILD_ASSIGN_OR_RETURN(PupilRecord record,
                        ReadRecord(Element(root_node, "/opilane")));
  Envelope envelope;
  envelope.set_message_id(record.message_id);
  envelope.set_kind(record.kind);
  switch (record.kind) {
    case sild::v1::MESSAGE_KIND_TRANSITION:
      ToTransition(record, envelope.mutable_transition());
      break;
    case sild::v1::MESSAGE_KIND_ASSESSMENT:
      ToAssessment(record, envelope.mutable_assessment());
      break;
    default:
      ToReferral(record, envelope.mutable_referral());
      break;
  }
  return envelope;
}

absl::StatusOr<std::string> EhisXmlCodec::Encode(
    const Envelope& envelope) const {
  PupilRecord record;
  switch (envelope.body_case()) {
    case Envelope::kTransition:
      FromTransition(envelope, &record);
      break;
    case Envelope::kAssessment:
      FromAssessment(envelope, &record);
      break;
    case Envelope::kReferral:
      FromReferral(envelope, &record);
      break;
    default:
      return InvalidField("UNSUPPORTED_KIND", "kind",
                          "ehis-xml carries transitions, assessments and "
                          "referrals");
  }
  pugi::xml_document doc;
  pugi::xml_node declaration = doc.append_child(pugi::node_declaration);
  declaration.append_attribute("version") = "1.0";
  declaration.append_attribute("encoding") = "UTF-8";
  WriteRecord(record, doc.append_child(std::string(kRoot).c_str()));
  std::ostringstream out;
  doc.save(out, "  ", compact_ ? pugi::format_raw : pugi::format_indent,
           pugi::encoding_utf8);
  return out.str();
}

absl::StatusOr<std::unique_ptr<EhisXmlCodec>> EhisXmlCodec::Create(
    const sild::connectors::v1::EhisCodecConfig& config) {
  if (config.max_depth() > 1000) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "max_depth",
                        "at most 1000");
  }
  return std::make_unique<EhisXmlCodec>(config);
}

namespace {

using EhisXmlCodecFactory =
    TypedCodecFactory<EhisXmlCodec::kName,
                      sild::connectors::v1::EhisCodecConfig, EhisXmlCodec>;

SILD_REGISTER_CODEC_FACTORY(EhisXmlCodecFactory);

}  // namespace
}  // namespace sild::connectors
