#include "connectors/codecs/fhir/fhir_codec.h"

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "absl/strings/str_cat.h"
#include "connectors/sdk/conformance/codec_conformance.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace sild::connectors {
namespace {

using conformance::CodecConformanceParams;
using conformance::CodecSample;
using nlohmann::json;

const std::string kGoldenDir =
    std::string(SILD_SOURCE_DIR) + "/tests/connectors/codecs/fhir/golden";
const std::string kExamplesDir =
    std::string(SILD_SHARED_DIR) + "/testdata/fhir-r4";

template <typename T>
T ParseText(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message))
      << text;
  return message;
}

sild::v1::Envelope SampleReferral() {
  return ParseText<sild::v1::Envelope>(R"pb(
    message_id: "0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a60"
    kind: MESSAGE_KIND_REFERRAL
    referral {
      header {
        message_id: "0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a60"
        idempotency_key: "kool-2024-0042"
        case_id: "case-17"
        sender { registry_code: "75001017" }
        purpose: PURPOSE_HEALTH_CARE
        created_time { seconds: 1714557600 }
        kind: MESSAGE_KIND_REFERRAL
      }
      subject {
        id { scheme: IDENTIFIER_SCHEME_EE_PERSONAL_CODE value: "51205280105" }
        given_name: "Mari"
        family_name: "Tamm"
      }
      service: SERVICE_TYPE_PSYCHIATRY
      urgency: URGENCY_URGENT
      risk_indicators {
        health { concern: "suspected anxiety" icd10_code: "F41.9" }
      }
      risk_indicators { behaviour { description: "withdrawn in class" } }
      risk_indicators { social { concern: "family in crisis" } }
      risk_indicators { special_needs { need: "reading support" } }
      summary: "Õpilane on mitu nädalat olnud endassetõmbunud; palume hinnangut."
      requested_by { name: "Kati Kask" }
      performer { registry_code: "75001046" name: "Kooli tervishoid" }
      status: REFERRAL_STATUS_SUBMITTED
    }
  )pb");
}

sild::v1::Envelope SampleStatusUpdate() {
  return ParseText<sild::v1::Envelope>(R"pb(
    message_id: "0190c5a8-7000-7c1a-9e4b-1f2d3c4b5a61"
    kind: MESSAGE_KIND_REFERRAL_STATUS
    status_update {
      header {
        message_id: "0190c5a8-7000-7c1a-9e4b-1f2d3c4b5a61"
        idempotency_key: "status-1"
        case_id: "case-17"
        kind: MESSAGE_KIND_REFERRAL_STATUS
        in_reply_to: "0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a60"
      }
      referral_id: "0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a60"
      change {
        status: REFERRAL_STATUS_REJECTED
        rejection_reason: REJECTION_REASON_NO_CAPACITY
        note: "Järjekord täis kuni septembrini."
        time { seconds: 1714644000 }
        changed_by { registry_code: "75001046" }
        professional { name: "Dr. Lepp" }
      }
    }
  )pb");
}

sild::v1::Consent SampleConsent() {
  return ParseText<sild::v1::Consent>(R"pb(
    consent_id: "c-100"
    version: 3
    subject { scheme: IDENTIFIER_SCHEME_EE_PERSONAL_CODE value: "51205280105" }
    grantor {
      representative {
        person {
          id { scheme: IDENTIFIER_SCHEME_EE_PERSONAL_CODE value: "37302102711" }
        }
        relation: REPRESENTATIVE_RELATION_PARENT
      }
    }
    recipients { registry_codes: "75001046" kinds: AGENCY_KIND_SCHOOL_HEALTH }
    purposes: PURPOSE_HEALTH_CARE
    purposes: PURPOSE_SUPPORT_SERVICE
    data_categories: DATA_CATEGORY_HEALTH
    data_categories: DATA_CATEGORY_IDENTITY
    valid_from { seconds: 1714521600 }
    valid_until { seconds: 1746057600 }
    status: CONSENT_STATUS_APPROVED
    external_reference: "paper-2024-17"
    recorded_by { registry_code: "75001023" }
    recorded_time { seconds: 1714557600 }
  )pb");
}

