// Egress through connector SDK transports, end to end over mTLS: a referral
// the school submits over gRPC reaches social services as a native document
// in social services' own format (its codec), written by the SDK "file"
// transport; what the codec cannot carry becomes a dead letter with the
// codec's reason; a bad egress config stops the gateway at start.
#include "gateway/delivery/egress.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/server/server.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "sild/connectors/v1/example.pb.h"
#include "sild/v1/delivery_service.grpc.pb.h"
#include "tests/gateway/delivery/inbox_test_util.h"
#include "tests/testing/test_env.h"

namespace sild::delivery {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// The only file with `extension` in `dir`, once one appears.
std::optional<std::string> WaitForOnlyFile(const std::string& dir,
                                           const std::string& extension,
                                           absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      if (entry.path().extension() == "." + extension) {
        return entry.path().string();
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return std::nullopt;
}

class ConnectorEgressTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("connector-egress");
    outbox_ = dir_ + "/social-services-in";
    config_ = testing::DemoGatewayConfig(dir_);
    testing::AddSupportReferralRule(config_);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
  }

  // Social services take messages as `codec` documents in a folder.
  void NativeFilesFor(const std::string& registry_code,
                      const std::string& codec, const std::string& folder) {
    for (config::v1::AgencyConfig& agency : *config_.mutable_agencies()) {
      if (agency.registry_code() != registry_code) continue;
      agency.set_codec(codec);
      agency.set_transport("file");
      sild::connectors::v1::FileTransportConfig file;
      file.set_directory(folder);
      file.set_extension("native");
      agency.mutable_transport_config()->PackFrom(file);
    }
  }

