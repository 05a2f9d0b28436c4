#include "connectors/transports/nats/nats_transport.h"

#include <nats/nats.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "connectors/sdk/conformance/transport_conformance.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/testing/nats_server.h"
#include "tests/testing/test_env.h"

namespace sild::connectors {
namespace {

using conformance::DeadLetter;
using conformance::TransportConformanceParams;
using conformance::TransportPair;
using sild::connectors::v1::NatsTransportConfig;
using sild::testing::NatsTestServer;

// libnats' own cleanup after the last test, for LeakSanitizer.
class NatsCleanup : public ::testing::Environment {
 public:
  void TearDown() override { nats_Close(); }
};
[[maybe_unused]] ::testing::Environment* const kCleanup =
    ::testing::AddGlobalTestEnvironment(new NatsCleanup);

NatsTestServer* Server() {
  auto server = NatsTestServer::Shared();
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *server : nullptr;
}

// A config on a stream of its own, so tests do not see each other's messages.
NatsTransportConfig Config(const std::string& url, const std::string& name) {
  NatsTransportConfig config;
  config.add_servers(url);
  config.set_stream(absl::StrCat("S_", name));
  config.set_subject(absl::StrCat("sild.", name, ".in"));
  config.set_dead_letter_subject(absl::StrCat("sild.", name, ".dead"));
  config.set_durable("gateway");
  config.set_ack_wait_ms(2000);
  config.set_retry_backoff_ms(50);
  config.set_max_retry_backoff_ms(200);
  config.set_reconnect_wait_ms(100);
  config.set_publish_timeout_ms(3000);
  return config;
}

google::protobuf::Any Pack(const NatsTransportConfig& config) {
  google::protobuf::Any any;
  any.PackFrom(config);
  return any;
}

// Reads every message on `subject` of `stream` without consuming it for
// others (an ephemeral ordered view through a fresh pull consumer).
std::vector<natsMsg*> ReadAll(const NatsTransportConfig& config,
                              const std::string& subject, natsConnection** nc,
                              jsCtx** js, natsSubscription** sub) {
  std::vector<natsMsg*> messages;
  if (natsConnection_ConnectTo(nc, config.servers(0).c_str()) != NATS_OK) {
    return messages;
  }
  natsConnection_JetStream(js, *nc, nullptr);
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = config.stream().c_str();
  jsErrCode code;
  if (js_PullSubscribe(sub, *js, subject.c_str(), nullptr, nullptr, &options,
                       &code) != NATS_OK) {
    return messages;
  }
  while (true) {
    natsMsgList list{};
    if (natsSubscription_Fetch(&list, *sub, 100, 300, &code) != NATS_OK) break;
    for (int i = 0; i < list.Count; ++i) {
      natsMsg_Ack(list.Msgs[i], nullptr);
      messages.push_back(list.Msgs[i]);
      list.Msgs[i] = nullptr;
    }
    natsMsgList_Destroy(&list);
  }
  return messages;
}

std::string Header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK) return "";
  return value;
}

std::vector<DeadLetter> ReadDeadLetters(const NatsTransportConfig& config) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  std::vector<DeadLetter> dead;
  for (natsMsg* msg :
       ReadAll(config, config.dead_letter_subject(), &nc, &js, &sub)) {
    dead.push_back(
        {Header(msg, "Sild-Message-Id"),
         std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)),
         absl::StrCat(Header(msg, "Sild-Reason"), ": ",
                      Header(msg, "Sild-Error"))});
    natsMsg_Destroy(msg);
  }
  if (sub != nullptr) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return dead;
}

