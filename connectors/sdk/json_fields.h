// JSON helpers for every JSON codec ("social-json", "uif-json", "fhir-r4"):
// bounded parsing, field-by-field reading with JSON pointers in every error,
// serialising, and the value formats the codecs share (enum tokens, calendar
// dates as "YYYY-MM-DD" or "dd.mm.yyyy"). Library target sild_connector_json.
//
//   SILD_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJsonLimited(text, limits));
//   JsonObject root(&doc, "");
//   SILD_RETURN_IF_ERROR(root.AllowOnly({"type", "child"}));
//   SILD_ASSIGN_OR_RETURN(std::string type, root.RequiredString("type"));
//   // errors: MISSING_FIELD at "/type", INVALID_TYPE, UNKNOWN_FIELD ...
//
// ParseJsonBounded refuses input over limits.max_bytes (INPUT_TOO_LARGE)
// before parsing and stops at the first container deeper than
// limits.max_depth (INPUT_TOO_DEEP), both RESOURCE_EXHAUSTED; nlohmann's
// parser does not recurse, so depth cannot exhaust the stack. Malformed JSON
// (including invalid UTF-8) is INVALID_ARGUMENT with the reason the caller
// names (MALFORMED_JSON by default). ParseJsonLimited adds: a top level that
// is not an object is NOT_AN_OBJECT. A null member counts as absent.
// Duplicate member names: the last one wins (nlohmann's rule).
//
// A JsonObject borrows the json value it reads; keep the document alive.
// No exception leaves these functions. Thread-compatible.
#ifndef SILD_CONNECTORS_SDK_JSON_FIELDS_H_
#define SILD_CONNECTORS_SDK_JSON_FIELDS_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connectors/sdk/codec.h"
#include "nlohmann/json.hpp"
#include "sild/v1/common.pb.h"

namespace sild::connectors {

// Any JSON value (see the file comment): size, then depth and syntax in one
// pass. `Json` is nlohmann::json or nlohmann::ordered_json.
template <typename Json>
absl::StatusOr<Json> ParseJsonBounded(
    absl::string_view text, const CodecLimits& limits,
    absl::string_view malformed_reason = "MALFORMED_JSON");
extern template absl::StatusOr<nlohmann::json> ParseJsonBounded(
    absl::string_view, const CodecLimits&, absl::string_view);
extern template absl::StatusOr<nlohmann::ordered_json> ParseJsonBounded(
    absl::string_view, const CodecLimits&, absl::string_view);

// A JSON object document: ParseJsonBounded, MALFORMED_JSON, NOT_AN_OBJECT.
absl::StatusOr<nlohmann::json> ParseJsonLimited(absl::string_view text,
                                                const CodecLimits& limits);

// Serialises compactly or indented by 2; invalid UTF-8 (never produced by
// sild, but proto strings from peers may hold it) is replaced rather than
// thrown on.
std::string DumpJson(const nlohmann::ordered_json& json, bool pretty);

// A JSON pointer reference token: "~" -> "~0", "/" -> "~1".
std::string EscapePointerToken(absl::string_view token);
// `pointer` extended by the member `key`: pointer + "/" + escaped key.
std::string PointerTo(absl::string_view pointer, absl::string_view key);

class JsonObject {
 public:
  // `value` must be an object (checked by whoever hands it out).
  JsonObject(const nlohmann::json* value, std::string pointer)
      : value_(value), pointer_(std::move(pointer)) {}

  const std::string& pointer() const { return pointer_; }
  std::string PointerOf(absl::string_view key) const;
  // Present and not null.
  bool Has(absl::string_view key) const;

  // UNKNOWN_FIELD for a member not in `keys`.
  absl::Status AllowOnly(std::initializer_list<absl::string_view> keys) const;

  // "" / false / 0 when absent; INVALID_TYPE when of another JSON type.
  absl::StatusOr<std::string> String(absl::string_view key) const;
  // MISSING_FIELD when absent or "".
  absl::StatusOr<std::string> RequiredString(absl::string_view key) const;
  absl::StatusOr<bool> Bool(absl::string_view key) const;
  // A whole number in [min, max] (INVALID_RANGE outside).
  absl::StatusOr<int64_t> Int(absl::string_view key, int64_t min,
                              int64_t max) const;
  absl::StatusOr<std::optional<JsonObject>> Object(absl::string_view key) const;
  absl::StatusOr<JsonObject> RequiredObject(absl::string_view key) const;
  // Each element must be an object; [] when absent.
  absl::StatusOr<std::vector<JsonObject>> Objects(absl::string_view key) const;
  // Each element must be a string; [] when absent.
  absl::StatusOr<std::vector<std::string>> Strings(absl::string_view key) const;
  // An object whose members are all strings; {} when absent.
  absl::StatusOr<std::map<std::string, std::string>> StringMap(
      absl::string_view key) const;

 private:
  const nlohmann::json* Find(absl::string_view key) const;

  const nlohmann::json* value_;
  std::string pointer_;
};

// Enum tokens: the canonical enum value name without its prefix
// ("PSYCHOLOGIST" for SERVICE_TYPE_PSYCHOLOGIST), exact case. Returns the
// number, or INVALID_VALUE at `pointer` for an unknown token or an UNSPECIFIED
// value. `allowed`, when not empty, restricts the accepted values.
absl::StatusOr<int> ParseEnumToken(const google::protobuf::EnumDescriptor* type,
                                   absl::string_view prefix,
                                   absl::string_view token,
                                   absl::string_view pointer,
                                   const std::vector<int>& allowed = {});
// The token of `number`, "" for UNSPECIFIED (0) or an unknown number.
std::string EnumToken(const google::protobuf::EnumDescriptor* type,
                      absl::string_view prefix, int number);

// "YYYY-MM-DD" (ISO 8601 calendar date) and "dd.mm.yyyy": real dates only,
// INVALID_DATE at `pointer` otherwise.
absl::StatusOr<sild::v1::Date> ParseIsoDate(absl::string_view text,
                                            absl::string_view pointer);
absl::StatusOr<sild::v1::Date> ParseDottedDate(absl::string_view text,
                                               absl::string_view pointer);
std::string FormatIsoDate(const sild::v1::Date& date);
std::string FormatDottedDate(const sild::v1::Date& date);

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_SDK_JSON_FIELDS_H_