  void Start() {
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<connectors::Codec> Codec(const std::string& name) {
    auto codec = connectors::CreateCodec(name, google::protobuf::Any(), "x");
    EXPECT_TRUE(codec.ok()) << codec.status();
    return codec.ok() ? *std::move(codec) : nullptr;
  }

  std::string dir_;
  std::string outbox_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_P(ConnectorEgressTest, RecipientGetsItsOwnFormatMinimised) {
  const std::string codec_name = GetParam();
  NativeFilesFor(testing::kSocialCode, codec_name, outbox_);
  ASSERT_NO_FATAL_FAILURE(Start());

  sild::v1::Receipt receipt;
  grpc::Status submitted =
      testing::SubmitReferral(server_->port(), "school",
                              testing::SupportReferral("egress-1"), &receipt);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();

  auto path = WaitForOnlyFile(outbox_, "native", absl::Seconds(20));
  ASSERT_TRUE(path.has_value()) << "nothing delivered to " << outbox_;
  EXPECT_EQ(fs::path(*path).stem().string(), receipt.message_id());
  auto bytes = ReadFileToString(*path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  // Minimised before encoding: the rule leaves health data out.
  EXPECT_THAT(*bytes, Not(HasSubstr("suspected anxiety")));

  std::unique_ptr<connectors::Codec> codec = Codec(codec_name);
  ASSERT_NE(codec, nullptr);
  auto decoded = codec->Decode(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status() << "\n" << *bytes;
  ASSERT_TRUE(decoded->has_referral()) << decoded->DebugString();
  const sild::v1::Referral& referral = decoded->referral();
  EXPECT_EQ(referral.header().message_id(), receipt.message_id());
  EXPECT_EQ(referral.subject().id().value(), testing::kPupil);
  EXPECT_EQ(referral.service(), sild::v1::SERVICE_TYPE_SOCIAL_WORKER);
  for (const auto& indicator : referral.risk_indicators()) {
    EXPECT_FALSE(indicator.has_health()) << "health indicator disclosed";
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, ConnectorEgressTest,
                         ::testing::Values("social-json", "fhir-r4"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

class ConnectorEgressFailureTest : public ConnectorEgressTest {};

TEST_F(ConnectorEgressFailureTest, WhatTheCodecCannotCarryIsADeadLetter) {
  // The school takes messages as CSV referral lines: a status update coming
  // back to it cannot be written in that format.
  const std::string school_in = dir_ + "/school-in";
  NativeFilesFor(testing::kSchoolCode, "csv-referral", school_in);
  ASSERT_NO_FATAL_FAILURE(Start());

  sild::v1::Receipt receipt;
  ASSERT_TRUE(testing::SubmitReferral(server_->port(), "school",
                                      testing::SupportReferral("egress-2"),
                                      &receipt)
                  .ok());
  {
    auto stub = sild::v1::ReferralService::NewStub(
        testing::AgencyChannel(server_->port(), "social-services"));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    sild::v1::UpdateReferralStatusRequest request;
    request.set_referral_id(receipt.message_id());
    request.set_status(sild::v1::REFERRAL_STATUS_ACCEPTED);
    sild::v1::Receipt status_receipt;
    grpc::Status status =
        stub->UpdateStatus(&context, request, &status_receipt);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  auto deliveries = sild::v1::DeliveryService::NewStub(
      testing::AgencyChannel(server_->port(), "auditor"));
  std::optional<sild::v1::Delivery> dead;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!dead && absl::Now() < deadline) {
    grpc::ClientContext context;
    sild::v1::ListDeliveriesRequest request;
    request.set_state(sild::v1::DELIVERY_STATE_DEAD);
    request.set_recipient_registry_code(testing::kSchoolCode);
    sild::v1::ListDeliveriesResponse response;
    grpc::Status status = deliveries->List(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (response.deliveries_size() > 0) dead = response.deliveries(0);
    if (!dead) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(dead.has_value()) << "the status update did not dead-letter";
  EXPECT_EQ(dead->kind(), sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
  EXPECT_EQ(dead->attempts(), 1) << "an encode failure is not retried";
  EXPECT_THAT(dead->last_error(), HasSubstr("csv-referral"));
  EXPECT_THAT(dead->last_error(), HasSubstr("REFERRAL_STATUS"));
  EXPECT_THAT(dead->last_error(), Not(HasSubstr(testing::kPupil)));
  // Nothing half-written in the school's folder.
  std::error_code error;
  EXPECT_TRUE(!fs::exists(school_in, error) || fs::is_empty(school_in, error));
}

TEST_F(ConnectorEgressFailureTest, BadEgressConfigStopsTheGatewayAtStart) {
  // A transport_config of the wrong type.
  for (config::v1::AgencyConfig& agency : *config_.mutable_agencies()) {
    if (agency.registry_code() != testing::kSocialCode) continue;
    agency.set_transport("file");
    agency.mutable_transport_config()->PackFrom(
        sild::connectors::v1::CsvReferralCodecConfig());
  }
  auto server = GatewayServer::Start(config_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(
      ErrorField(server.status()),
      ::testing::MatchesRegex(R"(agencies\[[0-9]+\]\.transport_config)"));
}

TEST_F(ConnectorEgressFailureTest, UnknownTransportStopsTheGatewayAtStart) {
  for (config::v1::AgencyConfig& agency : *config_.mutable_agencies()) {
    if (agency.registry_code() == testing::kSocialCode) {
      agency.set_transport("carrier-pigeon");
    }
  }
  auto server = GatewayServer::Start(config_);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(ErrorReason(server.status()), "UNKNOWN_TRANSPORT");
  EXPECT_THAT(ErrorField(server.status()),
              ::testing::MatchesRegex(R"(agencies\[[0-9]+\]\.transport)"));
}

TEST(EncodeForRecipientTest, WithoutACodecTheEnvelopeTravels) {
  OutboxRow row;
  row.message_id = "m-1";
  row.recipient = testing::kSocialCode;
  row.kind = sild::v1::MESSAGE_KIND_REFERRAL;
  *row.envelope.mutable_referral() = testing::SupportReferral("k");
  row.envelope.mutable_referral()->mutable_header()->set_case_id("case-7");
  auto message = EncodeForRecipient(row, nullptr, nullptr);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->content_type, kEnvelopeContentType);
  EXPECT_EQ(message->kind, "REFERRAL");
  EXPECT_EQ(message->key, "case-7");
  sild::v1::Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(message->bytes));
  EXPECT_EQ(parsed.referral().subject().id().value(), testing::kPupil);
}

}  // namespace
}  // namespace sild::delivery
