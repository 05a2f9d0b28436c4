#include "connectors/transports/file/file_transport.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "connectors/sdk/conformance/transport_conformance.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace sild::connectors {
namespace {

namespace fs = std::filesystem;
using conformance::DeadLetter;
using conformance::TransportConformanceParams;
using conformance::TransportPair;

google::protobuf::Any FileConfig(const std::string& dir) {
  sild::connectors::v1::FileTransportConfig config;
  config.set_directory(dir);
  config.set_extension("csv");
  config.set_poll_interval_ms(20);
  config.set_max_retry_backoff_ms(100);
  google::protobuf::Any any;
  any.PackFrom(config);
  return any;
}

std::vector<DeadLetter> ReadRejected(const std::string& dir) {
  std::vector<DeadLetter> dead;
  std::error_code error;
  for (fs::directory_iterator it(dir + "/rejected", error), end;
       !error && it != end; it.increment(error)) {
    std::string name = it->path().filename().string();
    absl::string_view stem = name;
    if (!absl::ConsumeSuffix(&stem, ".csv")) continue;
    auto bytes = ReadFileToString(it->path().string());
    auto reason = ReadFileToString(it->path().string() + ".error");
    if (!bytes.ok() || !reason.ok()) continue;
    dead.push_back({std::string(stem), *bytes, *reason});
  }
  return dead;
}

TransportConformanceParams FileParams() {
  TransportConformanceParams params;
  params.name = "file";
  params.make_pair = []() -> absl::StatusOr<TransportPair> {
    static int counter = 0;
    std::string dir =
        sild::testing::MakeTempDir(absl::StrCat("file-transport-", ++counter));
    TransportPair pair;
    auto egress = CreateEgressTransport("file", FileConfig(dir), "transport");
    if (!egress.ok()) return egress.status();
    auto ingress =
        CreateIngressTransport("file", FileConfig(dir), "ingress_transport");
    if (!ingress.ok()) return ingress.status();
    pair.egress = *std::move(egress);
    pair.ingress = *std::move(ingress);
    pair.dead_letters = [dir] { return ReadRejected(dir); };
    return pair;
  };
  params.settle = absl::Milliseconds(300);
  return params;
}

SILD_TRANSPORT_CONFORMANCE(File, FileParams());

TEST(FileTransportTest, EgressRefusesUnsafeMessageIds) {
  std::string dir = sild::testing::MakeTempDir("file-transport-unsafe");
  auto egress = CreateEgressTransport("file", FileConfig(dir), "transport");
  ASSERT_TRUE(egress.ok());
  OutboundMessage message;
  message.message_id = "../escape";
  message.bytes = "x";
  EXPECT_EQ((*egress)->Deliver(message).outcome, DeliveryResult::kPermanent);
  EXPECT_FALSE(fs::exists(dir + "/../escape.csv"));
}

TEST(FileTransportTest, OversizedFileIsRejectedUnread) {
  std::string dir = sild::testing::MakeTempDir("file-transport-large");
  sild::connectors::v1::FileTransportConfig config;
  config.set_directory(dir);
  config.set_poll_interval_ms(20);
  config.set_max_file_bytes(10);
  ASSERT_TRUE(WriteFileAtomically(dir + "/big.msg", std::string(11, 'x')).ok());
  FileIngressTransport ingress(config);
  std::atomic<int> handled{0};
  ASSERT_TRUE(ingress
                  .Start([&](const InboundMessage&,
                             std::function<void(absl::Status)> done) {
                    ++handled;
                    done(absl::OkStatus());
                  })
                  .ok());
  for (int i = 0; i < 200 && !fs::exists(dir + "/rejected/big.msg"); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ingress.Stop();
  EXPECT_EQ(handled, 0);
  auto reason = ReadFileToString(dir + "/rejected/big.msg.error");
  ASSERT_TRUE(reason.ok()) << reason.status();
  EXPECT_NE(reason->find("INPUT_TOO_LARGE"), std::string::npos) << *reason;
}

TEST(FileTransportTest, ConfigWithoutDirectoryIsRefused) {
  google::protobuf::Any any;
  any.PackFrom(sild::connectors::v1::FileTransportConfig());
  auto ingress = CreateIngressTransport("file", any, "agencies[0].ingress");
  EXPECT_EQ(ErrorReason(ingress.status()), "MISSING_FIELD");
}

}  // namespace
}  // namespace sild::connectors
