// Egress endpoints built from the config: the canonical "file" form
// (transport "file" + transport_target, translated by the loader into the
// SDK file transport with the binary envelope), its delivery rules, and
// which agencies get no push endpoint (they pull over the gRPC inbox).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/config/config_loader.h"
#include "gateway/delivery/egress.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sild/connectors/v1/example.pb.h"
#include "tests/testing/test_env.h"

namespace sild::delivery {
namespace {

using connectors::DeliveryResult;
using ::testing::HasSubstr;

constexpr char kFileAgency[] = "75001023";  // social services

OutboxRow SampleRow(const std::string& message_id) {
  OutboxRow row;
  row.delivery_id = 7;
  row.message_id = message_id;
  row.recipient = kFileAgency;
  row.kind = sild::v1::MESSAGE_KIND_REFERRAL;
  row.transport = "file";
  row.envelope.set_message_id(message_id);
  row.envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  row.envelope.mutable_referral()->mutable_header()->set_message_id(message_id);
  row.envelope.mutable_referral()->set_summary("Absent most Mondays.");
  return row;
}

// The demo config with social services on the canonical file form.
config::v1::GatewayConfig FileConfig(const std::string& folder) {
  config::v1::GatewayConfig config =
      testing::DemoGatewayConfig(testing::MakeTempDir("egress-endpoint-cfg"));
  for (auto& agency : *config.mutable_agencies()) {
    if (agency.registry_code() == kFileAgency) {
      agency.set_transport("file");
      agency.set_transport_target(folder);
    }
  }
  return config;
}

std::unique_ptr<EgressEndpoints> EndpointsFor(const std::string& folder) {
  config::v1::GatewayConfig config = FileConfig(folder);
  absl::Status valid = ValidateConfig(config, "", /*check_files=*/false);
  EXPECT_TRUE(valid.ok()) << valid;
  auto endpoints = EgressEndpoints::Create(config, nullptr);
  EXPECT_TRUE(endpoints.ok()) << endpoints.status();
  return endpoints.ok() ? *std::move(endpoints) : nullptr;
}

DeliveryResult DeliverOne(const EgressEndpoints& endpoints,
                          const OutboxRow& row) {
  const EgressEndpoint* endpoint = endpoints.Find(row.recipient);
  EXPECT_NE(endpoint, nullptr);
  if (endpoint == nullptr) return DeliveryResult::Permanent("no endpoint");
  return endpoint->Deliver({&row}).front();
}

std::string PathFor(const std::string& folder, const std::string& id) {
  return folder + "/" + id + ".binpb";
}

std::vector<std::string> Entries(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

TEST(LegacyFileFormTest, TheLoaderTranslatesItIntoTheSdkFileTransport) {
  config::v1::GatewayConfig config = FileConfig("/srv/drop/social");
  ASSERT_TRUE(ValidateConfig(config, "", false).ok());
  for (const auto& agency : config.agencies()) {
    if (agency.registry_code() != kFileAgency) continue;
    EXPECT_EQ(agency.transport(), "file");
    sild::connectors::v1::FileTransportConfig file;
    ASSERT_TRUE(agency.transport_config().UnpackTo(&file));
    EXPECT_EQ(file.directory(), "/srv/drop/social");
    EXPECT_EQ(file.extension(), "binpb");
    EXPECT_TRUE(file.require_existing_directory());
  }
}

TEST(LegacyFileFormTest, WithoutAFolderTheConfigIsRefused) {
  config::v1::GatewayConfig config = FileConfig("");
  absl::Status valid = ValidateConfig(config, "", false);
  ASSERT_FALSE(valid.ok());
  EXPECT_THAT(
      ErrorField(valid),
      ::testing::MatchesRegex(R"(agencies\[[0-9]+\]\.transport_target)"));
}

TEST(EgressEndpointsTest, OnlyPushRecipientsGetAnEndpoint) {
  std::unique_ptr<EgressEndpoints> endpoints =
      EndpointsFor(testing::MakeTempDir("egress-endpoint-push"));
  ASSERT_NE(endpoints, nullptr);
  EXPECT_EQ(endpoints->size(), 1u);
  const EgressEndpoint* file = endpoints->Find(kFileAgency);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->transport_name(), "file");
  EXPECT_EQ(file->format(), "sild.v1.Envelope");
  EXPECT_FALSE(file->pipelines());
  // The school pulls over the gRPC inbox: no push endpoint.
  EXPECT_EQ(endpoints->Find("75001017"), nullptr);
  EXPECT_EQ(endpoints->Probes().size(), 1u);
}

TEST(EgressEndpointsTest, FileFormWritesTheEnvelopeAsOneCompleteFile) {
  std::string folder = testing::MakeTempDir("egress-endpoint-write");
  auto endpoints = EndpointsFor(folder);
  ASSERT_NE(endpoints, nullptr);
  OutboxRow row = SampleRow("0b7f6a1e-1111-4222-8333-444455556666");
  DeliveryResult result = DeliverOne(*endpoints, row);
  ASSERT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;

  auto bytes = ReadFileToString(PathFor(folder, row.message_id));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  sild::v1::Envelope written;
  ASSERT_TRUE(written.ParseFromString(*bytes));
  EXPECT_EQ(written.SerializeAsString(), row.envelope.SerializeAsString());
  // Nothing but the message: no temporary file is left behind.
  EXPECT_THAT(Entries(folder),
              ::testing::ElementsAre(row.message_id + ".binpb"));
}

TEST(EgressEndpointsTest, AnExistingFileForTheMessageCountsAsDelivered) {
  std::string folder = testing::MakeTempDir("egress-endpoint-existing");
  auto endpoints = EndpointsFor(folder);
  ASSERT_NE(endpoints, nullptr);
  OutboxRow row = SampleRow("1c7f6a1e-1111-4222-8333-444455556666");
  std::string path = PathFor(folder, row.message_id);
  // An earlier attempt delivered it before the gateway could record that.
  ASSERT_TRUE(WriteFileAtomically(path, "earlier copy").ok());
  DeliveryResult result = DeliverOne(*endpoints, row);
  EXPECT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
  auto bytes = ReadFileToString(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, "earlier copy");  // not written twice
}

TEST(EgressEndpointsTest, UnwritableFolderIsRetryable) {
  std::string folder = testing::MakeTempDir("egress-endpoint-unwritable");
  auto endpoints = EndpointsFor(folder);
  ASSERT_NE(endpoints, nullptr);
  OutboxRow row = SampleRow("2c7f6a1e-1111-4222-8333-444455556666");
  // The temporary name is taken by a folder, so no file can be created
  // there (works even for root, whom permissions do not stop).
  std::string path = PathFor(folder, row.message_id);
  std::filesystem::create_directories(path + ".tmp." +
                                      std::to_string(::getpid()));
  DeliveryResult result = DeliverOne(*endpoints, row);
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("cannot create"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(EgressEndpointsTest, MissingFolderIsRetryableAndNotCreated) {
  std::string folder = testing::MakeTempDir("egress-endpoint-missing");
  auto endpoints = EndpointsFor(folder + "/not-mounted");
  ASSERT_NE(endpoints, nullptr);
  DeliveryResult result =
      DeliverOne(*endpoints, SampleRow("3c7f6a1e-1111-4222-8333-444455556666"));
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("not available"));
  EXPECT_FALSE(std::filesystem::exists(folder + "/not-mounted"));
  EXPECT_FALSE(endpoints->Find(kFileAgency)->health().ok());

  // A regular file where the folder should be is no better.
  ASSERT_TRUE(WriteFileAtomically(folder + "/plain", "x").ok());
  auto plain = EndpointsFor(folder + "/plain");
  ASSERT_NE(plain, nullptr);
  result =
      DeliverOne(*plain, SampleRow("4c7f6a1e-1111-4222-8333-444455556666"));
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
}

TEST(EgressEndpointsTest, UnsafeMessageIdIsPermanent) {
  std::string folder = testing::MakeTempDir("egress-endpoint-unsafe");
  auto endpoints = EndpointsFor(folder);
  ASSERT_NE(endpoints, nullptr);
  for (const char* id : {"../escape", "a/b", ".hidden", ""}) {
    DeliveryResult unsafe = DeliverOne(*endpoints, SampleRow(id));
    EXPECT_EQ(unsafe.outcome, DeliveryResult::kPermanent) << id;
  }
  EXPECT_TRUE(Entries(folder).empty());
}

}  // namespace
}  // namespace sild::delivery
