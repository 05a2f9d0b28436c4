#include "connectors/codecs/ehis/ehis_xml_codec.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "connectors/sdk/conformance/codec_conformance.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/connectors/codecs/golden_files.h"

namespace sild::connectors {
namespace {

using conformance::CodecConformanceParams;
using testing::ExpectDecodesTo;
using testing::ExpectEncodesTo;
using testing::LoadCanonical;
using testing::ReadGolden;

constexpr char kFolder[] = "ehis";

// A minimal valid document; `body` goes after the personal code.
std::string Doc(const std::string& kind, const std::string& body,
                const std::string& code = "51205280105") {
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opilane><sonum>"
      "<idempotentsusvoti>k-1</idempotentsusvoti><liik>",
      kind, "</liik></sonum><isikukood>", code, "</isikukood>", body,
      "</opilane>");
}

std::string Leaving(const std::string& date, const std::string& reason) {
  return Doc("LAHKUMINE",
             absl::StrCat("<lahkumine><kuupaev>", date, "</kuupaev><pohjus>",
                          reason, "</pohjus></lahkumine>"));
}

absl::Status DecodeStatus(const std::string& xml) {
  return EhisXmlCodec().Decode(xml).status();
}

// ---------------------------------------------------------------------------
// Golden files: native -> canonical and canonical -> native.

TEST(EhisXmlCodecGolden, TransitionBothWays) {
  EhisXmlCodec codec;
  ExpectDecodesTo(codec, kFolder, "transition.native.xml",
                  "transition.canonical.json");
  ExpectEncodesTo(codec, kFolder, "transition.canonical.json",
                  "transition.native.xml");
}

TEST(EhisXmlCodecGolden, AssessmentBothWays) {
  EhisXmlCodec codec;
  ExpectDecodesTo(codec, kFolder, "assessment.native.xml",
                  "assessment.canonical.json");
  ExpectEncodesTo(codec, kFolder, "assessment.canonical.json",
                  "assessment.native.xml");
}

TEST(EhisXmlCodecGolden, ReferralBothWays) {
  EhisXmlCodec codec;
  ExpectDecodesTo(codec, kFolder, "referral.native.xml",
                  "referral.canonical.json");
  ExpectEncodesTo(codec, kFolder, "referral.canonical.json",
                  "referral.native.xml");
}

TEST(EhisXmlCodecGolden, ReferralByNameDecodes) {
  ExpectDecodesTo(EhisXmlCodec(), kFolder, "referral_by_name.native.xml",
                  "referral_by_name.canonical.json");
}

// ---------------------------------------------------------------------------
// Mapping details.

TEST(EhisXmlCodec, AssessmentScoresAbcFromTheDocument) {
  auto decoded =
      EhisXmlCodec().Decode(ReadGolden(kFolder, "assessment.native.xml"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const sild::v1::Assessment& assessment = decoded->assessment();
  // 21 of 420 lessons = 5.0% (at risk), 3 incidents, 1 failing grade.
  EXPECT_EQ(assessment.attendance_points(), 1);
  EXPECT_EQ(assessment.behaviour_points(), 2);
  EXPECT_EQ(assessment.course_points(), 1);
  EXPECT_EQ(assessment.tier(), sild::v1::RISK_TIER_2);
  ASSERT_EQ(assessment.attendance().by_quarter().count("2023-Q2"), 1u);
  EXPECT_EQ(assessment.attendance().by_quarter().at("2023-Q2").lessons(), 220);
}

TEST(EhisXmlCodec, ElementsAKindCannotCarryAreValidatedAndDropped) {
  // A leaving pupil's absences and consents have no place in a Transition.
  const std::string xml =
      Doc("LAHKUMINE",
          "<pohjusetaPuudumised><pohjusetaPuudumine><aasta>2023</aasta>"
          "<veerand>1</veerand><tunnid>10</tunnid><puudumised>2</puudumised>"
          "</pohjusetaPuudumine></pohjusetaPuudumised>"
          "<nousolekud><nousolek><otsus>KEELDUTUD</otsus>"
          "<kuupaev>02.10.2023</kuupaev></nousolek></nousolekud>"
          "<lahkumine><kuupaev>31.01.2024</kuupaev><pohjus>KATKESTANUD</pohjus>"
          "</lahkumine>");
  auto decoded = EhisXmlCodec().Decode(xml);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->transition().leaving_reason(),
            sild::v1::LEAVING_REASON_DROPPED_OUT);
  // Still validated: a bad consent date is refused even though not carried.
  const std::string bad =
      absl::StrReplaceAll(xml, {{"02.10.2023", "32.10.2023"}});
  absl::Status status = DecodeStatus(bad);
  EXPECT_EQ(ErrorReason(status), "INVALID_DATE");
  EXPECT_EQ(ErrorField(status), "/opilane/nousolekud/nousolek[1]/kuupaev");
}

TEST(EhisXmlCodec, EncodeWithoutBodyFieldsStillProducesADocument) {
  sild::v1::Envelope envelope;
  envelope.mutable_transition()->mutable_header()->set_idempotency_key("k");
  auto encoded = EhisXmlCodec().Encode(envelope);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_NE(encoded->find("<liik>LAHKUMINE</liik>"), std::string::npos);
}

TEST(EhisXmlCodec, EncodeRefusesKindsItCannotCarry) {
  sild::v1::Envelope envelope;
  envelope.mutable_status_update()->set_referral_id("r");
  auto encoded = EhisXmlCodec().Encode(envelope);
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(ErrorReason(encoded.status()), "UNSUPPORTED_KIND");
}

TEST(EhisXmlCodec, CompactConfigWritesOneLine) {
  sild::connectors::v1::EhisCodecConfig config;
  config.set_compact(true);
  auto encoded = EhisXmlCodec(config).Encode(
      LoadCanonical(kFolder, "transition.canonical.json"));
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->find("\n  <"), std::string::npos) << *encoded;
  auto decoded = EhisXmlCodec().Decode(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->transition().subject().id().value(), "61104120312");
}

TEST(EhisXmlCodec, TextThatLooksLikeMarkupSurvivesTheTrip) {
  sild::v1::Envelope envelope =
      LoadCanonical(kFolder, "referral.canonical.json");
  envelope.mutable_referral()->set_summary(
      "<b>&amp; \"quoted\" 'single' ]]> \t tab");
  EhisXmlCodec codec;
  auto encoded = codec.Encode(envelope);
  ASSERT_TRUE(encoded.ok());
  auto decoded = codec.Decode(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->referral().summary(), envelope.referral().summary());
}

// ---------------------------------------------------------------------------
// Hostile XML.

TEST(EhisXmlCodec, RefusesExternalEntityPayload) {
  const std::string xxe =
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE opilane [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
      "<opilane><sonum><idempotentsusvoti>k</idempotentsusvoti>"
      "<liik>SUUNAMINE</liik></sonum><isikukood>&xxe;</isikukood>"
      "<suunamine><teenus>PSUHHOLOOG</teenus></suunamine></opilane>";
  auto decoded = EhisXmlCodec().Decode(xxe);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(decoded.status()), "DOCTYPE_NOT_ALLOWED");
  EXPECT_EQ(decoded.status().message().find("root:"), std::string::npos);
}

TEST(EhisXmlCodec, RefusesEntityExpansionBomb) {
  std::string bomb =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">";
  for (int i = 1; i < 10; ++i) {
    absl::StrAppend(&bomb, "<!ENTITY lol", i, " \"");
    for (int j = 0; j < 10; ++j) {
      absl::StrAppend(&bomb, "&lol", i == 1 ? "" : absl::StrCat(i - 1), ";");
    }
    absl::StrAppend(&bomb, "\">");
  }
  absl::StrAppend(&bomb, "]>\n<opilane>&lol9;</opilane>");
  EXPECT_EQ(ErrorReason(DecodeStatus(bomb)), "DOCTYPE_NOT_ALLOWED");
}

TEST(EhisXmlCodec, UndeclaredEntityReferenceIsNeverExpanded) {
  // Without a DTD nothing defines "xxe": the reference stays literal text,
  // and as a personal code it is simply invalid.
  absl::Status status = DecodeStatus(Doc("HINDAMINE", "", "&xxe;"));
  EXPECT_EQ(ErrorReason(status), "INVALID_PERSONAL_CODE");
  EXPECT_EQ(ErrorField(status), "/opilane/isikukood");
}

TEST(EhisXmlCodec, RefusesInvalidUtf8AndNul) {
  EXPECT_EQ(
      ErrorReason(DecodeStatus(Doc("HINDAMINE", "<markus>\xC3\x28</markus>"))),
      "INVALID_ENCODING");
  EXPECT_EQ(ErrorReason(DecodeStatus(
                Doc("HINDAMINE", std::string("<markus>a\0b</markus>", 20)))),
            "INVALID_ENCODING");
}

TEST(EhisXmlCodec, RefusesCharacterReferencesThatAreNotCharacters) {
  absl::Status status =
      DecodeStatus(Doc("HINDAMINE", "<markus>&#xD800;</markus>"));
  EXPECT_EQ(ErrorReason(status), "INVALID_ENCODING");
  EXPECT_EQ(ErrorField(status), "/opilane/markus");
  // A real character by reference is fine.
  auto decoded =
      EhisXmlCodec().Decode(Doc("HINDAMINE", "<markus>&#xF5;</markus>"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->assessment().note(), "\xC3\xB5");
}

TEST(EhisXmlCodec, ConfiguredLimitsApply) {
  sild::connectors::v1::EhisCodecConfig config;
  config.set_max_bytes(100);
  config.set_max_depth(3);
  EhisXmlCodec codec(config);
  EXPECT_EQ(codec.limits().max_bytes, 100u);
  EXPECT_EQ(ErrorReason(codec.Decode(std::string(101, ' ')).status()),
            "INPUT_TOO_LARGE");
  EXPECT_EQ(ErrorReason(
                codec.Decode("<opilane><a><b><c/></b></a></opilane>").status()),
            "INPUT_TOO_DEEP");
}

// ---------------------------------------------------------------------------
// The conformance kit.

CodecConformanceParams EhisParams() {
  CodecConformanceParams params;
  params.codec_name = EhisXmlCodec::kName;
  // Decoded golden files: everything in them is carried.
  params.samples = {
      {.name = "transition",
       .canonical = LoadCanonical(kFolder, "transition.canonical.json"),
       .carried = {"message_id", "kind", "transition"}},
      {.name = "assessment",
       .canonical = LoadCanonical(kFolder, "assessment.canonical.json"),
       .carried = {"message_id", "kind", "assessment"}},
      {.name = "referral",
       .canonical = LoadCanonical(kFolder, "referral.canonical.json"),
       .carried = {"message_id", "kind", "referral"}},
  };
  // A transition with what EHIS cannot carry: representatives, contact,
  // health notes, the next stage, the acknowledgement.
  sild::v1::Envelope rich = LoadCanonical(kFolder, "transition.canonical.json");
  sild::v1::Transition* transition = rich.mutable_transition();
  transition->mutable_subject()->mutable_contact()->set_phone("+372 5555 0000");
  auto* parent = transition->add_representatives();
  parent->mutable_person()->set_given_name("Tiina");
  parent->set_relation(sild::v1::REPRESENTATIVE_RELATION_PARENT);
  transition->add_health_notes()->set_concern("asthma");
  transition->mutable_to_stage()->set_level(
      sild::v1::EDUCATION_LEVEL_BASIC_GRADES_7_9);
  transition->mutable_acknowledgement()->set_status(
      sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING);
  params.samples.push_back(
      {.name = "transition_with_uncarried_fields",
       .canonical = rich,
       .carried = {"message_id", "kind", "transition.header",
                   "transition.subject.id", "transition.subject.given_name",
                   "transition.subject.family_name",
                   "transition.subject.birth_date",
                   "transition.from_institution", "transition.from_stage",
                   "transition.to_institution", "transition.effective_date",
                   "transition.leaving_reason", "transition.support_level",
                   "transition.support_needs", "transition.measures",
                   "transition.failing_subjects", "transition.repeated_grade",
                   "transition.summary", "transition.handed_over_by"}});
  params.invalid = {
      {.name = "bad_personal_code",
       .native = Doc("HINDAMINE", "", "51205280106"),
       .reason = "INVALID_PERSONAL_CODE",
       .field = "/opilane/isikukood"},
      {.name = "no_subject",
       .native = Doc("HINDAMINE", "", ""),
       .reason = "MISSING_FIELD",
       .field = "/opilane/isikukood"},
      {.name = "february_31",
       .native = Leaving("31.02.2024", "KATKESTANUD"),
       .reason = "INVALID_DATE",
       .field = "/opilane/lahkumine/kuupaev"},
      {.name = "iso_date",
       .native = Leaving("2024-01-31", "KATKESTANUD"),
       .reason = "INVALID_DATE",
       .field = "/opilane/lahkumine/kuupaev"},
      {.name = "unknown_leaving_reason",
       .native = Leaving("31.01.2024", "PUHKUS"),
       .reason = "INVALID_VALUE",
       .field = "/opilane/lahkumine/pohjus"},
      {.name = "quarter_5",
       .native = Doc("HINDAMINE",
                     "<pohjusetaPuudumised><pohjusetaPuudumine><aasta>2023"
                     "</aasta><veerand>1</veerand><tunnid>9</tunnid>"
                     "<puudumised>1</puudumised></pohjusetaPuudumine>"
                     "<pohjusetaPuudumine><aasta>2023</aasta><veerand>5"
                     "</veerand><tunnid>9</tunnid><puudumised>1</puudumised>"
                     "</pohjusetaPuudumine></pohjusetaPuudumised>"),
       .reason = "INVALID_RANGE",
       .field = "/opilane/pohjusetaPuudumised/pohjusetaPuudumine[2]/veerand"},
      {.name = "more_absences_than_lessons",
       .native = Doc("HINDAMINE",
                     "<pohjusetaPuudumised><pohjusetaPuudumine><aasta>2023"
                     "</aasta><veerand>1</veerand><tunnid>9</tunnid>"
                     "<puudumised>10</puudumised></pohjusetaPuudumine>"
                     "</pohjusetaPuudumised>"),
       .reason = "INVALID_RANGE",
       .field =
           "/opilane/pohjusetaPuudumised/pohjusetaPuudumine[1]/puudumised"},
      {.name = "lessons_not_a_number",
       .native = Doc("HINDAMINE",
                     "<pohjusetaPuudumised><pohjusetaPuudumine><aasta>2023"
                     "</aasta><veerand>1</veerand><tunnid>-9</tunnid>"
                     "<puudumised>1</puudumised></pohjusetaPuudumine>"
                     "</pohjusetaPuudumised>"),
       .reason = "INVALID_VALUE",
       .field = "/opilane/pohjusetaPuudumised/pohjusetaPuudumine[1]/tunnid"},
      {.name = "bad_registry_code",
       .native = Doc("HINDAMINE",
                     "<oppeasutus><registrikood>75001018</registrikood>"
                     "</oppeasutus>"),
       .reason = "INVALID_REGISTRY_CODE",
       .field = "/opilane/oppeasutus/registrikood"},
      {.name = "unknown_service",
       .native = Doc("SUUNAMINE",
                     "<suunamine><teenus>ASTROLOOG</teenus>"
                     "</suunamine>"),
       .reason = "INVALID_VALUE",
       .field = "/opilane/suunamine/teenus"},
      {.name = "unknown_kind",
       .native = Doc("TEADE", ""),
       .reason = "INVALID_VALUE",
       .field = "/opilane/sonum/liik"},
      {.name = "leaving_in_a_referral",
       .native = Doc("SUUNAMINE",
                     "<lahkumine><kuupaev>31.01.2024</kuupaev><pohjus>MUU"
                     "</pohjus></lahkumine><suunamine><teenus>PSUHHOLOOG"
                     "</teenus></suunamine>"),
       .reason = "UNEXPECTED_ELEMENT",
       .field = "/opilane/lahkumine"},
      {.name = "leaving_without_lahkumine",
       .native = Doc("LAHKUMINE", ""),
       .reason = "MISSING_FIELD",
       .field = "/opilane/lahkumine"},
      {.name = "unknown_element",
       .native = Doc("HINDAMINE", "<hobi>male</hobi>"),
       .reason = "UNKNOWN_ELEMENT",
       .field = "/opilane/hobi"},
      {.name = "duplicate_element",
       .native = Doc("HINDAMINE", "<isikukood>51205280105</isikukood>"),
       .reason = "DUPLICATE_ELEMENT",
       .field = "/opilane/isikukood"},
      {.name = "element_inside_a_value",
       .native = Doc("HINDAMINE", "<markus><b>x</b></markus>"),
       .reason = "INVALID_VALUE",
       .field = "/opilane/markus"},
      {.name = "bad_repeating_flag",
       .native =
           Doc("HINDAMINE", "<klassiKordamine>võib-olla</klassiKordamine>"),
       .reason = "INVALID_VALUE",
       .field = "/opilane/klassiKordamine"},
      {.name = "grade_13",
       .native = Doc("HINDAMINE", "<oppimine><klass>13</klass></oppimine>"),
       .reason = "INVALID_RANGE",
       .field = "/opilane/oppimine/klass"},
      {.name = "missing_idempotency_key",
       .native = "<opilane><sonum><liik>HINDAMINE</liik></sonum>"
                 "<isikukood>51205280105</isikukood></opilane>",
       .reason = "MISSING_IDEMPOTENCY_KEY",
       .field = "/opilane/sonum/idempotentsusvoti"},
      {.name = "missing_sonum",
       .native = "<opilane><isikukood>51205280105</isikukood></opilane>",
       .reason = "MISSING_FIELD",
       .field = "/opilane/sonum"},
      {.name = "wrong_root",
       .native = "<pupil><isikukood>51205280105</isikukood></pupil>",
       .reason = "UNKNOWN_ELEMENT",
       .field = "/pupil"},
      {.name = "not_well_formed",
       .native = "<opilane><sonum></opilane>",
       .reason = "MALFORMED_XML",
       .field = ""},
      {.name = "xxe",
       .native = "<!DOCTYPE opilane [<!ENTITY xxe SYSTEM "
                 "\"file:///etc/passwd\">]><opilane>&xxe;</opilane>",
       .reason = "DOCTYPE_NOT_ALLOWED",
       .field = "/"},
  };
  params.make_deep = [](int depth) {
    std::string xml = "<opilane>";
    for (int i = 1; i < depth; ++i) xml += "<a>";
    for (int i = 1; i < depth; ++i) xml += "</a>";
    return xml + "</opilane>";
  };
  params.native_seeds = {ReadGolden(kFolder, "referral_by_name.native.xml")};
  return params;
}

SILD_CODEC_CONFORMANCE(EhisXml, EhisParams());

}  // namespace
}  // namespace sild::connectors
