// End to end through NATS JetStream (docs/transport-nats.md): the school's
// system publishes EHIS XML referrals on its NATS stream; the gateway
// consumes them with the "nats" ingress, decides, audits and delivers each
// to the social services' stream in their format (social-json) with the
// "nats" egress. A refusal and an undecodable message reach the school's
// dead-letter subject with the reason; a broker restart in the middle of a
// stream loses nothing the school's system had acknowledged.
//
// One real nats-server (tests/testing/nats_server.h) serves both agencies;
// each test uses streams of its own.
#include <nats/nats.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gateway/server/server.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sild/connectors/v1/nats.pb.h"
#include "sild/v1/audit_service.grpc.pb.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "tests/integration/broker_exchange_util.h"
#include "tests/integration/integration_util.h"
#include "tests/testing/nats_server.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using sild::connectors::v1::NatsTransportConfig;
using sild::testing::NatsTestServer;

constexpr char kSchool[] = "75001017";
constexpr char kSchoolHealth[] = "75001046";

// libnats' own cleanup after the last test, for LeakSanitizer.
class NatsCleanup : public ::testing::Environment {
 public:
  void TearDown() override { nats_Close(); }
};
[[maybe_unused]] ::testing::Environment* const kCleanup =
    ::testing::AddGlobalTestEnvironment(new NatsCleanup);

std::string EhisReferral(const std::string& key, const std::string& performer) {
  return testing::EhisReferralXml(key, kSchool, performer);
}

struct NatsMessage {
  std::map<std::string, std::string> headers;
  std::string data;
};

