#include "connectors/codecs/social/social_json_codec.h"

#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "connectors/sdk/conformance/codec_conformance.h"
#include "connectors/sdk/json_fields.h"
#include "gateway/base/errors.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sild/v1/referral.pb.h"
#include "tests/connectors/codecs/golden_files.h"

namespace sild::connectors {
namespace {

using conformance::CodecConformanceParams;
using nlohmann::json;
using testing::ExpectDecodesTo;
using testing::ExpectEncodesTo;
using testing::LoadCanonical;
using testing::ReadGolden;

constexpr char kFolder[] = "social";
constexpr char kSchemaPath[] = "docs/schemas/social-services.schema.json";

SocialJsonCodec PrettyCodec() {
  sild::connectors::v1::SocialCodecConfig config;
  config.set_pretty(true);
  return SocialJsonCodec(config);
}

// ---------------------------------------------------------------------------
// A small structural JSON Schema check: the keywords
// docs/schemas/social-services.schema.json uses ($ref to #/$defs, type,
// required, properties, additionalProperties, propertyNames, enum, const,
// pattern, minLength, minimum, maximum, items, oneOf, allOf, if/then/else,
// not). Returns the first violation as "pointer: problem", "" when valid.
class SchemaCheck {
 public:
  explicit SchemaCheck(json root) : root_(std::move(root)) {}

  std::string Validate(const json& value) const {
    return Check(root_, value, "");
  }

 private:
  const json& Resolve(const json& schema) const {
    if (!schema.is_object() || !schema.contains("$ref")) return schema;
    std::string ref = schema["$ref"];
    EXPECT_TRUE(absl::StartsWith(ref, "#/$defs/")) << ref;
    return Resolve(root_["$defs"][ref.substr(8)]);
  }

  static bool HasType(const json& value, const std::string& type) {
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "integer") return value.is_number_integer();
    if (type == "number") return value.is_number();
    if (type == "boolean") return value.is_boolean();
    if (type == "null") return value.is_null();
    return false;
  }

  std::string Check(const json& schema_or_ref, const json& value,
                    const std::string& at) const {
    const json& schema = Resolve(schema_or_ref);
    if (schema.contains("type") && !HasType(value, schema["type"])) {
      return at + ": not of type " + schema["type"].get<std::string>();
    }
    if (schema.contains("const") && value != schema["const"]) {
      return at + ": not " + schema["const"].dump();
    }
    if (schema.contains("enum")) {
      bool found = false;
      for (const json& option : schema["enum"]) found |= option == value;
      if (!found) return at + ": " + value.dump() + " not in enum";
    }
    if (value.is_string()) {
      const std::string text = value;
      if (schema.contains("minLength") &&
          text.size() < schema["minLength"].get<size_t>()) {
        return at + ": too short";
      }
      if (schema.contains("pattern") &&
          !std::regex_search(
              text, std::regex(schema["pattern"].get<std::string>()))) {
        return at + ": does not match " + schema["pattern"].dump();
      }
    }
    if (value.is_number()) {
      if (schema.contains("minimum") && value < schema["minimum"]) {
        return at + ": below minimum";
      }
      if (schema.contains("maximum") && value > schema["maximum"]) {
        return at + ": above maximum";
      }
    }
    if (value.is_object()) {
      for (const json& key : schema.value("required", json::array())) {
        if (!value.contains(key.get<std::string>())) {
          return at + ": missing required " + key.get<std::string>();
        }
      }
      const json properties = schema.value("properties", json::object());
      for (auto it = value.begin(); it != value.end(); ++it) {
        const std::string child = at + "/" + EscapePointerToken(it.key());
        if (schema.contains("propertyNames")) {
          std::string error =
              Check(schema["propertyNames"], json(it.key()), child);
          if (!error.empty()) return error;
        }
        if (properties.contains(it.key())) {
          std::string error = Check(properties[it.key()], *it, child);
          if (!error.empty()) return error;
        } else if (schema.contains("additionalProperties")) {
          const json& extra = schema["additionalProperties"];
          if (extra.is_boolean() && !extra.get<bool>()) {
            return child + ": not allowed";
          }
          if (extra.is_object()) {
            std::string error = Check(extra, *it, child);
            if (!error.empty()) return error;
          }
        }
      }
    }
    if (value.is_array() && schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i) {
        std::string error =
            Check(schema["items"], value[i], at + "/" + std::to_string(i));
        if (!error.empty()) return error;
      }
    }
    if (schema.contains("oneOf")) {
      int matches = 0;
      std::string errors;
      for (const json& option : schema["oneOf"]) {
        std::string error = Check(option, value, at);
        if (error.empty()) {
          ++matches;
        } else {
          errors += " [" + error + "]";
        }
      }
      if (matches != 1) {
        return at + ": matches " + std::to_string(matches) +
               " oneOf alternatives" + errors;
      }
    }
    for (const json& part : schema.value("allOf", json::array())) {
      std::string error = Check(part, value, at);
      if (!error.empty()) return error;
    }
    if (schema.contains("not") && Check(schema["not"], value, at).empty()) {
      return at + ": matches a \"not\" schema";
    }
    if (schema.contains("if")) {
      const bool condition = Check(schema["if"], value, at).empty();
      const char* branch = condition ? "then" : "else";
      if (schema.contains(branch)) {
        std::string error = Check(schema[branch], value, at);
        if (!error.empty()) return error;
      }
    }
    return "";
  }

