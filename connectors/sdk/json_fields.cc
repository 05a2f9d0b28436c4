#include "connectors/sdk/json_fields.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "gateway/base/errors.h"
#include "google/protobuf/descriptor.h"

namespace sild::connectors {
namespace {

using nlohmann::json;

// Thrown from the parser callback to stop at the first too-deep container;
// caught in ParseJsonLimited.
struct TooDeep {};

absl::Status WrongType(absl::string_view pointer, absl::string_view expected) {
  return InvalidField("INVALID_TYPE", pointer,
                      absl::StrCat("expected ", expected));
}

absl::StatusOr<sild::v1::Date> MakeDate(int year, int month, int day,
                                        absl::string_view pointer,
                                        absl::string_view format) {
  const absl::CivilDay civil(year, month, day);
  if (year < 1800 || civil.year() != year || civil.month() != month ||
      civil.day() != day) {
    return InvalidField("INVALID_DATE", pointer,
                        absl::StrCat("not a real date ", format));
  }
  sild::v1::Date date;
  date.set_year(year);
  date.set_month(month);
  date.set_day(day);
  return date;
}

// Digits at `positions` and separators elsewhere, of exactly `pattern`'s
// length; pattern characters: 'd' digit, anything else literal.
bool Matches(absl::string_view text, absl::string_view pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (pattern[i] == 'd') {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
        return false;
      }
    } else if (text[i] != pattern[i]) {
      return false;
    }
  }
  return true;
}

int Digits(absl::string_view text, size_t at, size_t count) {
  int value = 0;
  for (size_t i = at; i < at + count; ++i) value = value * 10 + (text[i] - '0');
  return value;
}

}  // namespace

template <typename Json>
absl::StatusOr<Json> ParseJsonBounded(absl::string_view text,
                                      const CodecLimits& limits,
                                      absl::string_view malformed_reason) {
  if (text.size() > limits.max_bytes) {
    return MakeError(absl::StatusCode::kResourceExhausted, "INPUT_TOO_LARGE",
                     "",
                     absl::StrCat("document of ", text.size(),
                                  " bytes exceeds ", limits.max_bytes));
  }
  const int max_depth = limits.max_depth;
  // `depth` is the nesting of the container being opened, the top level
  // being 0.
  typename Json::parser_callback_t guard =
      [max_depth](int depth, typename Json::parse_event_t event, Json&) {
        if ((event == Json::parse_event_t::object_start ||
             event == Json::parse_event_t::array_start) &&
            depth + 1 > max_depth) {
          throw TooDeep();
        }
        return true;
      };
  Json doc;
  try {
    doc = Json::parse(text.begin(), text.end(), guard,
                      /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const TooDeep&) {
    return MakeError(absl::StatusCode::kResourceExhausted, "INPUT_TOO_DEEP", "",
                     absl::StrCat("JSON nests deeper than ", max_depth));
  } catch (const std::exception& e) {
    return InvalidField(malformed_reason, "", e.what());
  }
  return doc;
}

template absl::StatusOr<json> ParseJsonBounded(absl::string_view,
                                               const CodecLimits&,
                                               absl::string_view);
template absl::StatusOr<nlohmann::ordered_json> ParseJsonBounded(
    absl::string_view, const CodecLimits&, absl::string_view);

absl::StatusOr<json> ParseJsonLimited(absl::string_view text,
                                      const CodecLimits& limits) {
  absl::StatusOr<json> doc = ParseJsonBounded<json>(text, limits);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return InvalidField("NOT_AN_OBJECT", "", "the document is a JSON object");
  }
  return doc;
}

std::string DumpJson(const nlohmann::ordered_json& json, bool pretty) {
  return json.dump(pretty ? 2 : -1, ' ', false,
                   nlohmann::json::error_handler_t::replace);
}

std::string EscapePointerToken(absl::string_view token) {
  return absl::StrReplaceAll(token, {{"~", "~0"}, {"/", "~1"}});
}