TransportConformanceParams NatsParams() {
  TransportConformanceParams params;
  params.name = "nats";
  params.make_pair = []() -> absl::StatusOr<TransportPair> {
    static int counter = 0;
    NatsTestServer* server = Server();
    if (server == nullptr) return absl::UnavailableError("no nats-server");
    NatsTransportConfig config =
        Config(server->url(), absl::StrCat("conformance", ++counter));
    TransportPair pair;
    auto egress = CreateEgressTransport("nats", Pack(config), "transport");
    if (!egress.ok()) return egress.status();
    auto ingress =
        CreateIngressTransport("nats", Pack(config), "ingress_transport");
    if (!ingress.ok()) return ingress.status();
    pair.egress = *std::move(egress);
    pair.ingress = *std::move(ingress);
    pair.dead_letters = [config] { return ReadDeadLetters(config); };
    return pair;
  };
  params.settle = absl::Milliseconds(500);
  return params;
}

SILD_TRANSPORT_CONFORMANCE(Nats, NatsParams());

OutboundMessage Message(const std::string& id, const std::string& bytes) {
  OutboundMessage message;
  message.message_id = id;
  message.kind = "REFERRAL";
  message.content_type = "application/json";
  message.bytes = bytes;
  message.key = "case-7";
  message.recipient = "75001023";
  return message;
}

// Collects what an ingress receives, acknowledging everything.
class Collector {
 public:
  InboundHandler Handler() {
    return [this](const InboundMessage& message,
                  std::function<void(absl::Status)> done) {
      {
        absl::MutexLock lock(&mu_);
        received_.push_back(message);
      }
      done(absl::OkStatus());
    };
  }
  bool WaitForCount(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] {
      mu_.AssertHeld();
      return received_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<InboundMessage> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  absl::Mutex mu_;
  std::vector<InboundMessage> received_ ABSL_GUARDED_BY(mu_);
};

TEST(NatsTransportTest, StreamDropsDuplicatesByMessageId) {
  NatsTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  NatsTransportConfig config = Config(server->url(), "dedup");
  auto egress = NatsEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  // The same message three times (a delivery worker retrying after a
  // crash), in one batch and alone.
  std::vector<OutboundMessage> batch = {
      Message("m-1", "one"), Message("m-1", "one"), Message("m-2", "two")};
  for (const DeliveryResult& r : (*egress)->DeliverBatch(batch)) {
    EXPECT_EQ(r.outcome, DeliveryResult::kDelivered) << r.error;
  }
  EXPECT_EQ((*egress)->Deliver(Message("m-1", "one")).outcome,
            DeliveryResult::kDelivered);
  auto ingress = NatsIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok());
  Collector collector;
  ASSERT_TRUE((*ingress)->Start(collector.Handler()).ok());
  ASSERT_TRUE(collector.WaitForCount(2, absl::Seconds(10)));
  // Anything else would arrive within a fetch; give it one.
  absl::SleepFor(absl::Milliseconds(700));
  (*ingress)->Stop();
  std::vector<InboundMessage> received = collector.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].message_id, "m-1");
  EXPECT_EQ(received[0].bytes, "one");
  EXPECT_EQ(received[0].content_type, "application/json");
  EXPECT_EQ(received[0].headers.at("Sild-Kind"), "REFERRAL");
  EXPECT_EQ(received[0].headers.at("Sild-Key"), "case-7");
  EXPECT_EQ(received[1].message_id, "m-2");
}