  json root_;
};

SchemaCheck LoadSchema() {
  return SchemaCheck(json::parse(testing::ReadSourceFile(kSchemaPath)));
}

TEST(SocialServicesSchema, EveryGoldenNativeFileIsValid) {
  const SchemaCheck schema = LoadSchema();
  int checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::GoldenPath(kFolder, ""))) {
    const std::string name = entry.path().filename().string();
    if (!absl::EndsWith(name, ".native.json")) continue;
    SCOPED_TRACE(name);
    EXPECT_EQ(schema.Validate(json::parse(ReadGolden(kFolder, name))), "");
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

TEST(SocialServicesSchema, EncodedSamplesAreValid) {
  const SchemaCheck schema = LoadSchema();
  for (const char* name : {"referral", "decision_accepted", "decision_rejected",
                           "decision_with_services"}) {
    SCOPED_TRACE(name);
    auto encoded = SocialJsonCodec().Encode(
        LoadCanonical(kFolder, absl::StrCat(name, ".canonical.json")));
    ASSERT_TRUE(encoded.ok());
    EXPECT_EQ(schema.Validate(json::parse(*encoded)), "");
  }
}

TEST(SocialServicesSchema, TheCheckCanFail) {
  const SchemaCheck schema = LoadSchema();
  json rejected =
      json::parse(ReadGolden(kFolder, "decision_rejected.native.json"));
  rejected.erase("rejectionReason");
  EXPECT_NE(schema.Validate(rejected), "");
  json accepted =
      json::parse(ReadGolden(kFolder, "decision_accepted.native.json"));
  accepted["rejectionReason"] = "NO_CAPACITY";
  EXPECT_NE(schema.Validate(accepted), "");
  json referral = json::parse(ReadGolden(kFolder, "referral.native.json"));
  referral["service"] = "ASTROLOGER";
  EXPECT_NE(schema.Validate(referral), "");
  referral = json::parse(ReadGolden(kFolder, "referral.native.json"));
  referral["child"]["nickname"] = "M";
  EXPECT_NE(schema.Validate(referral), "");
  referral = json::parse(ReadGolden(kFolder, "referral.native.json"));
  referral.erase("idempotencyKey");
  EXPECT_NE(schema.Validate(referral), "");
  referral = json::parse(ReadGolden(kFolder, "referral.native.json"));
  referral["needsAssessment"]["findings"][2]["quarter"] = 5;
  EXPECT_NE(schema.Validate(referral), "");
  referral = json::parse(ReadGolden(kFolder, "referral.native.json"));
  referral["extensions"]["social.casePlanGoal"] = "x";
  EXPECT_NE(schema.Validate(referral), "");
}

// The schema's enums are exactly the canonical values the codec accepts, so
// neither can drift from the other.
std::set<std::string> CanonicalTokens(
    const google::protobuf::EnumDescriptor* type, const std::string& prefix,
    std::set<std::string> exclude = {}) {
  std::set<std::string> tokens;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    std::string token = type->value(i)->name().substr(prefix.size());
    if (!exclude.count(token)) tokens.insert(token);
  }
  return tokens;
}

