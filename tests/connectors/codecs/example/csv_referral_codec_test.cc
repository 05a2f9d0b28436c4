#include "connectors/codecs/example/csv_referral_codec.h"

#include "connectors/sdk/conformance/codec_conformance.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"

namespace sild::connectors {
namespace {

using conformance::CodecConformanceParams;

sild::v1::Envelope SampleReferral() {
  sild::v1::Envelope envelope;
  envelope.set_message_id("0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a60");
  envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  sild::v1::Referral* referral = envelope.mutable_referral();
  referral->mutable_header()->set_message_id(envelope.message_id());
  referral->mutable_header()->set_idempotency_key("ehis-2024-0042");
  referral->mutable_header()->set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  referral->mutable_header()->set_case_id("not carried");
  referral->mutable_subject()->mutable_id()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  referral->mutable_subject()->mutable_id()->set_value("51205280105");
  referral->mutable_subject()->set_given_name("not carried");
  referral->set_service(sild::v1::SERVICE_TYPE_PSYCHOLOGIST);
  referral->mutable_performer()->set_registry_code("75001023");
  referral->set_summary(
      "Sage puudumised; vajab tuge.\nTeine rida \\ kaldkriips");
  return envelope;
}

CodecConformanceParams CsvParams() {
  CodecConformanceParams params;
  params.codec_name = "csv-referral";
  params.samples = {{.name = "referral", .canonical = SampleReferral()}};
  sild::v1::Envelope no_performer = SampleReferral();
  no_performer.mutable_referral()->clear_performer();
  no_performer.mutable_referral()->clear_summary();
  params.samples.push_back(
      {.name = "routed_by_service", .canonical = no_performer});
  params.carried = {"message_id",
                    "kind",
                    "referral.header.message_id",
                    "referral.header.idempotency_key",
                    "referral.header.kind",
                    "referral.subject.id",
                    "referral.service",
                    "referral.performer.registry_code",
                    "referral.summary"};
  params.invalid = {
      {.name = "bad_check_digit",
       .native = "51205280106;PSYCHOLOGIST;75001023;x;k1\n",
       .reason = "INVALID_PERSONAL_CODE",
       .field = "personal_code"},
      {.name = "missing_personal_code",
       .native = ";PSYCHOLOGIST;75001023;x;k1\n",
       .reason = "MISSING_FIELD",
       .field = "personal_code"},
      {.name = "unknown_service",
       .native = "51205280105;ASTROLOGER;75001023;x;k1\n",
       .reason = "UNKNOWN_SERVICE",
       .field = "service"},
      {.name = "bad_registry_code",
       .native = "51205280105;PSYCHOLOGIST;75001024;x;k1\n",
       .reason = "INVALID_REGISTRY_CODE",
       .field = "performer"},
      {.name = "missing_key",
       .native = "51205280105;PSYCHOLOGIST;75001023;x;\n",
       .reason = "MISSING_IDEMPOTENCY_KEY",
       .field = "idempotency_key"},
      {.name = "bad_escape",
       .native = "51205280105;PSYCHOLOGIST;75001023;x\\q;k1\n",
       .reason = "INVALID_ESCAPE",
       .field = "summary"},
      {.name = "too_few_columns",
       .native = "51205280105;PSYCHOLOGIST\n",
       .reason = "WRONG_COLUMN_COUNT",
       .field = ""},
      {.name = "two_lines",
       .native = "51205280105;PSYCHOLOGIST;75001023;x;k1\n"
                 "51205280105;PSYCHOLOGIST;75001023;x;k2\n",
       .reason = "MULTIPLE_LINES",
       .field = ""},
  };
  // One CSV line cannot nest: make_deep stays unset.
  params.native_seeds = {"51205280105;social_worker;;Ema palus abi;k-7\r\n"};
  return params;
}

SILD_CODEC_CONFORMANCE(CsvReferral, CsvParams());

TEST(CsvReferralCodecTest, DecodesAnAgencyLineWithoutMessageId) {
  CsvReferralCodec codec;
  auto envelope = codec.Decode(
      "51205280105;social_worker;;Ema palus abi\\073 kiire;k-7\r\n");
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->referral().service(),
            sild::v1::SERVICE_TYPE_SOCIAL_WORKER);
  EXPECT_EQ(envelope->referral().summary(), "Ema palus abi; kiire");
  EXPECT_TRUE(envelope->message_id().empty());
  EXPECT_FALSE(envelope->referral().has_performer());
}

TEST(CsvReferralCodecTest, EncodesTheDocumentedLine) {
  CsvReferralCodec codec;
  auto line = codec.Encode(SampleReferral());
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line,
            "51205280105;PSYCHOLOGIST;75001023;Sage puudumised\\073 vajab "
            "tuge.\\nTeine rida \\\\ kaldkriips;ehis-2024-0042;"
            "0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a60\n");
}

TEST(CsvReferralCodecTest, ConfiguredSeparator) {
  sild::connectors::v1::CsvReferralCodecConfig config;
  config.set_separator("|");
  google::protobuf::Any any;
  any.PackFrom(config);
  auto codec = CreateCodec("csv-referral", any, "codec_config");
  ASSERT_TRUE(codec.ok()) << codec.status();
  auto envelope = (*codec)->Decode("51205280105|PSYCHOLOGIST||a;b|k1");
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->referral().summary(), "a;b");
  config.set_separator("||");
  any.PackFrom(config);
  EXPECT_EQ(ErrorReason(CreateCodec("csv-referral", any, "c").status()),
            "INVALID_CONNECTOR_CONFIG");
}

}  // namespace
}  // namespace sild::connectors
