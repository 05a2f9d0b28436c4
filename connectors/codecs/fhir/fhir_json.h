// JSON plumbing of the fhir-r4 codec: typed access that reports JSON pointers
// and INVALID_FHIR, and FHIR's dateTime. Internal to connectors/codecs/fhir;
// what all JSON codecs share (bounded parsing, pointers, serialising) is in
// connectors/sdk/json_fields.h.
#ifndef SILD_CONNECTORS_CODECS_FHIR_FHIR_JSON_H_
#define SILD_CONNECTORS_CODECS_FHIR_FHIR_JSON_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connectors/sdk/codec.h"
#include "google/protobuf/timestamp.pb.h"
#include "nlohmann/json.hpp"

namespace sild::connectors::fhir_internal {

using Json = nlohmann::ordered_json;

// Parses `native` as one JSON object (ParseJsonBounded: RESOURCE_EXHAUSTED
// INPUT_TOO_LARGE / INPUT_TOO_DEEP); syntax errors give INVALID_ARGUMENT
// INVALID_JSON, another top level INVALID_FHIR.
absl::StatusOr<Json> ParseBounded(absl::string_view native,
                                  const CodecLimits& limits);

// A JSON value with its pointer, for typed reads with precise errors.
class Node {
 public:
  Node(const Json* value, std::string path)
      : value_(value), path_(std::move(path)) {}

  bool present() const { return value_ != nullptr && !value_->is_null(); }
  const std::string& path() const { return path_; }
  const Json& json() const { return *value_; }

  // A member (absent -> !present()); INVALID_FHIR when this is not an object.
  absl::StatusOr<Node> Get(absl::string_view key) const;
  // Elements of an array (absent -> empty); INVALID_FHIR when not an array.
  absl::StatusOr<std::vector<Node>> Elements() const;
  // The string value; "" when absent; INVALID_FHIR when not a string.
  absl::StatusOr<std::string> String() const;
  // A required string: MISSING_FIELD at this path when absent or empty.
  absl::StatusOr<std::string> RequiredString() const;

 private:
  const Json* value_;
  std::string path_;
};

// The members of `node` named by `key`, as a string ("" when absent).
absl::StatusOr<std::string> StringAt(const Node& node, absl::string_view key);

// FHIR dateTime / instant / date <-> Timestamp. Dates (YYYY, YYYY-MM,
// YYYY-MM-DD) mean the first instant of that period in UTC.
absl::StatusOr<google::protobuf::Timestamp> ParseDateTime(
    absl::string_view text, absl::string_view path);
std::string FormatDateTime(const google::protobuf::Timestamp& time);

}  // namespace sild::connectors::fhir_internal

#endif  // SILD_CONNECTORS_CODECS_FHIR_FHIR_JSON_H_