// The school's or the social services' own NATS client.
class NatsClient {
 public:
  explicit NatsClient(const std::string& url) {
    natsOptions* options = nullptr;
    natsOptions_Create(&options);
    natsOptions_SetURL(options, url.c_str());
    natsOptions_SetMaxReconnect(options, -1);
    natsOptions_SetReconnectWait(options, 100);
    natsOptions_SetRetryOnFailedConnect(options, true, nullptr, nullptr);
    natsStatus s = natsConnection_Connect(&nc_, options);
    natsOptions_Destroy(options);
    if (s == NATS_OK) s = natsConnection_JetStream(&js_, nc_, nullptr);
    EXPECT_EQ(s, NATS_OK) << natsStatus_GetText(s);
  }
  ~NatsClient() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }

  // Publishes as a system that counts a message sent only once the stream
  // acknowledged it: retried (same Nats-Msg-Id) until then or `timeout`.
  bool Publish(const std::string& subject, const std::string& msg_id,
               const std::string& data,
               absl::Duration timeout = absl::Seconds(30)) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      natsMsg* msg = nullptr;
      natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(),
                     static_cast<int>(data.size()));
      natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id.c_str());
      jsPubOptions options;
      jsPubOptions_Init(&options);
      options.MaxWait = 2000;
      jsPubAck* ack = nullptr;
      jsErrCode code;
      natsStatus s = js_PublishMsg(&ack, js_, msg, &options, &code);
      natsMsg_Destroy(msg);
      jsPubAck_Destroy(ack);
      if (s == NATS_OK) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // Every message on `subject` of `stream`, read through a fresh ephemeral
  // consumer so nothing is taken away from anyone.
  std::vector<NatsMessage> ReadAll(const std::string& stream,
                                   const std::string& subject) {
    std::vector<NatsMessage> out;
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = stream.c_str();
    natsSubscription* sub = nullptr;
    jsErrCode code;
    if (js_PullSubscribe(&sub, js_, subject.c_str(), nullptr, nullptr, &options,
                         &code) != NATS_OK) {
      return out;
    }
    while (true) {
      natsMsgList list{};
      if (natsSubscription_Fetch(&list, sub, 256, 300, &code) != NATS_OK) {
        break;
      }
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* msg = list.Msgs[i];
        NatsMessage m;
        m.data.assign(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
        const char** keys = nullptr;
        int count = 0;
        if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
          for (int k = 0; k < count; ++k) {
            const char* value = nullptr;
            if (natsMsgHeader_Get(msg, keys[k], &value) == NATS_OK) {
              m.headers[keys[k]] = value;
            }
          }
          free(keys);
        }
        natsMsg_Ack(msg, nullptr);
        out.push_back(std::move(m));
      }
      natsMsgList_Destroy(&list);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return out;
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

class NatsExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = NatsTestServer::Shared();
    ASSERT_TRUE(server.ok()) << server.status();
    nats_ = *server;
    static int counter = 0;
    const std::string name = absl::StrCat("t", ++counter);
    school_.add_servers(nats_->url());
    school_.set_stream(absl::StrCat("SCHOOL_", name));
    school_.set_subject(absl::StrCat("school.", name, ".out"));
    school_.set_dead_letter_subject(absl::StrCat("school.", name, ".dead"));
    school_.set_durable("sild-gateway");
    school_.set_ack_wait_ms(2000);
    school_.set_retry_backoff_ms(50);
    school_.set_max_retry_backoff_ms(500);
    school_.set_reconnect_wait_ms(100);
    social_.add_servers(nats_->url());
    social_.set_stream(absl::StrCat("SOCIAL_", name));
    social_.set_subject(absl::StrCat("social.", name, ".in"));
    social_.set_reconnect_wait_ms(100);
    social_.set_publish_timeout_ms(2000);

    dir_ = testing::MakeTempDir("nats-exchange");
    config::v1::GatewayConfig config = testing::DemoGatewayConfig(dir_);
    ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(
        R"pb(delivery { initial_backoff_ms: 50 max_backoff_ms: 500 })pb",
        &config));
    testing::ConnectSchoolAndSocialServices(config, kSchool, "nats", school_,
                                            social_);
    auto gateway = GatewayServer::Start(config);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);

    // The parent's consent (recorded by the social services) covers them,
    // not school health.
    ASSERT_NO_FATAL_FAILURE(testing::GrantParentConsent(gateway_->port()));
    client_ = std::make_unique<NatsClient>(nats_->url());
  }

  void TearDown() override {
    client_.reset();
    if (gateway_ != nullptr) gateway_->Shutdown(absl::Seconds(10));
    gateway_.reset();
  }

  void PublishReferral(const std::string& key, const std::string& performer) {
    ASSERT_TRUE(client_->Publish(school_.subject(), "ehis-" + key,
                                 EhisReferral(key, performer)))
        << "the school's stream never acknowledged " << key;
  }

  // Waits until `pred` holds for what is on `subject` of `stream`.
  std::vector<NatsMessage> WaitFor(
      const std::string& stream, const std::string& subject,
      const std::function<bool(const std::vector<NatsMessage>&)>& pred,
      absl::Duration timeout = absl::Seconds(60)) {
    absl::Time deadline = absl::Now() + timeout;
    std::vector<NatsMessage> messages;
    while (absl::Now() < deadline) {
      messages = client_->ReadAll(stream, subject);
      if (pred(messages)) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return messages;
  }

  // Idempotency keys of the referrals the social services received, by
  // message id (a duplicate delivery carries the same id).
  static std::map<std::string, std::string> KeysById(
      const std::vector<NatsMessage>& messages) {
    std::map<std::string, std::string> keys;
    for (const NatsMessage& m : messages) {
      auto json = nlohmann::json::parse(m.data, nullptr, false);
      if (json.is_discarded()) continue;
      keys[m.headers.count("Nats-Msg-Id") ? m.headers.at("Nats-Msg-Id") : ""] =
          json.value("idempotencyKey", "");
    }
    return keys;
  }

  NatsTestServer* nats_ = nullptr;
  NatsTransportConfig school_;
  NatsTransportConfig social_;
  std::string dir_;
  std::unique_ptr<GatewayServer> gateway_;
  std::unique_ptr<NatsClient> client_;
};