sild::v1::AuditRecord SampleAuditRecord() {
  return ParseText<sild::v1::AuditRecord>(R"pb(
    sequence: 42
    time { seconds: 1714557600 }
    chain_id: "main"
    actor { registry_code: "75001017" professional_id: "teacher-7" }
    action: AUDIT_ACTION_DISCLOSURE
    message_id: "0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a60"
    message_kind: MESSAGE_KIND_REFERRAL
    subject_pseudonym: "p-3f9a"
    purpose: PURPOSE_HEALTH_CARE
    outcome: AUDIT_OUTCOME_ALLOW
    reason_code: "OK_MINIMISED"
    counterparty: "75001046"
    record_hash: "\x01\x02\x03"
    detail: "consent c-100 v3"
  )pb");
}

// JSON nested `depth` levels deep as the codec counts (the object is 1).
std::string NestedJson(int depth) {
  std::string out = R"({"resourceType":"ServiceRequest","x":)";
  out.append(depth - 1, '[');
  out.append(depth - 1, ']');
  out += "}";
  return out;
}

CodecConformanceParams FhirParams() {
  CodecConformanceParams params;
  params.codec_name = "fhir-r4";
  sild::connectors::v1::FhirCodecConfig config;
  config.set_pretty(true);
  params.config.PackFrom(config);
  params.samples.push_back({.name = "referral", .canonical = SampleReferral()});
  params.samples.push_back(
      {.name = "status_update", .canonical = SampleStatusUpdate()});
  params.carried = {
      "message_id",
      "kind",
      "referral.header.message_id",
      "referral.header.idempotency_key",
      "referral.header.case_id",
      "referral.header.sender.registry_code",
      "referral.header.purpose",
      "referral.header.created_time",
      "referral.header.kind",
      "referral.subject.id",
      "referral.service",
      "referral.urgency",
      "referral.risk_indicators.health",
      "referral.risk_indicators.behaviour",
      "referral.risk_indicators.social",
      "referral.risk_indicators.special_needs",
      "referral.summary",
      "referral.requested_by.name",
      "referral.performer.registry_code",
      "referral.performer.name",
      "referral.status",
      "status_update.header.message_id",
      "status_update.header.idempotency_key",
      "status_update.header.case_id",
      "status_update.header.kind",
      "status_update.header.in_reply_to",
      "status_update.referral_id",
      "status_update.change",
  };
  const std::string valid_sr =
      R"({"resourceType":"ServiceRequest","status":"active","intent":"order",)";
  params.invalid = {
      {.name = "no_personal_code",
       .native = valid_sr + R"("subject":{"reference":"Patient/example"}})",
       .reason = "MISSING_PERSONAL_CODE",
       .field = "/subject/identifier"},
      {.name = "bad_personal_code",
       .native =
           valid_sr +
           R"("subject":{"identifier":{"system":"https://fhir.ee/sid/pid/est/ni","value":"51205280106"}}})",
       .reason = "INVALID_PERSONAL_CODE",
       .field = "/subject/identifier/value"},
      {.name = "no_status",
       .native = R"({"resourceType":"ServiceRequest","intent":"order"})",
       .reason = "MISSING_FIELD",
       .field = "/status"},
      {.name = "bad_status",
       .native =
           R"({"resourceType":"ServiceRequest","status":"sleeping","intent":"order"})",
       .reason = "INVALID_CODE",
       .field = "/status"},
      {.name = "status_not_string",
       .native =
           R"({"resourceType":"ServiceRequest","status":7,"intent":"order"})",
       .reason = "INVALID_FHIR",
       .field = "/status"},
      {.name = "unknown_service",
       .native =
           valid_sr +
           R"("subject":{"identifier":{"system":"https://fhir.ee/sid/pid/est/ni","value":"51205280105"}},"code":{"coding":[{"system":"https://sild.ee/fhir/CodeSystem/service-type","code":"ASTROLOGY"}]}})",
       .reason = "INVALID_CODE",
       .field = "/code/coding/0/code"},
      {.name = "bad_performer",
       .native =
           valid_sr +
           R"("subject":{"identifier":{"system":"https://fhir.ee/sid/pid/est/ni","value":"51205280105"}},"performer":[{"identifier":{"system":"https://fhir.ee/sid/org/est/br","value":"75001024"}}]})",
       .reason = "INVALID_REGISTRY_CODE",
       .field = "/performer/0/identifier/value"},
      {.name = "bad_authored_on",
       .native =
           valid_sr +
           R"("subject":{"identifier":{"system":"https://fhir.ee/sid/pid/est/ni","value":"51205280105"}},"authoredOn":"yesterday"})",
       .reason = "INVALID_DATE_TIME",
       .field = "/authoredOn"},
      {.name = "task_without_focus",
       .native =
           R"({"resourceType":"Task","status":"accepted","intent":"order"})",
       .reason = "MISSING_FIELD",
       .field = "/focus/identifier"},
      {.name = "patient_resource",
       .native = R"({"resourceType":"Patient"})",
       .reason = "UNSUPPORTED_RESOURCE",
       .field = "/resourceType"},
      {.name = "not_json",
       .native = "<ServiceRequest/>",
       .reason = "INVALID_JSON",
       .field = ""},
      {.name = "array", .native = "[]", .reason = "INVALID_FHIR", .field = ""},
  };
  params.make_deep = NestedJson;
  for (const char* file :
       {"servicerequest-example.json", "consent-example.json"}) {
    auto bytes = ReadFileToString(kExamplesDir + "/" + file);
    if (bytes.ok()) params.native_seeds.push_back(*bytes);
  }
  return params;
}