std::string PointerTo(absl::string_view pointer, absl::string_view key) {
  return absl::StrCat(pointer, "/", EscapePointerToken(key));
}

std::string JsonObject::PointerOf(absl::string_view key) const {
  return PointerTo(pointer_, key);
}

const json* JsonObject::Find(absl::string_view key) const {
  auto it = value_->find(std::string(key));
  if (it == value_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonObject::Has(absl::string_view key) const {
  return Find(key) != nullptr;
}

absl::Status JsonObject::AllowOnly(
    std::initializer_list<absl::string_view> keys) const {
  for (auto it = value_->begin(); it != value_->end(); ++it) {
    bool known = false;
    for (absl::string_view key : keys) known |= key == it.key();
    if (!known) {
      return InvalidField(
          "UNKNOWN_FIELD", PointerOf(it.key()),
          absl::StrCat("\"", it.key(), "\" is not a member here"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> JsonObject::String(absl::string_view key) const {
  const json* value = Find(key);
  if (value == nullptr) return std::string();
  if (!value->is_string()) return WrongType(PointerOf(key), "a string");
  return value->get<std::string>();
}

absl::StatusOr<std::string> JsonObject::RequiredString(
    absl::string_view key) const {
  absl::StatusOr<std::string> value = String(key);
  if (value.ok() && value->empty()) {
    return InvalidField("MISSING_FIELD", PointerOf(key),
                        absl::StrCat("\"", key, "\" is required"));
  }
  return value;
}

absl::StatusOr<bool> JsonObject::Bool(absl::string_view key) const {
  const json* value = Find(key);
  if (value == nullptr) return false;
  if (!value->is_boolean()) return WrongType(PointerOf(key), "true or false");
  return value->get<bool>();
}

absl::StatusOr<int64_t> JsonObject::Int(absl::string_view key, int64_t min,
                                        int64_t max) const {
  const json* value = Find(key);
  if (value == nullptr) return 0;
  if (!value->is_number_integer()) {
    return WrongType(PointerOf(key), "a whole number");
  }
  if (value->is_number_unsigned() &&
      value->get<uint64_t>() > static_cast<uint64_t>(max)) {
    return InvalidField("INVALID_RANGE", PointerOf(key),
                        absl::StrCat("outside ", min, "..", max));
  }
  const int64_t number = value->get<int64_t>();
  if (number < min || number > max) {
    return InvalidField("INVALID_RANGE", PointerOf(key),
                        absl::StrCat(number, " is outside ", min, "..", max));
  }
  return number;
}

absl::StatusOr<std::optional<JsonObject>> JsonObject::Object(
    absl::string_view key) const {
  const json* value = Find(key);
  if (value == nullptr) return std::optional<JsonObject>();
  if (!value->is_object()) return WrongType(PointerOf(key), "an object");
  return std::optional<JsonObject>(JsonObject(value, PointerOf(key)));
}

absl::StatusOr<JsonObject> JsonObject::RequiredObject(
    absl::string_view key) const {
  absl::StatusOr<std::optional<JsonObject>> value = Object(key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return InvalidField("MISSING_FIELD", PointerOf(key),
                        absl::StrCat("\"", key, "\" is required"));
  }
  return **value;
}

absl::StatusOr<std::vector<JsonObject>> JsonObject::Objects(
    absl::string_view key) const {
  std::vector<JsonObject> out;
  const json* value = Find(key);
  if (value == nullptr) return out;
  if (!value->is_array()) return WrongType(PointerOf(key), "an array");
  for (size_t i = 0; i < value->size(); ++i) {
    const std::string pointer = absl::StrCat(PointerOf(key), "/", i);
    if (!(*value)[i].is_object()) return WrongType(pointer, "an object");
    out.emplace_back(&(*value)[i], pointer);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> JsonObject::Strings(
    absl::string_view key) const {
  std::vector<std::string> out;
  const json* value = Find(key);
  if (value == nullptr) return out;
  if (!value->is_array()) return WrongType(PointerOf(key), "an array");
  for (size_t i = 0; i < value->size(); ++i) {
    if (!(*value)[i].is_string()) {
      return WrongType(absl::StrCat(PointerOf(key), "/", i), "a string");
    }
    out.push_back((*value)[i].get<std::string>());
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> JsonObject::StringMap(
    absl::string_view key) const {
  std::map<std::string, std::string> out;
  const json* value = Find(key);
  if (value == nullptr) return out;
  if (!value->is_object()) return WrongType(PointerOf(key), "an object");
  for (auto it = value->begin(); it != value->end(); ++it) {
    if (!it->is_string()) {
      return WrongType(
          absl::StrCat(PointerOf(key), "/", EscapePointerToken(it.key())),
          "a string");
    }
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

absl::StatusOr<int> ParseEnumToken(const google::protobuf::EnumDescriptor* type,
                                   absl::string_view prefix,
                                   absl::string_view token,
                                   absl::string_view pointer,
                                   const std::vector<int>& allowed) {
  const google::protobuf::EnumValueDescriptor* value =
      token.empty() ? nullptr
                    : type->FindValueByName(absl::StrCat(prefix, token));
  bool ok = value != nullptr && value->number() != 0;
  if (ok && !allowed.empty()) {
    ok = std::find(allowed.begin(), allowed.end(), value->number()) !=
         allowed.end();
  }
  if (!ok) {
    std::string expected;
    for (int i = 0; i < type->value_count(); ++i) {
      const int number = type->value(i)->number();
      if (number == 0) continue;
      if (!allowed.empty() &&
          std::find(allowed.begin(), allowed.end(), number) == allowed.end()) {
        continue;
      }
      absl::string_view name = type->value(i)->name();
      name.remove_prefix(prefix.size());
      absl::StrAppend(&expected, expected.empty() ? "" : ", ", name);
    }
    return InvalidField(
        "INVALID_VALUE", pointer,
        absl::StrCat("\"", token, "\" is not one of ", expected));
  }
  return value->number();
}

std::string EnumToken(const google::protobuf::EnumDescriptor* type,
                      absl::string_view prefix, int number) {
  if (number == 0) return "";
  const google::protobuf::EnumValueDescriptor* value =
      type->FindValueByNumber(number);
  if (value == nullptr) return "";
  absl::string_view name = value->name();
  if (name.size() < prefix.size() || name.substr(0, prefix.size()) != prefix) {
    return "";
  }
  name.remove_prefix(prefix.size());
  return std::string(name);
}

absl::StatusOr<sild::v1::Date> ParseIsoDate(absl::string_view text,
                                            absl::string_view pointer) {
  if (!Matches(text, "dddd-dd-dd")) {
    return InvalidField("INVALID_DATE", pointer, "not a real date YYYY-MM-DD");
  }
  return MakeDate(Digits(text, 0, 4), Digits(text, 5, 2), Digits(text, 8, 2),
                  pointer, "YYYY-MM-DD");
}

absl::StatusOr<sild::v1::Date> ParseDottedDate(absl::string_view text,
                                               absl::string_view pointer) {
  if (!Matches(text, "dd.dd.dddd")) {
    return InvalidField("INVALID_DATE", pointer, "not a real date dd.mm.yyyy");
  }
  return MakeDate(Digits(text, 6, 4), Digits(text, 3, 2), Digits(text, 0, 2),
                  pointer, "dd.mm.yyyy");
}

std::string FormatIsoDate(const sild::v1::Date& date) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", date.year() % 10000,
                date.month() % 100, date.day() % 100);
  return buffer;
}

std::string FormatDottedDate(const sild::v1::Date& date) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%02d.%02d.%04d", date.day() % 100,
                date.month() % 100, date.year() % 10000);
  return buffer;
}

}  // namespace sild::connectors
