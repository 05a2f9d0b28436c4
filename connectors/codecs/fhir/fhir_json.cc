#include "connectors/codecs/fhir/fhir_json.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "google/protobuf/util/time_util.h"

namespace sild::connectors::fhir_internal {
namespace {

// Counts nesting without building anything; stops at the first container
// deeper than the limit. nlohmann's SAX parser keeps its own state on the
// heap, so depth 100000 costs no stack.
class DepthCheck final : public nlohmann::json_sax<Json> {
 public:
  explicit DepthCheck(int max_depth) : max_depth_(max_depth) {}
  bool too_deep = false;
  std::string error;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return Enter(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return Leave(); }
  bool start_array(std::size_t) override { return Enter(); }
  bool end_array() override { return Leave(); }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  bool Enter() {
    if (++depth_ > max_depth_) {
      too_deep = true;
      return false;
    }
    return true;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  int max_depth_;
  int depth_ = 0;
};

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return InvalidField("INVALID_FHIR", path, message);
}

std::string Pointer(absl::string_view base, absl::string_view key) {
  // RFC 6901 escaping of the key.
  std::string escaped;
  for (char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return absl::StrCat(base, "/", escaped);
}

}  // namespace

absl::StatusOr<Json> ParseBounded(absl::string_view native,
                                  const CodecLimits& limits) {
  if (native.size() > limits.max_bytes) {
    return MakeError(
        absl::StatusCode::kResourceExhausted, "INPUT_TOO_LARGE", "",
        absl::StrCat(native.size(), " bytes exceed ", limits.max_bytes));
  }
  DepthCheck check(limits.max_depth);
  bool ok = false;
  try {
    ok = Json::sax_parse(native.begin(), native.end(), &check);
  } catch (const std::exception& e) {
    return InvalidField("INVALID_JSON", "", e.what());
  }
  if (check.too_deep) {
    return MakeError(
        absl::StatusCode::kResourceExhausted, "INPUT_TOO_DEEP", "",
        absl::StrCat("JSON nested deeper than ", limits.max_depth));
  }
  if (!ok) {
    return InvalidField("INVALID_JSON", "",
                        check.error.empty() ? "not JSON" : check.error);
  }
  Json json;
  try {
    json = Json::parse(native.begin(), native.end());
  } catch (const std::exception& e) {
    return InvalidField("INVALID_JSON", "", e.what());
  }
  if (!json.is_object()) {
    return InvalidField("INVALID_FHIR", "", "a FHIR resource is a JSON object");
  }
  return json;
}

absl::StatusOr<Node> Node::Get(absl::string_view key) const {
  std::string path = Pointer(path_, key);
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

std::string Dump(const Json& json, bool pretty) {
  return json.dump(pretty ? 2 : -1, ' ', false,
                   nlohmann::json::error_handler_t::replace);
}

}  // namespace sild::connectors::fhir_internal