TEST_F(NatsExchangeTest,
       ReferralDeliveredInRecipientFormatRefusalDeadLettered) {
  PublishReferral("kiili-0001", testing::kSocialServices);
  PublishReferral("kiili-0002", kSchoolHealth);  // no consent covers health

  std::vector<NatsMessage> delivered =
      WaitFor(social_.stream(), social_.subject(),
              [](const auto& m) { return !m.empty(); });
  ASSERT_EQ(delivered.size(), 1u);
  const NatsMessage& message = delivered[0];
  EXPECT_EQ(message.headers.at("Content-Type"), "application/json");
  EXPECT_EQ(message.headers.at("Sild-Kind"), "REFERRAL");
  EXPECT_EQ(message.headers.at("Sild-Recipient"), testing::kSocialServices);
  // The social services' own format, minimised for them.
  auto json = nlohmann::json::parse(message.data, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << message.data;
  EXPECT_EQ(json.value("type", ""), "referral");
  EXPECT_EQ(json.value("idempotencyKey", ""), "kiili-0001");
  EXPECT_EQ(json.at("child").value("personalCode", ""), testing::kPupil);
  EXPECT_EQ(message.headers.at("Nats-Msg-Id"), json.value("messageId", ""));

  std::vector<NatsMessage> dead =
      WaitFor(school_.stream(), school_.dead_letter_subject(),
              [](const auto& m) { return !m.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers.at("Sild-Message-Id"), "ehis-kiili-0002");
  // The parent's consent does not name school health.
  EXPECT_EQ(dead[0].headers.at("Sild-Reason"), "RECIPIENT_NOT_COVERED");
  EXPECT_EQ(dead[0].data, EhisReferral("kiili-0002", kSchoolHealth));
  // The personal code never appears in the reason.
  EXPECT_EQ(dead[0].headers.at("Sild-Error").find(testing::kPupil),
            std::string::npos);

  // The disclosure, its delivery and the refusal are in the audit trail,
  // and the trail verifies.
  testing::ExpectDisclosureDeliveryAndRefusalAudited(gateway_->port(),
                                                     kSchoolHealth);
}

TEST_F(NatsExchangeTest, BrokerRestartMidStreamLosesNothingAcknowledged) {
  constexpr int kTotal = 60;
  std::set<std::string> sent;
  for (int i = 0; i < kTotal; ++i) {
    if (i == kTotal / 3) {
      // The broker goes away while the gateway consumes and delivers the
      // first third; the school's system keeps publishing (and retrying
      // until acknowledged) through the outage.
      nats_->Stop();
      ASSERT_TRUE(nats_->Start().ok());
    }
    std::string key = absl::StrFormat("restart-%03d", i);
    PublishReferral(key, testing::kSocialServices);
    sent.insert(key);
  }
  std::vector<NatsMessage> delivered =
      WaitFor(social_.stream(), social_.subject(),
              [&](const auto& m) { return KeysById(m).size() >= sent.size(); });
  std::map<std::string, std::string> by_id = KeysById(delivered);
  std::set<std::string> received;
  for (const auto& [id, key] : by_id) received.insert(key);
  // Every acknowledged referral arrived, each under one message id (the
  // receiving side drops repeats by id), and nothing else did.
  EXPECT_EQ(received, sent);
  EXPECT_EQ(by_id.size(), sent.size());
  std::cout << "restart: " << delivered.size() << " messages on the stream, "
            << by_id.size() << " distinct\n";
}

TEST_F(NatsExchangeTest, PoisonMessageIsDeadLetteredAndDoesNotBlock) {
  ASSERT_TRUE(client_->Publish(school_.subject(), "poison-1",
                               "<opilane><sonum>not closed"));
  std::set<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    std::string key = absl::StrCat("after-poison-", i);
    PublishReferral(key, testing::kSocialServices);
    sent.insert(key);
  }
  std::vector<NatsMessage> delivered =
      WaitFor(social_.stream(), social_.subject(),
              [&](const auto& m) { return KeysById(m).size() >= sent.size(); });
  std::set<std::string> received;
  for (const auto& [id, key] : KeysById(delivered)) received.insert(key);
  EXPECT_EQ(received, sent);

  std::vector<NatsMessage> dead =
      WaitFor(school_.stream(), school_.dead_letter_subject(),
              [](const auto& m) { return !m.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers.at("Sild-Message-Id"), "poison-1");
  EXPECT_EQ(dead[0].data, "<opilane><sonum>not closed");
  EXPECT_FALSE(dead[0].headers.at("Sild-Reason").empty());
  EXPECT_FALSE(dead[0].headers.at("Sild-Error").empty());
  std::cout << "poison: " << dead[0].headers.at("Sild-Reason") << ": "
            << dead[0].headers.at("Sild-Error") << "\n";
}

}  // namespace
}  // namespace sild