TEST(NatsTransportTest, HealthReportsLostConnectionAndRecovers) {
  NatsTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  NatsTransportConfig config = Config(server->url(), "health");
  auto egress = NatsEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok());
  auto ingress = NatsIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok());
  Collector collector;
  ASSERT_TRUE((*ingress)->Start(collector.Handler()).ok());
  ASSERT_EQ((*egress)->Deliver(Message("h-1", "before")).outcome,
            DeliveryResult::kDelivered);
  ASSERT_TRUE(collector.WaitForCount(1, absl::Seconds(10)));
  EXPECT_TRUE((*egress)->health().ok()) << (*egress)->health();
  EXPECT_TRUE((*ingress)->health().ok()) << (*ingress)->health();

  server->Stop();
  auto wait_for = [](auto&& condition) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!condition() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return condition();
  };
  EXPECT_TRUE(wait_for([&] { return !(*egress)->health().ok(); }));
  EXPECT_TRUE(wait_for([&] { return !(*ingress)->health().ok(); }));
  absl::Status down = (*egress)->health();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(down.message().find(server->url()), std::string::npos) << down;
  // A delivery while the broker is away is retryable, not a crash or a hang.
  config.set_publish_timeout_ms(500);
  auto quick = NatsEgressTransport::Create(config);
  ASSERT_TRUE(quick.ok());
  EXPECT_EQ((*quick)->Deliver(Message("h-x", "while down")).outcome,
            DeliveryResult::kRetryable);

  ASSERT_TRUE(server->Start().ok());
  EXPECT_TRUE(wait_for([&] { return (*egress)->health().ok(); }))
      << (*egress)->health();
  EXPECT_TRUE(wait_for([&] { return (*ingress)->health().ok(); }))
      << (*ingress)->health();
  DeliveryResult after = DeliveryResult::Retryable("not tried");
  EXPECT_TRUE(wait_for([&] {
    after = (*egress)->Deliver(Message("h-2", "after"));
    return after.outcome == DeliveryResult::kDelivered;
  })) << after.error;
  EXPECT_TRUE(collector.WaitForCount(2, absl::Seconds(15)));
  (*ingress)->Stop();
}

TEST(NatsTransportTest, TlsWithClientCertificate) {
  auto server = NatsTestServer::SharedTls();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string pki = sild::testing::TestPkiDir();
  NatsTransportConfig config = Config((*server)->url(), "tls");
  config.mutable_tls()->set_ca_file(pki + "/ca.crt");
  config.mutable_tls()->set_cert_file(pki + "/gateway.crt");
  config.mutable_tls()->set_key_file(pki + "/gateway.key");
  auto egress = NatsEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  DeliveryResult result = (*egress)->Deliver(Message("t-1", "over TLS"));
  EXPECT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
  EXPECT_TRUE((*egress)->health().ok()) << (*egress)->health();
}

TEST(NatsTransportTest, TlsWithWrongCaIsRefusedClearly) {
  auto server = NatsTestServer::SharedTls();
  ASSERT_TRUE(server.ok()) << server.status();
  // A CA that did not issue the server's certificate.
  const std::string pki = sild::testing::TestPkiDir();
  NatsTransportConfig config = Config((*server)->url(), "tls_wrong");
  config.mutable_tls()->set_ca_file(pki + "/other-ca.crt");
  config.mutable_tls()->set_cert_file(pki + "/gateway.crt");
  config.mutable_tls()->set_key_file(pki + "/gateway.key");
  auto egress = NatsEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  DeliveryResult result = (*egress)->Deliver(Message("t-2", "refused"));
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
  absl::Status health = (*egress)->health();
  EXPECT_FALSE(health.ok());
  EXPECT_NE(health.message().find("cannot connect to tls://localhost"),
            std::string::npos)
      << health;
  EXPECT_NE(result.error.find("SSL"), std::string::npos) << result.error;
}

TEST(NatsTransportTest, ConfigErrorsNameTheField) {
  NatsTransportConfig config;
  EXPECT_EQ(ErrorField(NatsEgressTransport::Create(config).status()),
            "servers");
  config.add_servers("nats://127.0.0.1:1");
  config.set_stream("S");
  config.set_subject("a");
  EXPECT_EQ(ErrorField(NatsIngressTransport::Create(config).status()),
            "dead_letter_subject");
  config.mutable_tls()->set_ca_file("/nonexistent/ca.crt");
  auto status = NatsEgressTransport::Create(config).status();
  EXPECT_EQ(ErrorField(status), "tls.ca_file") << status;
  EXPECT_EQ(ErrorReason(status), "INVALID_CONNECTOR_CONFIG");
}

}  // namespace
}  // namespace sild::connectors