std::set<std::string> SchemaEnum(const json& schema) {
  std::set<std::string> tokens;
  for (const json& token : schema["enum"]) tokens.insert(token);
  return tokens;
}

TEST(SocialServicesSchema, EnumsMatchTheCanonicalSchema) {
  const json schema = json::parse(testing::ReadSourceFile(kSchemaPath));
  const json& defs = schema["$defs"];
  EXPECT_EQ(
      SchemaEnum(defs["service"]),
      CanonicalTokens(sild::v1::ServiceType_descriptor(), "SERVICE_TYPE_"));
  EXPECT_EQ(SchemaEnum(defs["purpose"]),
            CanonicalTokens(sild::v1::Purpose_descriptor(), "PURPOSE_"));
  const json& referral = defs["referral"]["properties"];
  EXPECT_EQ(SchemaEnum(referral["urgency"]),
            CanonicalTokens(sild::v1::Urgency_descriptor(), "URGENCY_"));
  EXPECT_EQ(SchemaEnum(referral["educationStage"]["properties"]["level"]),
            CanonicalTokens(sild::v1::EducationLevel_descriptor(),
                            "EDUCATION_LEVEL_"));
  EXPECT_EQ(SchemaEnum(defs["representative"]["properties"]["relation"]),
            CanonicalTokens(sild::v1::RepresentativeRelation_descriptor(),
                            "REPRESENTATIVE_RELATION_"));
  const json& decision = defs["referralDecision"]["properties"];
  EXPECT_EQ(SchemaEnum(decision["decision"]),
            CanonicalTokens(sild::v1::ReferralStatus_descriptor(),
                            "REFERRAL_STATUS_", {"SUBMITTED"}));
  EXPECT_EQ(SchemaEnum(decision["rejectionReason"]),
            CanonicalTokens(sild::v1::RejectionReason_descriptor(),
                            "REJECTION_REASON_"));
  EXPECT_EQ(
      SchemaEnum(defs["indicator"]["oneOf"][5]["properties"]["supportLevel"]),
      CanonicalTokens(sild::v1::SupportLevel_descriptor(), "SUPPORT_LEVEL_"));
}

// ---------------------------------------------------------------------------
// Golden files.

TEST(SocialJsonCodecGolden, ReferralBothWays) {
  SocialJsonCodec codec = PrettyCodec();
  ExpectDecodesTo(codec, kFolder, "referral.native.json",
                  "referral.canonical.json");
  ExpectEncodesTo(codec, kFolder, "referral.canonical.json",
                  "referral.native.json");
}

TEST(SocialJsonCodecGolden, DecisionsBothWays) {
  SocialJsonCodec codec = PrettyCodec();
  for (const char* name : {"decision_accepted", "decision_rejected"}) {
    ExpectDecodesTo(codec, kFolder, absl::StrCat(name, ".native.json"),
                    absl::StrCat(name, ".canonical.json"));
    ExpectEncodesTo(codec, kFolder, absl::StrCat(name, ".canonical.json"),
                    absl::StrCat(name, ".native.json"));
  }
}

TEST(SocialJsonCodecGolden, ServicesGrantedTravelInTheNote) {
  ExpectDecodesTo(PrettyCodec(), kFolder, "decision_with_services.native.json",
                  "decision_with_services.canonical.json");
  auto decoded = SocialJsonCodec().Decode(
      ReadGolden(kFolder, "decision_with_services.native.json"));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(absl::EndsWith(
      decoded->status_update().change().note(),
      "\nServices granted: SOCIAL_WORKER 2024-02-12..2024-06-14; YOUTH_WORK"))
      << decoded->status_update().change().note();
}

// ---------------------------------------------------------------------------
// Mapping details.

TEST(SocialJsonCodec, PurposeDefaultsFromTheService) {
  auto decoded = SocialJsonCodec().Decode(
      R"({"type":"referral","idempotencyKey":"k","child":{"personalCode":"51205280105"},"service":"CHILD_PROTECTION_ASSESSMENT"})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->referral().header().purpose(),
            sild::v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION);
}