SILD_CODEC_CONFORMANCE(Fhir, FhirParams());

FhirCodec PrettyCodec() {
  sild::connectors::v1::FhirCodecConfig config;
  config.set_pretty(true);
  return FhirCodec(config);
}

// --- Official R4 examples ---------------------------------------------------

struct ExampleOutcome {
  std::string resource_type;
  // Empty reason: decodes OK.
  std::string reason;
  std::string field;
};

// The documented outcome of every official example (docs/fhir.md).
const std::map<std::string, ExampleOutcome>& DocumentedOutcomes() {
  static const auto* outcomes = new std::map<std::string, ExampleOutcome>{
      {"servicerequest-example.json",
       {"ServiceRequest", "MISSING_PERSONAL_CODE", "/subject/identifier"}},
      {"consent-example.json",
       {"Consent", "MISSING_PERSONAL_CODE", "/patient/identifier"}},
  };
  return *outcomes;
}

TEST(FhirOfficialExamplesTest, EveryExampleIsReadWithItsDocumentedOutcome) {
  FhirCodec codec;
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kExamplesDir)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(name);
    ++seen;
    auto bytes = ReadFileToString(entry.path().string());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto type = codec.ResourceType(*bytes);
    ASSERT_TRUE(type.ok()) << "parser error: " << type.status();
    auto outcome = DocumentedOutcomes().find(name);
    ASSERT_NE(outcome, DocumentedOutcomes().end())
        << "document the outcome of this example in docs/fhir.md and here";
    EXPECT_EQ(*type, outcome->second.resource_type);
    absl::Status status;
    if (*type == "Consent") {
      status = codec.DecodeConsent(*bytes).status();
    } else {
      status = codec.Decode(*bytes).status();
    }
    if (outcome->second.reason.empty()) {
      EXPECT_TRUE(status.ok()) << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      EXPECT_EQ(ErrorReason(status), outcome->second.reason) << status;
      EXPECT_EQ(ErrorField(status), outcome->second.field) << status;
    }
  }
  EXPECT_EQ(seen, static_cast<int>(DocumentedOutcomes().size()));
}

