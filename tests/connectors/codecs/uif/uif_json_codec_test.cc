#include "connectors/codecs/uif/uif_json_codec.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "connectors/sdk/conformance/codec_conformance.h"
#include "connectors/sdk/registry.h"
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

constexpr char kFolder[] = "uif";

UifJsonCodec PrettyCodec() {
  sild::connectors::v1::UifCodecConfig config;
  config.set_pretty(true);
  return UifJsonCodec(config);
}

// ---------------------------------------------------------------------------
// Golden files.

TEST(UifJsonCodecGolden, ReferralBothWays) {
  UifJsonCodec codec = PrettyCodec();
  ExpectDecodesTo(codec, kFolder, "youth_guarantee_referral.native.json",
                  "youth_guarantee_referral.canonical.json");
  ExpectEncodesTo(codec, kFolder, "youth_guarantee_referral.canonical.json",
                  "youth_guarantee_referral.native.json");
}

TEST(UifJsonCodecGolden, StudyHistoryBothWays) {
  UifJsonCodec codec = PrettyCodec();
  ExpectDecodesTo(codec, kFolder, "study_history.native.json",
                  "study_history.canonical.json");
  ExpectEncodesTo(codec, kFolder, "study_history.canonical.json",
                  "study_history.native.json");
}

TEST(UifJsonCodecGolden, LatestOfSeveralPeriodsIsTheTransition) {
  ExpectDecodesTo(PrettyCodec(), kFolder,
                  "study_history_two_periods.native.json",
                  "study_history_two_periods.canonical.json");
}

// ---------------------------------------------------------------------------
// Mapping details.

TEST(UifJsonCodec, StudyLevelsMapToEducationLevelAndIsced) {
  struct Case {
    const char* level;
    const char* isced;  // "" = omitted
    sild::v1::EducationLevel expected_level;
    int expected_isced;
  };
  const Case cases[] = {
      {"PRE_PRIMARY", "", sild::v1::EDUCATION_LEVEL_PRE_PRIMARY, 0},
      {"PRIMARY", "", sild::v1::EDUCATION_LEVEL_BASIC_GRADES_1_6, 1},
      {"BASIC", "", sild::v1::EDUCATION_LEVEL_BASIC_GRADES_7_9, 2},
      {"GENERAL_SECONDARY", "",
       sild::v1::EDUCATION_LEVEL_GENERAL_UPPER_SECONDARY, 3},
      {"VOCATIONAL_2", "", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_2, 2},
      {"VOCATIONAL_3", "", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_3, 3},
      {"VOCATIONAL_4", "", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_4, 3},
      {"VOCATIONAL_4", "4", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_4, 4},
      {"VOCATIONAL_5", "", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_5, 4},
      {"VOCATIONAL_5", "5", sild::v1::EDUCATION_LEVEL_VOCATIONAL_LEVEL_5, 5},
      {"BACHELOR", "", sild::v1::EDUCATION_LEVEL_HIGHER_BACHELOR, 6},
      {"MASTER", "", sild::v1::EDUCATION_LEVEL_HIGHER_MASTER, 7},
      {"DOCTORAL", "", sild::v1::EDUCATION_LEVEL_HIGHER_DOCTORAL, 8},
  };
  UifJsonCodec codec;
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.level, " isced ", c.isced));
    const std::string isced =
        *c.isced ? absl::StrCat(R"(,"isced":)", c.isced) : "";
    auto decoded = codec.Decode(absl::StrCat(
        R"({"documentType":"STUDY_HISTORY","idempotencyKey":"k",)",
        R"("person":{"personalCode":"50603140279"},"studyPeriods":[{)",
        R"("institutionRegistryCode":"75001017","studyLevel":")", c.level, "\"",
        isced, R"(,"endDate":"14.06.2023","leavingReason":"OTHER"}]})"));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->transition().from_stage().level(), c.expected_level);
    EXPECT_EQ(decoded->transition().from_stage().isced_level(),
              c.expected_isced);
  }
}

