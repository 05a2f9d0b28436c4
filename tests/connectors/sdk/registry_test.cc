// The registry and TypedCodecFactory: what a factory made from the template
// does, and that the five codecs' factories keep their config checks.
#include "connectors/sdk/registry.h"

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/base/errors.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "sild/connectors/v1/ehis.pb.h"
#include "sild/connectors/v1/example.pb.h"
#include "sild/connectors/v1/fhir.pb.h"
#include "sild/connectors/v1/social.pb.h"
#include "sild/connectors/v1/uif.pb.h"

namespace sild::connectors {
namespace {

// A codec that only echoes its config's value as its content type.
class ConstructedCodec final : public Codec {
 public:
  static constexpr char kName[] = "test-constructed";
  explicit ConstructedCodec(const google::protobuf::StringValue& config)
      : content_type_(config.value()) {}
  std::string name() const override { return kName; }
  std::string content_type() const override { return content_type_; }
  std::vector<sild::v1::MessageKind> kinds() const override {
    return {sild::v1::MESSAGE_KIND_REFERRAL};
  }
  absl::StatusOr<sild::v1::Envelope> Decode(absl::string_view) const override {
    return sild::v1::Envelope();
  }
  absl::StatusOr<std::string> Encode(const sild::v1::Envelope&) const override {
    return std::string();
  }

