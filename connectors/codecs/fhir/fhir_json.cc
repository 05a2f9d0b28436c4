#include "connectors/codecs/fhir/fhir_json.h"

#include "absl/strings/str_cat.h"
#include "connectors/sdk/json_fields.h"
#include "gateway/base/errors.h"
#include "google/protobuf/util/time_util.h"

namespace sild::connectors::fhir_internal {
namespace {

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return InvalidField("INVALID_FHIR", path, message);
}

}  // namespace

absl::StatusOr<Json> ParseBounded(absl::string_view native,
                                  const CodecLimits& limits) {
  absl::StatusOr<Json> json =
      ParseJsonBounded<Json>(native, limits, "INVALID_JSON");
  if (!json.ok()) return json.status();
  if (!json->is_object()) {
    return InvalidField("INVALID_FHIR", "", "a FHIR resource is a JSON object");
  }
  return json;
}

absl::StatusOr<Node> Node::Get(absl::string_view key) const {
  std::string path = PointerTo(path_, key);
  if (!present()) return Node(nullptr, path);
  if (!value_->is_object()) {
    return Invalid(path_, "expected a JSON object");
  }
  auto it = value_->find(std::string(key));
  if (it == value_->end()) return Node(nullptr, path);
  return Node(&*it, path);
}

absl::StatusOr<std::vector<Node>> Node::Elements() const {
  std::vector<Node> out;
  if (!present()) return out;
  if (!value_->is_array()) return Invalid(path_, "expected a JSON array");
  for (size_t i = 0; i < value_->size(); ++i) {
    out.emplace_back(&(*value_)[i], absl::StrCat(path_, "/", i));
  }
  return out;
}

absl::StatusOr<std::string> Node::String() const {
  if (!present()) return std::string();
  if (!value_->is_string()) return Invalid(path_, "expected a string");
  return value_->get<std::string>();
}

absl::StatusOr<std::string> Node::RequiredString() const {
  auto value = String();
  if (!value.ok()) return value.status();
  if (value->empty()) {
    return InvalidField("MISSING_FIELD", path_, "required element missing");
  }
  return value;
}

absl::StatusOr<std::string> StringAt(const Node& node, absl::string_view key) {
  auto member = node.Get(key);
  if (!member.ok()) return member.status();
  return member->String();
}

absl::StatusOr<google::protobuf::Timestamp> ParseDateTime(
    absl::string_view text, absl::string_view path) {
  std::string full(text);
  // FHIR partial dates: YYYY, YYYY-MM, YYYY-MM-DD.
  if (full.size() == 4) full += "-01";
  if (full.size() == 7) full += "-01";
  if (full.size() == 10) full += "T00:00:00Z";
  google::protobuf::Timestamp time;
  if (!google::protobuf::util::TimeUtil::FromString(full, &time)) {
    return InvalidField("INVALID_DATE_TIME", path,
                        absl::StrCat("\"", text, "\" is not a FHIR dateTime"));
  }
  return time;
}

std::string FormatDateTime(const google::protobuf::Timestamp& time) {
  return google::protobuf::util::TimeUtil::ToString(time);
}

}  // namespace sild::connectors::fhir_internal