TEST(SocialJsonCodec, DecisionNamesItsReferralInReplyTo) {
  auto decoded = SocialJsonCodec().Decode(
      ReadGolden(kFolder, "decision_accepted.native.json"));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->status_update().header().in_reply_to(),
            "0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a63");
  EXPECT_EQ(decoded->kind(), sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
}

TEST(SocialJsonCodec, EncodeRefusesKindsItCannotCarry) {
  sild::v1::Envelope envelope;
  envelope.mutable_transition();
  EXPECT_EQ(ErrorReason(SocialJsonCodec().Encode(envelope).status()),
            "UNSUPPORTED_KIND");
}

// ---------------------------------------------------------------------------
// The conformance kit.

std::string Referral(const std::string& members) {
  return absl::StrCat(
      R"({"type":"referral","idempotencyKey":"k","service":"PSYCHOLOGIST",)",
      members, "}");
}

std::string Decision(const std::string& members) {
  return absl::StrCat(
      R"({"type":"referralDecision","idempotencyKey":"k","referralId":"r",)",
      members, "}");
}

constexpr char kChild[] = R"("child":{"personalCode":"51205280105"})";

CodecConformanceParams SocialParams() {
  CodecConformanceParams params;
  params.codec_name = SocialJsonCodec::kName;
  params.samples = {
      {.name = "referral",
       .canonical = LoadCanonical(kFolder, "referral.canonical.json"),
       .carried = {"message_id", "kind", "referral"}},
      {.name = "decision_accepted",
       .canonical = LoadCanonical(kFolder, "decision_accepted.canonical.json"),
       .carried = {"message_id", "kind", "status_update"}},
      {.name = "decision_rejected",
       .canonical = LoadCanonical(kFolder, "decision_rejected.canonical.json"),
       .carried = {"message_id", "kind", "status_update"}},
  };
  // What the format cannot carry: a referral's status and history, the
  // header's sender, recipients, basis and time, agency kinds.
  sild::v1::Envelope rich = LoadCanonical(kFolder, "referral.canonical.json");
  sild::v1::Referral* referral = rich.mutable_referral();
  referral->set_status(sild::v1::REFERRAL_STATUS_SUBMITTED);
  referral->add_history()->set_status(sild::v1::REFERRAL_STATUS_SUBMITTED);
  referral->mutable_header()->mutable_sender()->set_registry_code("75001023");
  referral->mutable_header()->set_schema_version("1.0");
  referral->mutable_performer()->set_kind(sild::v1::AGENCY_KIND_SCHOOL_HEALTH);
  params.samples.push_back({.name = "referral_with_uncarried_fields",
                            .canonical = rich,
                            .carried = {"message_id",
                                        "kind",
                                        "referral.header.message_id",
                                        "referral.header.idempotency_key",
                                        "referral.header.case_id",
                                        "referral.header.purpose",
                                        "referral.header.kind",
                                        "referral.subject",
                                        "referral.representatives",
                                        "referral.service",
                                        "referral.risk_indicators",
                                        "referral.urgency",
                                        "referral.summary",
                                        "referral.requested_by",
                                        "referral.performer.registry_code",
                                        "referral.performer.name",
                                        "referral.municipality",
                                        "referral.education_stage",
                                        "referral.respond_by",
                                        "referral.extensions"}});
  params.invalid = {
      {.name = "bad_personal_code",
       .native = Referral(R"("child":{"personalCode":"51205280106"})"),
       .reason = "INVALID_PERSONAL_CODE",
       .field = "/child/personalCode"},
      {.name = "child_without_identity",
       .native = Referral(R"("child":{"givenName":"Mari"})"),
       .reason = "MISSING_FIELD",
       .field = "/child/personalCode"},
      {.name = "february_31",
       .native = Referral(absl::StrCat(kChild, R"(,"respondBy":"2024-02-31")")),
       .reason = "INVALID_DATE",
       .field = "/respondBy"},
      {.name = "dotted_date",
       .native = Referral(absl::StrCat(kChild, R"(,"respondBy":"15.02.2024")")),
       .reason = "INVALID_DATE",
       .field = "/respondBy"},
      {.name = "unknown_service",
       .native = absl::StrCat(
           R"({"type":"referral","idempotencyKey":"k","service":"ASTROLOGER",)",
           kChild, "}"),
       .reason = "INVALID_VALUE",
       .field = "/service"},
      {.name = "prefixed_enum",
       .native = absl::StrCat(
           R"({"type":"referral","idempotencyKey":"k","service":"SERVICE_TYPE_PSYCHOLOGIST",)",
           kChild, "}"),
       .reason = "INVALID_VALUE",
       .field = "/service"},
      {.name = "unknown_member",
       .native =
           Referral(R"("child":{"personalCode":"51205280105","nickname":"M"})"),
       .reason = "UNKNOWN_FIELD",
       .field = "/child/nickname"},
      {.name = "bad_performer",
       .native = Referral(
           absl::StrCat(kChild, R"(,"performer":{"registryCode":"75001024"})")),
       .reason = "INVALID_REGISTRY_CODE",
       .field = "/performer/registryCode"},
      {.name = "quarter_as_string",
       .native = Referral(absl::StrCat(
           kChild,
           R"(,"needsAssessment":{"findings":[{"type":"ATTENDANCE","quarter":"2"}]})")),
       .reason = "INVALID_TYPE",
       .field = "/needsAssessment/findings/0/quarter"},
      {.name = "quarter_5",
       .native = Referral(absl::StrCat(
           kChild,
           R"(,"needsAssessment":{"findings":[{"type":"SOCIAL"},{"type":"ATTENDANCE","quarter":5}]})")),
       .reason = "INVALID_RANGE",
       .field = "/needsAssessment/findings/1/quarter"},
      {.name = "unknown_finding",
       .native = Referral(absl::StrCat(
           kChild,
           R"(,"needsAssessment":{"findings":[{"type":"HOROSCOPE"}]})")),
       .reason = "INVALID_VALUE",
       .field = "/needsAssessment/findings/0/type"},
      {.name = "reserved_extension",
       .native = Referral(absl::StrCat(
           kChild, R"(,"extensions":{"social.casePlanGoal":"x"})")),
       .reason = "INVALID_VALUE",
       .field = "/extensions/social.casePlanGoal"},
      {.name = "missing_idempotency_key",
       .native = absl::StrCat(R"({"type":"referral","service":"PSYCHOLOGIST",)",
                              kChild, "}"),
       .reason = "MISSING_IDEMPOTENCY_KEY",
       .field = "/idempotencyKey"},
      {.name = "unknown_type",
       .native = R"({"type":"casePlan","idempotencyKey":"k"})",
       .reason = "INVALID_VALUE",
       .field = "/type"},
      {.name = "rejected_without_reason",
       .native = Decision(R"("decision":"REJECTED")"),
       .reason = "MISSING_FIELD",
       .field = "/rejectionReason"},
      {.name = "reason_without_rejection",
       .native =
           Decision(R"("decision":"ACCEPTED","rejectionReason":"NO_CAPACITY")"),
       .reason = "INVALID_VALUE",
       .field = "/rejectionReason"},
      {.name = "submitted_is_not_a_decision",
       .native = Decision(R"("decision":"SUBMITTED")"),
       .reason = "INVALID_VALUE",
       .field = "/decision"},
      {.name = "bad_time",
       .native =
           Decision(R"("decision":"ACCEPTED","decidedAt":"2024-02-05 09:30")"),
       .reason = "INVALID_TIME",
       .field = "/decidedAt"},
      {.name = "bad_granted_service_date",
       .native = Decision(
           R"("decision":"ACCEPTED","servicesGranted":[{"service":"YOUTH_WORK","to":"2024-13-01"}])"),
       .reason = "INVALID_DATE",
       .field = "/servicesGranted/0/to"},
      {.name = "not_json",
       .native = R"({"type": "referral",)",
       .reason = "MALFORMED_JSON",
       .field = ""},
      {.name = "not_an_object",
       .native = R"(["referral"])",
       .reason = "NOT_AN_OBJECT",
       .field = ""},
  };
  params.make_deep = [](int depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  params.native_seeds = {
      ReadGolden(kFolder, "decision_with_services.native.json")};
  return params;
}

SILD_CODEC_CONFORMANCE(SocialJson, SocialParams());

}  // namespace
}  // namespace sild::connectors
