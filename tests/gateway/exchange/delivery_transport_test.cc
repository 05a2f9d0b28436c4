// The file transport and the transport registry.
#include <sys/stat.h>

#include <filesystem>

#include "gateway/common/files.h"
#include "gateway/exchange/transport_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace sild::exchange {
namespace {

using ::testing::HasSubstr;

OutboxRow SampleRow(const std::string& message_id) {
  OutboxRow row;
  row.delivery_id = 7;
  row.message_id = message_id;
  row.recipient = "75001023";
  row.kind = sild::v1::MESSAGE_KIND_REFERRAL;
  row.transport = "file";
  row.envelope.set_message_id(message_id);
  row.envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  row.envelope.mutable_referral()->mutable_header()->set_message_id(message_id);
  row.envelope.mutable_referral()->set_summary("Absent most Mondays.");
  return row;
}

Agency FileAgency(const std::string& folder) {
  Agency agency;
  agency.config.set_registry_code("75001023");
  agency.config.set_transport("file");
  agency.config.set_transport_target(folder);
  agency.ref.set_registry_code("75001023");
  return agency;
}

std::vector<std::string> Entries(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

TEST(FileTransportTest, WritesTheEnvelopeAsOneCompleteFile) {
  std::string folder = testing::MakeTempDir("file-transport-write");
  FileTransport transport;
  OutboxRow row = SampleRow("0b7f6a1e-1111-4222-8333-444455556666");
  DeliveryResult result = transport.Deliver(row, FileAgency(folder));
  ASSERT_EQ(result.kind, DeliveryResult::kDelivered) << result.error;

  std::string path = FileTransport::PathFor(folder, row.message_id);
  EXPECT_EQ(path, folder + "/" + row.message_id + ".binpb");
  auto bytes = ReadFileToString(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  sild::v1::Envelope written;
  ASSERT_TRUE(written.ParseFromString(*bytes));
  EXPECT_EQ(written.SerializeAsString(), row.envelope.SerializeAsString());
  // Nothing but the message: no temporary file is left behind.
  EXPECT_THAT(Entries(folder),
              ::testing::ElementsAre(row.message_id + ".binpb"));
}

TEST(FileTransportTest, AnExistingFileForTheMessageCountsAsDelivered) {
  std::string folder = testing::MakeTempDir("file-transport-existing");
  OutboxRow row = SampleRow("1c7f6a1e-1111-4222-8333-444455556666");
  std::string path = FileTransport::PathFor(folder, row.message_id);
  // An earlier attempt delivered it before the gateway could record that.
  ASSERT_TRUE(WriteFileAtomically(path, "earlier copy").ok());
  FileTransport transport;
  DeliveryResult result = transport.Deliver(row, FileAgency(folder));
  EXPECT_EQ(result.kind, DeliveryResult::kDelivered) << result.error;
  auto bytes = ReadFileToString(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, "earlier copy");  // not written twice
}

TEST(FileTransportTest, UnwritableFolderIsRetryable) {
  std::string folder = testing::MakeTempDir("file-transport-unwritable");
  OutboxRow row = SampleRow("2c7f6a1e-1111-4222-8333-444455556666");
  // The temporary name is taken by a folder, so no file can be created
  // there (works even for root, whom permissions do not stop).
  std::string path = FileTransport::PathFor(folder, row.message_id);
  std::filesystem::create_directories(path + ".tmp." +
                                      std::to_string(::getpid()));
  FileTransport transport;
  DeliveryResult result = transport.Deliver(row, FileAgency(folder));
  EXPECT_EQ(result.kind, DeliveryResult::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("cannot create"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(FileTransportTest, MissingFolderIsRetryable) {
  std::string folder = testing::MakeTempDir("file-transport-missing");
  FileTransport transport;
  DeliveryResult result =
      transport.Deliver(SampleRow("3c7f6a1e-1111-4222-8333-444455556666"),
                        FileAgency(folder + "/not-mounted"));
  EXPECT_EQ(result.kind, DeliveryResult::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("not available"));

  // A regular file where the folder should be is no better.
  ASSERT_TRUE(WriteFileAtomically(folder + "/plain", "x").ok());
  result = transport.Deliver(SampleRow("4c7f6a1e-1111-4222-8333-444455556666"),
                             FileAgency(folder + "/plain"));
  EXPECT_EQ(result.kind, DeliveryResult::kRetryable);
}

TEST(FileTransportTest, NoTargetOrUnsafeIdIsPermanent) {
  FileTransport transport;
  DeliveryResult no_target = transport.Deliver(
      SampleRow("5c7f6a1e-1111-4222-8333-444455556666"), FileAgency(""));
  EXPECT_EQ(no_target.kind, DeliveryResult::kPermanent);
  EXPECT_THAT(no_target.error, HasSubstr("transport_target"));

  std::string folder = testing::MakeTempDir("file-transport-unsafe");
  for (const char* id : {"../escape", "a/b", ".hidden", ""}) {
    DeliveryResult unsafe =
        transport.Deliver(SampleRow(id), FileAgency(folder));
    EXPECT_EQ(unsafe.kind, DeliveryResult::kPermanent) << id;
  }
  EXPECT_TRUE(Entries(folder).empty());
}

TEST(TransportRegistryTest, BuiltinsAndRegistration) {
  TransportRegistry registry = TransportRegistry::WithBuiltins();
  ASSERT_NE(registry.Find("file"), nullptr);
  EXPECT_TRUE(registry.Find("file")->is_push());
  ASSERT_NE(registry.Find("grpc-inbox"), nullptr);
  EXPECT_FALSE(registry.Find("grpc-inbox")->is_push());
  EXPECT_EQ(registry.Find("nats"), nullptr);
  EXPECT_THAT(registry.names(), ::testing::ElementsAre("file", "grpc-inbox"));
}

}  // namespace
}  // namespace sild::exchange