TEST(UifJsonCodec, TransitionGoesToTheConfiguredFund) {
  sild::connectors::v1::UifCodecConfig config;
  config.set_fund_registry_code("70009770");
  auto decoded = UifJsonCodec(config).Decode(
      ReadGolden(kFolder, "study_history.native.json"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->transition().to_institution().registry_code(), "70009770");
  EXPECT_EQ(decoded->transition().to_institution().kind(),
            sild::v1::AGENCY_KIND_UNEMPLOYMENT_INSURANCE_FUND);
}

TEST(UifJsonCodec, FactoryRefusesAnInvalidFundRegistryCode) {
  sild::connectors::v1::UifCodecConfig config;
  config.set_fund_registry_code("70009771");
  google::protobuf::Any any;
  any.PackFrom(config);
  auto codec =
      CreateCodec(UifJsonCodec::kName, any, "agencies[4].codec_config");
  ASSERT_FALSE(codec.ok());
  EXPECT_EQ(ErrorReason(codec.status()), "INVALID_CONNECTOR_CONFIG");
}

TEST(UifJsonCodec, EscoUriShape) {
  EXPECT_TRUE(
      IsEscoOccupationUri("http://data.europa.eu/esco/occupation/"
                          "6a5fe5f0-1b5f-4f2e-9c42-0c2c8b7d3e11"));
  for (const char* bad :
       {"https://data.europa.eu/esco/occupation/"
        "6a5fe5f0-1b5f-4f2e-9c42-0c2c8b7d3e11",
        "http://data.europa.eu/esco/skill/6a5fe5f0-1b5f-4f2e-9c42-0c2c8b7d3e11",
        "http://data.europa.eu/esco/occupation/"
        "6A5FE5F0-1B5F-4F2E-9C42-0C2C8B7D3E11",
        "http://data.europa.eu/esco/occupation/"
        "6a5fe5f0-1b5f-4f2e-9c42-0c2c8b7d3e1",
        "http://data.europa.eu/esco/occupation/"
        "6a5fe5f0-1b5f-4f2e-9c42-0c2c8b7d3e11/",
        "http://data.europa.eu/esco/occupation/"
        "6a5fe5f01b5f-4f2e-9c42-0c2c8b7d3e11-",
        "http://data.europa.eu/esco/occupation/"
        "6a5fe5f0-1b5f-4f2e-9c42-0c2c8b7d3g11",
        "http://data.europa.eu/esco/occupation/", ""}) {
    EXPECT_FALSE(IsEscoOccupationUri(bad)) << bad;
  }
}

TEST(UifJsonCodec, EncodeRefusesKindsItCannotCarry) {
  sild::v1::Envelope envelope;
  envelope.mutable_assessment();
  EXPECT_EQ(ErrorReason(UifJsonCodec().Encode(envelope).status()),
            "UNSUPPORTED_KIND");
}

// ---------------------------------------------------------------------------
// The conformance kit.

constexpr char kPerson[] = R"("person":{"personalCode":"50603140279"})";

std::string Referral(const std::string& members) {
  return absl::StrCat(
      R"({"documentType":"YOUTH_GUARANTEE_REFERRAL","idempotencyKey":"k",)",
      R"("service":"YOUTH_GUARANTEE",)", members, "}");
}

std::string History(const std::string& period) {
  return absl::StrCat(
      R"({"documentType":"STUDY_HISTORY","idempotencyKey":"k",)", kPerson,
      R"(,"studyPeriods":[)", period, "]}");
}

constexpr char kPeriodHead[] =
    R"({"institutionRegistryCode":"75001017","studyLevel":"BASIC",)";

CodecConformanceParams UifParams() {
  CodecConformanceParams params;
  params.codec_name = UifJsonCodec::kName;
  params.samples = {
      {.name = "youth_guarantee_referral",
       .canonical =
           LoadCanonical(kFolder, "youth_guarantee_referral.canonical.json"),
       .carried = {"message_id", "kind", "referral"}},
      {.name = "study_history",
       .canonical = LoadCanonical(kFolder, "study_history.canonical.json"),
       .carried = {"message_id", "kind", "transition"}},
  };
  // A school's full hand-over sent to the Fund: support data, failing
  // subjects and health notes have no place in the Fund's format.
  sild::v1::Envelope rich =
      LoadCanonical(kFolder, "study_history.canonical.json");
  sild::v1::Transition* transition = rich.mutable_transition();
  transition->set_support_level(sild::v1::SUPPORT_LEVEL_ENHANCED);
  transition->add_support_needs("lugemisraskus");
  transition->add_failing_subjects()->set_subject("matemaatika");
  transition->add_health_notes()->set_concern("asthma");
  transition->mutable_from_institution()->set_kind(
      sild::v1::AGENCY_KIND_SCHOOL);
  params.samples.push_back(
      {.name = "school_handover_to_the_fund",
       .canonical = rich,
       .carried = {"message_id", "kind", "transition.header",
                   "transition.subject",
                   "transition.from_institution.registry_code",
                   "transition.from_institution.name", "transition.from_stage",
                   "transition.effective_date", "transition.leaving_reason",
                   "transition.summary", "transition.handed_over_by"}});
  params.invalid = {
      {.name = "bad_personal_code",
       .native = Referral(R"("person":{"personalCode":"50603140278"})"),
       .reason = "INVALID_PERSONAL_CODE",
       .field = "/person/personalCode"},
      {.name = "person_without_identity",
       .native = Referral(R"("person":{"firstName":"Karl","lastName":"Mets"})"),
       .reason = "MISSING_FIELD",
       .field = "/person/personalCode"},
      {.name = "february_31",
       .native = History(absl::StrCat(
           kPeriodHead, R"("endDate":"31.02.2024","leavingReason":"OTHER"})")),
       .reason = "INVALID_DATE",
       .field = "/studyPeriods/0/endDate"},
      {.name = "iso_date",
       .native = History(absl::StrCat(
           kPeriodHead, R"("endDate":"2024-01-31","leavingReason":"OTHER"})")),
       .reason = "INVALID_DATE",
       .field = "/studyPeriods/0/endDate"},
      {.name = "ends_before_it_starts",
       .native = History(absl::StrCat(
           kPeriodHead,
           R"("startDate":"01.09.2023","endDate":"31.08.2023","leavingReason":"OTHER"})")),
       .reason = "INVALID_RANGE",
       .field = "/studyPeriods/0/endDate"},
      {.name = "unknown_study_level",
       .native = History(
           R"({"institutionRegistryCode":"75001017","studyLevel":"KINDERGARTEN","endDate":"14.06.2023","leavingReason":"OTHER"})"),
       .reason = "INVALID_VALUE",
       .field = "/studyPeriods/0/studyLevel"},
      {.name = "isced_does_not_fit_level",
       .native = History(absl::StrCat(
           kPeriodHead,
           R"("isced":3,"endDate":"14.06.2023","leavingReason":"OTHER"})")),
       .reason = "INVALID_VALUE",
       .field = "/studyPeriods/0/isced"},
      {.name = "unknown_leaving_reason",
       .native = History(absl::StrCat(
           kPeriodHead, R"("endDate":"14.06.2023","leavingReason":"BORED"})")),
       .reason = "INVALID_VALUE",
       .field = "/studyPeriods/0/leavingReason"},
      {.name = "bad_institution_registry_code",
       .native = History(
           R"({"institutionRegistryCode":"75001018","endDate":"14.06.2023","leavingReason":"OTHER"})"),
       .reason = "INVALID_REGISTRY_CODE",
       .field = "/studyPeriods/0/institutionRegistryCode"},
      {.name = "latest_period_without_leaving_reason",
       .native = History(absl::StrCat(
           kPeriodHead,
           R"("endDate":"14.06.2022","leavingReason":"GRADUATED"},)",
           kPeriodHead, R"("endDate":"14.06.2023"})")),
       .reason = "MISSING_FIELD",
       .field = "/studyPeriods/1/leavingReason"},
      {.name = "history_without_periods",
       .native = History(""),
       .reason = "MISSING_FIELD",
       .field = "/studyPeriods"},
      {.name = "bad_esco_uri",
       .native = Referral(absl::StrCat(
           kPerson,
           R"(,"occupations":["http://data.europa.eu/esco/occupation/6a5fe5f0-1b5f-4f2e-9c42-0c2c8b7d3e11","http://data.europa.eu/esco/occupation/plumber"])")),
       .reason = "INVALID_ESCO_URI",
       .field = "/occupations/1"},
      {.name = "occupations_in_a_history",
       .native = absl::StrCat(
           R"({"documentType":"STUDY_HISTORY","idempotencyKey":"k",)", kPerson,
           R"(,"occupations":[]})"),
       .reason = "UNKNOWN_FIELD",
       .field = "/occupations"},
      {.name = "service_the_fund_does_not_take",
       .native = absl::StrCat(
           R"({"documentType":"YOUTH_GUARANTEE_REFERRAL","idempotencyKey":"k",)",
           R"("service":"PSYCHOLOGIST",)", kPerson, "}"),
       .reason = "INVALID_VALUE",
       .field = "/service"},
      {.name = "bad_last_institution",
       .native = Referral(absl::StrCat(
           kPerson, R"(,"lastInstitution":{"registryCode":"7500101"})")),
       .reason = "INVALID_REGISTRY_CODE",
       .field = "/lastInstitution/registryCode"},
      {.name = "unknown_document_type",
       .native = R"({"documentType":"JOB_OFFER","idempotencyKey":"k"})",
       .reason = "INVALID_VALUE",
       .field = "/documentType"},
      {.name = "missing_idempotency_key",
       .native = absl::StrCat(
           R"({"documentType":"YOUTH_GUARANTEE_REFERRAL","service":"YOUTH_GUARANTEE",)",
           kPerson, "}"),
       .reason = "MISSING_IDEMPOTENCY_KEY",
       .field = "/idempotencyKey"},
      {.name = "not_json",
       .native = "{\"documentType\": STUDY_HISTORY}",
       .reason = "MALFORMED_JSON",
       .field = ""},
  };
  params.make_deep = [](int depth) {
    std::string json;
    for (int i = 1; i < depth; ++i) json += "{\"a\":";
    json += "{}";
    for (int i = 1; i < depth; ++i) json += "}";
    return json;
  };
  params.native_seeds = {
      ReadGolden(kFolder, "study_history_two_periods.native.json")};
  return params;
}

SILD_CODEC_CONFORMANCE(UifJson, UifParams());

}  // namespace
}  // namespace sild::connectors