TEST(FhirOfficialExamplesTest, ExampleWithPersonalCodeAddedDecodes) {
  // The official example plus the one element sild needs: everything else
  // (narrative XHTML, meta.tag HTEST, SNOMED codes) is tolerated.
  auto bytes = ReadFileToString(kExamplesDir + "/servicerequest-example.json");
  ASSERT_TRUE(bytes.ok());
  json example = json::parse(*bytes);
  example["subject"]["identifier"] = {{"system", fhir::kPersonalCodeSystem},
                                      {"value", "51205280105"}};
  FhirCodec codec;
  auto envelope = codec.Decode(example.dump());
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->referral().subject().id().value(), "51205280105");
  EXPECT_EQ(envelope->referral().status(), sild::v1::REFERRAL_STATUS_COMPLETED);
  EXPECT_EQ(envelope->referral().service(), sild::v1::SERVICE_TYPE_UNSPECIFIED);

  auto consent_bytes = ReadFileToString(kExamplesDir + "/consent-example.json");
  ASSERT_TRUE(consent_bytes.ok());
  json consent = json::parse(*consent_bytes);
  consent["patient"]["identifier"] = {{"system", fhir::kPersonalCodeSystem},
                                      {"value", "51205280105"}};
  auto decoded = codec.DecodeConsent(consent.dump());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->status(), sild::v1::CONSENT_STATUS_APPROVED);
  EXPECT_TRUE(decoded->has_valid_from());
  EXPECT_TRUE(decoded->has_valid_until());
}

TEST(FhirCodecTest, UnknownElementsAreIgnored) {
  FhirCodec codec;
  auto native = codec.Encode(SampleReferral());
  ASSERT_TRUE(native.ok());
  json resource = json::parse(*native);
  resource["futureElement"] = {{"nested", {1, 2, {{"deep", true}}}}};
  resource["subject"]["_display"] = {{"extension", json::array()}};
  resource["contained"] = json::array({{{"resourceType", "Patient"}}});
  auto decoded = codec.Decode(resource.dump());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->referral().subject().id().value(), "51205280105");
}

// --- Output is valid R4 ---------------------------------------------------

void ExpectAbsoluteSystems(const json& value, const std::string& path) {
  static const std::regex kAbsoluteUri("^[a-z][a-z0-9+.-]*:[^ ]+$");
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      if ((key == "system" || key == "url") && child.is_string()) {
        EXPECT_TRUE(std::regex_match(child.get<std::string>(), kAbsoluteUri))
            << path << "/" << key << " = " << child;
      }
      ExpectAbsoluteSystems(child, path + "/" + key);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      ExpectAbsoluteSystems(value[i], path + "/" + std::to_string(i));
    }
  }
}

void ExpectRequired(const json& resource, const std::string& type,
                    std::initializer_list<const char*> required) {
  EXPECT_EQ(resource.value("resourceType", ""), type);
  for (const char* element : required) {
    EXPECT_TRUE(resource.contains(element) && !resource[element].is_null() &&
                !(resource[element].is_array() && resource[element].empty()))
        << type << " lacks required element " << element;
  }
  ExpectAbsoluteSystems(resource, "");
}

TEST(FhirR4ValidityTest, OutputHasRequiredElementsAndAbsoluteSystems) {
  FhirCodec codec;
  // Full and minimised messages: R4 cardinality holds for both.
  for (bool minimised : {false, true}) {
    SCOPED_TRACE(minimised ? "minimised" : "full");
    sild::v1::Envelope referral = SampleReferral();
    sild::v1::Envelope update = SampleStatusUpdate();
    sild::v1::Consent consent = SampleConsent();
    if (minimised) {
      referral.mutable_referral()->clear_subject();
      referral.mutable_referral()->clear_risk_indicators();
      update.mutable_status_update()->clear_change();
      consent.clear_subject();
      consent.clear_status();
    }
    auto sr = codec.Encode(referral);
    ASSERT_TRUE(sr.ok());
    ExpectRequired(json::parse(*sr), "ServiceRequest",
                   {"status", "intent", "subject"});
    auto task = codec.Encode(update);
    ASSERT_TRUE(task.ok());
    ExpectRequired(json::parse(*task), "Task", {"status", "intent"});
    auto r4_consent = codec.EncodeConsent(consent);
    ASSERT_TRUE(r4_consent.ok());
    ExpectRequired(json::parse(*r4_consent), "Consent",
                   {"status", "scope", "category", "patient"});
  }
  auto event = codec.EncodeAuditEvent(SampleAuditRecord());
  ASSERT_TRUE(event.ok());
  json audit = json::parse(*event);
  ExpectRequired(audit, "AuditEvent", {"type", "recorded", "agent", "source"});
  EXPECT_TRUE(audit["source"].contains("observer"));
  for (const json& agent : audit["agent"]) {
    EXPECT_TRUE(agent.contains("requestor"));
  }
}

