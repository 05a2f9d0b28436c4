// End to end over real mTLS on loopback: the gateway in this process, clients
// presenting the test PKI's certificates.
#include "gateway/server/server.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gateway/rpc/grpc_status.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "sild/v1/gateway_service.grpc.pb.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::testing::HasSubstr;

class GatewayServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("server");
    config_ = testing::DemoGatewayConfig(dir_);
    StartServer();
  }

  void StartServer() {
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  struct CallResult {
    grpc::Status status;
    sild::v1::WhoAmIResponse response;
    std::string reason;
  };

  CallResult WhoAmI(std::shared_ptr<grpc::Channel> channel,
                    const std::string& professional_id = "") {
    auto stub = sild::v1::GatewayService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!professional_id.empty()) {
      context.AddMetadata("x-sild-professional-id", professional_id);
    }
    CallResult result;
    result.status =
        stub->WhoAmI(&context, sild::v1::WhoAmIRequest(), &result.response);
    auto trailers = context.GetServerTrailingMetadata();
    auto it = trailers.find(kReasonMetadataKey);
    if (it != trailers.end()) {
      result.reason.assign(it->second.data(), it->second.size());
    }
    return result;
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(GatewayServerTest, ConfiguredAgencyIsIdentifiedByItsCertificate) {
  auto result = WhoAmI(testing::AgencyChannel(server_->port(), "school"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.agency().registry_code(), "75001017");
  EXPECT_EQ(result.response.agency().kind(), sild::v1::AGENCY_KIND_SCHOOL);
  EXPECT_EQ(result.response.identity(),
            "spiffe://sild.example/agency/75001017");

  auto auditor = WhoAmI(testing::AgencyChannel(server_->port(), "auditor"));
  ASSERT_TRUE(auditor.status.ok());
  EXPECT_EQ(auditor.response.agency().registry_code(), "75001069");
  EXPECT_THAT(auditor.response.roles(), ::testing::Contains("auditor"));
}

TEST_F(GatewayServerTest, NoClientCertificateFailsTheHandshake) {
  auto result = WhoAmI(testing::AnonymousChannel(server_->port()));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayServerTest, CertificateFromAnotherCaFailsTheHandshake) {
  auto result = WhoAmI(testing::AgencyChannel(server_->port(), "foreign"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayServerTest, ExpiredCertificateFailsTheHandshake) {
  auto result = WhoAmI(testing::AgencyChannel(server_->port(), "expired"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayServerTest, RevokedCertificateFailsTheHandshake) {
  auto result = WhoAmI(testing::AgencyChannel(server_->port(), "revoked"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // The same identity with a valid certificate is accepted: the CRL, not the
  // identity, refused the revoked one.
  EXPECT_TRUE(
      WhoAmI(testing::AgencyChannel(server_->port(), "school")).status.ok());
}

TEST_F(GatewayServerTest, UnknownAgencyIsUnauthenticated) {
  auto result =
      WhoAmI(testing::AgencyChannel(server_->port(), "unknown-agency"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(result.reason, "UNKNOWN_AGENCY");
  EXPECT_THAT(result.status.error_message(), HasSubstr("75001081"));
}

TEST_F(GatewayServerTest, CertificateWithoutAgencyIdentityIsUnauthenticated) {
  // Its subject copies the school's; only the URI SAN counts.
  auto result = WhoAmI(testing::AgencyChannel(server_->port(), "no-identity"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(result.reason, "NO_AGENCY_IDENTITY");
}

TEST_F(GatewayServerTest, HealthServiceAnswers) {
  auto stub = grpc::health::v1::Health::NewStub(
      testing::AgencyChannel(server_->port(), "school"));
  for (const std::string service : {"", "sild.v1.GatewayService"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << service;
  }
}

TEST_F(GatewayServerTest, OversizedMessageIsRefusedWithAClearError) {
  server_.reset();
  config_.mutable_limits()->set_max_message_bytes(1024);
  StartServer();
  auto stub = sild::v1::GatewayService::NewStub(
      testing::AgencyChannel(server_->port(), "school"));
  sild::v1::WhoAmIRequest request;
  // Unknown fields travel on the wire like any payload.
  request.GetReflection()->MutableUnknownFields(&request)->AddLengthDelimited(
      1000, std::string(4096, 'x'));
  grpc::ClientContext context;
  sild::v1::WhoAmIResponse response;
  grpc::Status status = stub->WhoAmI(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
}

// Calls the reflection service's method once; its status tells whether the
// service exists.
grpc::Status CallReflection(std::shared_ptr<grpc::Channel> channel) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  // ServerReflectionRequest{list_services: "*"}: field 7, length 1.
  grpc::Slice slice(std::string("\x3a\x01*", 3));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  generic.UnaryCall(&context,
                    "/grpc.reflection.v1alpha.ServerReflection/"
                    "ServerReflectionInfo",
                    grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  done.WaitForNotification();
  return status;
}

TEST_F(GatewayServerTest, ReflectionIsOffUnlessEnabled) {
  EXPECT_EQ(CallReflection(testing::AgencyChannel(server_->port(), "school"))
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  server_.reset();
  config_.set_enable_reflection(true);
  StartServer();
  EXPECT_TRUE(
      CallReflection(testing::AgencyChannel(server_->port(), "school")).ok());
}

TEST_F(GatewayServerTest, ShutdownStopsServing) {
  int port = server_->port();
  server_->Shutdown(absl::Seconds(1));
  auto result = WhoAmI(testing::AgencyChannel(port, "school"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayServerTest, BadKeyFailsAtStartNamingTheFile) {
  server_.reset();
  config_.mutable_tls()->set_server_key_file(testing::TestPkiDir() +
                                             "/school.key");
  auto server = GatewayServer::Start(config_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("does not match"));
}

}  // namespace
}  // namespace sild