 private:
  std::string content_type_;
};

// The same with a checked Create, which refuses an empty value.
class CheckedCodec final : public Codec {
 public:
  static constexpr char kName[] = "test-checked";
  static absl::StatusOr<std::unique_ptr<CheckedCodec>> Create(
      const google::protobuf::StringValue& config) {
    if (config.value().empty()) {
      return InvalidField("INVALID_CONNECTOR_CONFIG", "value", "required");
    }
    return std::make_unique<CheckedCodec>();
  }
  std::string name() const override { return kName; }
  std::string content_type() const override { return "text/plain"; }
  std::vector<sild::v1::MessageKind> kinds() const override {
    return {sild::v1::MESSAGE_KIND_REFERRAL};
  }
  absl::StatusOr<sild::v1::Envelope> Decode(absl::string_view) const override {
    return sild::v1::Envelope();
  }
  absl::StatusOr<std::string> Encode(const sild::v1::Envelope&) const override {
    return std::string();
  }
};

using ConstructedFactory =
    TypedCodecFactory<ConstructedCodec::kName, google::protobuf::StringValue,
                      ConstructedCodec>;
using CheckedFactory =
    TypedCodecFactory<CheckedCodec::kName, google::protobuf::StringValue,
                      CheckedCodec>;
SILD_REGISTER_CODEC_FACTORY(CheckedFactory);

google::protobuf::StringValue Value(const std::string& value) {
  google::protobuf::StringValue config;
  config.set_value(value);
  return config;
}

template <typename Config>
google::protobuf::Any Pack(const Config& config) {
  google::protobuf::Any any;
  any.PackFrom(config);
  return any;
}

TEST(TypedCodecFactory, NamesItselfAndItsConfigType) {
  ConstructedFactory factory;
  EXPECT_EQ(factory.name(), "test-constructed");
  EXPECT_EQ(factory.CreateEmptyConfig()->GetDescriptor(),
            google::protobuf::StringValue::descriptor());
}

TEST(TypedCodecFactory, ConstructsACodecWithoutCreate) {
  auto codec = ConstructedFactory().Create(Value("text/x"));
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_EQ((*codec)->name(), "test-constructed");
  EXPECT_EQ((*codec)->content_type(), "text/x");
}

TEST(TypedCodecFactory, UsesTheCodecsCreateAndKeepsItsError) {
  auto refused = CheckedFactory().Create(Value(""));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(refused.status()), "INVALID_CONNECTOR_CONFIG");
  EXPECT_EQ(ErrorField(refused.status()), "value");
  auto codec = CheckedFactory().Create(Value("x"));
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_EQ((*codec)->name(), "test-checked");
}

TEST(CreateCodec, RegisteredTypedFactoryUnpacksItsConfig) {
  EXPECT_TRUE(CreateCodec("test-checked", Pack(Value("x")), "c").ok());
  // An empty Any is the default config, which this codec refuses.
  EXPECT_EQ(ErrorField(CreateCodec("test-checked", google::protobuf::Any(),
                                   "agencies[0].codec_config")
                           .status()),
            "value");
  auto wrong = CreateCodec("test-checked", Pack(google::protobuf::Empty()),
                           "agencies[0].codec_config");
  EXPECT_EQ(ErrorReason(wrong.status()), "INVALID_CONNECTOR_CONFIG");
  EXPECT_EQ(ErrorField(wrong.status()), "agencies[0].codec_config");
}

TEST(CreateCodec, UnknownNameListsTheKnown) {
  auto codec = CreateCodec("no-such-codec", google::protobuf::Any(), "f");
  EXPECT_EQ(ErrorReason(codec.status()), "UNKNOWN_CONNECTOR");
  EXPECT_EQ(ErrorField(codec.status()), "f");
  EXPECT_NE(codec.status().message().find("fhir-r4"), std::string::npos)
      << codec.status();
}

// The codecs' factories (all TypedCodecFactory): config types and checks.
TEST(CodecFactories, ConfigTypes) {
  const std::pair<const char*, const google::protobuf::Descriptor*> kTypes[] = {
      {"csv-referral", v1::CsvReferralCodecConfig::descriptor()},
      {"ehis-xml", v1::EhisCodecConfig::descriptor()},
      {"fhir-r4", v1::FhirCodecConfig::descriptor()},
      {"social-json", v1::SocialCodecConfig::descriptor()},
      {"uif-json", v1::UifCodecConfig::descriptor()}};
  for (const auto& [name, type] : kTypes) {
    SCOPED_TRACE(name);
    const CodecFactory* factory = Registry<CodecFactory>::Get().Find(name);
    ASSERT_NE(factory, nullptr);
    EXPECT_EQ(factory->name(), name);
    EXPECT_EQ(factory->CreateEmptyConfig()->GetDescriptor(), type);
    auto codec = CreateCodec(name, google::protobuf::Any(), "c");
    ASSERT_TRUE(codec.ok()) << codec.status();
    EXPECT_EQ((*codec)->name(), name);
  }
}

template <typename Config>
void ExpectDepthChecked(const std::string& name) {
  SCOPED_TRACE(name);
  Config config;
  config.set_max_depth(1000);
  EXPECT_TRUE(CreateCodec(name, Pack(config), "c").ok());
  config.set_max_depth(1001);
  auto codec = CreateCodec(name, Pack(config), "c");
  ASSERT_FALSE(codec.ok());
  EXPECT_EQ(codec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(codec.status()), "INVALID_CONNECTOR_CONFIG");
  EXPECT_EQ(ErrorField(codec.status()), "max_depth");
  EXPECT_NE(codec.status().message().find("at most 1000"), std::string::npos)
      << codec.status();
}

TEST(CodecFactories, DepthLimitOfTheXmlAndSocialJsonCodecs) {
  ExpectDepthChecked<v1::EhisCodecConfig>("ehis-xml");
  ExpectDepthChecked<v1::SocialCodecConfig>("social-json");
  ExpectDepthChecked<v1::UifCodecConfig>("uif-json");
}

TEST(CodecFactories, FhirTakesAnyDepth) {
  v1::FhirCodecConfig config;
  config.set_max_depth(1001);
  EXPECT_TRUE(CreateCodec("fhir-r4", Pack(config), "c").ok());
}

TEST(CodecFactories, UifFundRegistryCode) {
  v1::UifCodecConfig config;
  config.set_fund_registry_code("70009771");
  auto codec = CreateCodec("uif-json", Pack(config), "c");
  EXPECT_EQ(ErrorReason(codec.status()), "INVALID_CONNECTOR_CONFIG");
  EXPECT_EQ(ErrorField(codec.status()), "fund_registry_code");
}

TEST(CodecFactories, CsvSeparator) {
  for (const char* bad : {"||", "\\", "\n", "\xc3\xa9"}) {
    SCOPED_TRACE(bad);
    v1::CsvReferralCodecConfig config;
    config.set_separator(bad);
    auto codec = CreateCodec("csv-referral", Pack(config), "c");
    EXPECT_EQ(ErrorReason(codec.status()), "INVALID_CONNECTOR_CONFIG");
    EXPECT_EQ(ErrorField(codec.status()), "separator");
  }
  for (const char* good : {"", "|", ","}) {
    SCOPED_TRACE(good);
    v1::CsvReferralCodecConfig config;
    config.set_separator(good);
    EXPECT_TRUE(CreateCodec("csv-referral", Pack(config), "c").ok());
  }
}

}  // namespace
}  // namespace sild::connectors
