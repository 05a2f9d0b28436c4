#include "gateway/config/config_loader.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::testing::HasSubstr;

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("config");
    config_ = testing::DemoGatewayConfig(dir_);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string ValidJson() {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    EXPECT_TRUE(
        google::protobuf::util::MessageToJsonString(config_, &json, options)
            .ok());
    return json;
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
};

TEST_F(ConfigLoaderTest, LoadsJsonAndFillsDefaults) {
  auto loaded = LoadConfig(Write("gateway.json", ValidJson()));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->agencies_size(), 7);
  EXPECT_EQ(loaded->limits().max_message_bytes(), 4 * 1024 * 1024);
  EXPECT_EQ(loaded->limits().default_deadline_ms(), 30000);
  EXPECT_EQ(loaded->logging().level(), "info");
  EXPECT_EQ(loaded->tls().trust_domain(), "sild.example");
  EXPECT_EQ(loaded->agencies(0).identities(0),
            "spiffe://sild.example/agency/75001017");
}

TEST_F(ConfigLoaderTest, LoadsTextprotoAndResolvesRelativePaths) {
  config_.mutable_store()->mutable_sqlite()->set_path("data/sild.db");
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config_, &text));
  auto loaded = LoadConfig(Write("gateway.textproto", text));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->store().sqlite().path(), dir_ + "/data/sild.db");
}

TEST_F(ConfigLoaderTest, MissingFileIsNotFound) {
  auto loaded = LoadConfig(dir_ + "/nope.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr("nope.json"));
  EXPECT_EQ(ErrorReason(loaded.status()), "CONFIG_NOT_FOUND");
}

TEST_F(ConfigLoaderTest, BadJsonNamesThePosition) {
  auto loaded = LoadConfig(Write("bad.json", "{\n  \"listenAddress\": ,\n}"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "BAD_JSON");
  EXPECT_THAT(loaded.status().message(), HasSubstr("bad.json"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("line 2"));
}

TEST_F(ConfigLoaderTest, UnknownFieldIsNamedWithItsPath) {
  std::string json = ValidJson();
  json.insert(json.find("\"registryCode\""), "\"registyCode\":\"1\",");
  auto loaded = LoadConfig(Write("unknown.json", json));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "UNKNOWN_FIELD");
  EXPECT_EQ(ErrorField(loaded.status()), "agencies[0].registyCode");
  EXPECT_THAT(loaded.status().message(), HasSubstr("unknown.json"));
}

TEST_F(ConfigLoaderTest, UnknownTextprotoFieldNamesTheLine) {
  auto loaded = LoadConfig(Write("bad.textproto", "listen_adress: \"x\"\n"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "BAD_TEXTPROTO");
  EXPECT_THAT(loaded.status().message(), HasSubstr("line 1"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("listen_adress"));
}

TEST_F(ConfigLoaderTest, DuplicateAgencyIsRefused) {
  *config_.add_agencies() = config_.agencies(0);
  auto loaded = LoadConfig(Write("dup.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "DUPLICATE_AGENCY");
  EXPECT_EQ(ErrorField(loaded.status()), "agencies[7].registry_code");
  EXPECT_THAT(loaded.status().message(), HasSubstr("agencies[0]"));
}

TEST_F(ConfigLoaderTest, InvalidRegistryCodeIsRefused) {
  config_.mutable_agencies(2)->set_registry_code("75001038");
  auto loaded = LoadConfig(Write("code.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "INVALID_REGISTRY_CODE");
  EXPECT_EQ(ErrorField(loaded.status()), "agencies[2].registry_code");
}

TEST_F(ConfigLoaderTest, DuplicateIdentityIsRefused) {
  config_.mutable_agencies(1)->add_identities(
      "spiffe://sild.example/agency/75001017");
  auto loaded = LoadConfig(Write("identity.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "DUPLICATE_IDENTITY");
}

TEST_F(ConfigLoaderTest, InMemorySqliteIsRefused) {
  config_.mutable_store()->mutable_sqlite()->set_path(":memory:");
  auto loaded = LoadConfig(Write("memory.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorField(loaded.status()), "store.sqlite.path");
  EXPECT_THAT(loaded.status().message(), HasSubstr("not a database file"));
}

TEST_F(ConfigLoaderTest, TlsIsMandatory) {
  config_.mutable_tls()->clear_client_ca_file();
  auto loaded = LoadConfig(Write("tls.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorField(loaded.status()), "tls.client_ca_file");
}

TEST_F(ConfigLoaderTest, UnreadableCertificateFileIsNamed) {
  config_.mutable_tls()->set_server_cert_file(dir_ + "/missing.crt");
  auto loaded = LoadConfig(Write("cert.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "FILE_NOT_READABLE");
  EXPECT_EQ(ErrorField(loaded.status()), "tls.server_cert_file");
}

TEST_F(ConfigLoaderTest, RouteToUnknownAgencyIsRefused) {
  auto* route = config_.add_routes();
  route->set_service(sild::v1::SERVICE_TYPE_PSYCHOLOGIST);
  route->set_municipality("Raasiku vald");
  route->add_registry_codes("70000740");
  auto loaded = LoadConfig(Write("route.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorReason(loaded.status()), "UNKNOWN_AGENCY");
  EXPECT_EQ(ErrorField(loaded.status()), "routes[0].registry_codes[0]");
}

TEST_F(ConfigLoaderTest, BadListenAddressIsRefused) {
  config_.set_listen_address("localhost");
  auto loaded = LoadConfig(Write("listen.json", ValidJson()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(ErrorField(loaded.status()), "listen_address");
}

}  // namespace
}  // namespace sild