TEST(FhirCodecTest, ConsentRoundTrip) {
  FhirCodec codec;
  auto native = codec.EncodeConsent(SampleConsent());
  ASSERT_TRUE(native.ok());
  auto decoded = codec.DecodeConsent(*native);
  ASSERT_TRUE(decoded.ok()) << decoded.status() << "\n" << *native;
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  EXPECT_TRUE(differencer.Compare(SampleConsent(), *decoded)) << report;
}

TEST(FhirCodecTest, SelfGrantedAndExpiredConsent) {
  sild::v1::Consent consent = SampleConsent();
  consent.mutable_grantor()->set_subject_self(true);
  consent.set_status(sild::v1::CONSENT_STATUS_EXPIRED);
  FhirCodec codec;
  auto native = codec.EncodeConsent(consent);
  ASSERT_TRUE(native.ok());
  EXPECT_EQ(json::parse(*native)["status"], "inactive");
  auto decoded = codec.DecodeConsent(*native);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->grantor().subject_self());
  EXPECT_EQ(decoded->status(), sild::v1::CONSENT_STATUS_EXPIRED);
}

TEST(FhirCodecTest, ConsentRefusals) {
  FhirCodec codec;
  json consent = json::parse(*codec.EncodeConsent(SampleConsent()));
  json deny = consent;
  deny["provision"]["type"] = "deny";
  EXPECT_EQ(ErrorField(codec.DecodeConsent(deny.dump()).status()),
            "/provision/type");
  json no_scope = consent;
  no_scope.erase("scope");
  EXPECT_EQ(ErrorField(codec.DecodeConsent(no_scope.dump()).status()),
            "/scope");
  json wrong_type = consent;
  wrong_type["resourceType"] = "ServiceRequest";
  EXPECT_EQ(ErrorReason(codec.DecodeConsent(wrong_type.dump()).status()),
            "UNSUPPORTED_RESOURCE");
}

// --- Golden files -----------------------------------------------------------

bool UpdateGolden() { return std::getenv("SILD_UPDATE_GOLDEN") != nullptr; }

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = kGoldenDir + "/" + name;
  if (UpdateGolden()) {
    ASSERT_TRUE(WriteFileAtomically(path, actual).ok());
    return;
  }
  auto expected = ReadFileToString(path);
  ASSERT_TRUE(expected.ok())
      << expected.status() << " (SILD_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(actual, *expected)
      << "golden " << name << " differs (SILD_UPDATE_GOLDEN=1 rewrites)";
}

std::string CanonicalJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(message, &out, options).ok());
  return out;
}

TEST(FhirGoldenTest, Encode) {
  FhirCodec codec = PrettyCodec();
  ExpectGolden("servicerequest.json", *codec.Encode(SampleReferral()) + "\n");
  ExpectGolden("task.json", *codec.Encode(SampleStatusUpdate()) + "\n");
  ExpectGolden("consent.json", *codec.EncodeConsent(SampleConsent()) + "\n");
  ExpectGolden("auditevent.json",
               *codec.EncodeAuditEvent(SampleAuditRecord()) + "\n");
}

TEST(FhirGoldenTest, Decode) {
  FhirCodec codec;
  for (const char* name : {"servicerequest-in", "task-in"}) {
    SCOPED_TRACE(name);
    auto native = ReadFileToString(kGoldenDir + "/" + name + ".json");
    ASSERT_TRUE(native.ok()) << native.status();
    auto envelope = codec.Decode(*native);
    ASSERT_TRUE(envelope.ok()) << envelope.status();
    ExpectGolden(std::string(name) + ".canonical.json",
                 CanonicalJson(*envelope));
  }
  auto native = ReadFileToString(kGoldenDir + "/consent-in.json");
  ASSERT_TRUE(native.ok()) << native.status();
  auto consent = codec.DecodeConsent(*native);
  ASSERT_TRUE(consent.ok()) << consent.status();
  ExpectGolden("consent-in.canonical.json", CanonicalJson(*consent));
}

}  // namespace
}  // namespace sild::connectors
