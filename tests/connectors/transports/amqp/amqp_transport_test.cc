#include "connectors/transports/amqp/amqp_transport.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "connectors/sdk/conformance/transport_conformance.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/testing/rabbitmq_server.h"
#include "tests/testing/test_env.h"

namespace sild::connectors {
namespace {

using conformance::DeadLetter;
using conformance::TransportConformanceParams;
using conformance::TransportPair;
using sild::connectors::v1::AmqpTransportConfig;
using sild::testing::RabbitMqTestServer;

RabbitMqTestServer* Server() {
  auto server = RabbitMqTestServer::Shared();
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *server : nullptr;
}

// A config on queues of its own, so tests do not see each other's messages.
AmqpTransportConfig Config(int port, const std::string& name) {
  AmqpTransportConfig config;
  config.set_host("127.0.0.1");
  config.set_port(port);
  config.set_queue(absl::StrCat("sild.", name, ".in"));
  config.set_dead_letter_queue(absl::StrCat("sild.", name, ".dead"));
  config.set_reconnect_wait_ms(100);
  config.set_confirm_timeout_ms(3000);
  config.set_connect_timeout_ms(2000);
  return config;
}

google::protobuf::Any Pack(const AmqpTransportConfig& config) {
  google::protobuf::Any any;
  any.PackFrom(config);
  return any;
}

std::string Text(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

std::string Header(const amqp_basic_properties_t& p, const std::string& key) {
  for (int i = 0; i < p.headers.num_entries; ++i) {
    if (Text(p.headers.entries[i].key) == key) {
      return Text(p.headers.entries[i].value.value.bytes);
    }
  }
  return "";
}

struct Message {
  std::string message_id;
  std::string body;
  std::map<std::string, std::string> headers;
};

// Takes every message off `queue` (basic.get with acks).
std::vector<Message> Drain(int port, const std::string& queue) {
  std::vector<Message> messages;
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  if (amqp_socket_open(socket, "127.0.0.1", port) != AMQP_STATUS_OK ||
      amqp_login(conn, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                 AMQP_SASL_METHOD_PLAIN, "guest", "guest")
              .reply_type != AMQP_RESPONSE_NORMAL) {
    amqp_destroy_connection(conn);
    ADD_FAILURE() << "cannot connect to the test broker";
    return messages;
  }
  amqp_channel_open(conn, 1);
  amqp_get_rpc_reply(conn);
  while (true) {
    amqp_rpc_reply_t reply =
        amqp_basic_get(conn, 1, amqp_cstring_bytes(queue.c_str()), 0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL ||
        reply.reply.id != AMQP_BASIC_GET_OK_METHOD) {
      break;
    }
    uint64_t tag =
        static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded)->delivery_tag;
    amqp_message_t message;
    if (amqp_read_message(conn, 1, &message, 0).reply_type !=
        AMQP_RESPONSE_NORMAL) {
      break;
    }
    Message m;
    m.message_id = Text(message.properties.message_id);
    m.body = Text(message.body);
    for (const char* key :
         {"Sild-Message-Id", "Sild-Reason", "Sild-Error", "Sild-Kind"}) {
      m.headers[key] = Header(message.properties, key);
    }
    messages.push_back(m);
    amqp_destroy_message(&message);
    amqp_basic_ack(conn, 1, tag, 0);
  }
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return messages;
}

TransportConformanceParams AmqpParams() {
  TransportConformanceParams params;
  params.name = "amqp";
  params.make_pair = []() -> absl::StatusOr<TransportPair> {
    static int counter = 0;
    RabbitMqTestServer* server = Server();
    if (server == nullptr) return absl::UnavailableError("no rabbitmq");
    AmqpTransportConfig config =
        Config(server->port(), absl::StrCat("conformance", ++counter));
    TransportPair pair;
    auto egress = CreateEgressTransport("amqp", Pack(config), "transport");
    if (!egress.ok()) return egress.status();
    auto ingress =
        CreateIngressTransport("amqp", Pack(config), "ingress_transport");
    if (!ingress.ok()) return ingress.status();
    pair.egress = *std::move(egress);
    pair.ingress = *std::move(ingress);
    const int port = server->port();
    pair.dead_letters = [port, config] {
      std::vector<DeadLetter> dead;
      for (const Message& m : Drain(port, config.dead_letter_queue())) {
        dead.push_back({m.headers.at("Sild-Message-Id"), m.body,
                        absl::StrCat(m.headers.at("Sild-Reason"), ": ",
                                     m.headers.at("Sild-Error"))});
      }
      return dead;
    };
    return pair;
  };
  params.timeout = absl::Seconds(20);
  params.settle = absl::Milliseconds(500);
  return params;
}

SILD_TRANSPORT_CONFORMANCE(Amqp, AmqpParams());

OutboundMessage Out(const std::string& id, const std::string& bytes) {
  OutboundMessage message;
  message.message_id = id;
  message.kind = "REFERRAL";
  message.content_type = "application/json";
  message.bytes = bytes;
  message.key = "case-7";
  message.recipient = "75001023";
  return message;
}

template <typename F>
bool WaitFor(F&& condition, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

TEST(AmqpTransportTest, PersistentMessagesCarryIdAndHeaders) {
  RabbitMqTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  AmqpTransportConfig config = Config(server->port(), "props");
  auto egress = AmqpEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  std::vector<OutboundMessage> batch = {Out("m-1", "one"), Out("m-2", "two")};
  for (const DeliveryResult& r : (*egress)->DeliverBatch(batch)) {
    EXPECT_EQ(r.outcome, DeliveryResult::kDelivered) << r.error;
  }
  std::vector<Message> got = Drain(server->port(), config.queue());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message_id, "m-1");
  EXPECT_EQ(got[0].body, "one");
  EXPECT_EQ(got[0].headers["Sild-Kind"], "REFERRAL");
  EXPECT_EQ(got[1].message_id, "m-2");
}

TEST(AmqpTransportTest, UnroutableAndMissingExchangeAreReported) {
  RabbitMqTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  // Default exchange, a routing key no queue has: returned (mandatory).
  AmqpTransportConfig config = Config(server->port(), "unroutable");
  config.set_queue("");
  config.set_routing_key("sild.nobody.listens");
  auto egress = AmqpEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  DeliveryResult result = (*egress)->Deliver(Out("u-1", "lost?"));
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
  EXPECT_NE(result.error.find("unroutable"), std::string::npos) << result.error;
  // A routable one on the same connection is still confirmed.
  AmqpTransportConfig good = Config(server->port(), "routable");
  auto good_egress = AmqpEgressTransport::Create(good);
  ASSERT_TRUE(good_egress.ok());
  EXPECT_EQ((*good_egress)->Deliver(Out("u-2", "ok")).outcome,
            DeliveryResult::kDelivered);

  AmqpTransportConfig missing = Config(server->port(), "missing");
  missing.set_queue("");
  missing.set_exchange("sild.no.such.exchange");
  missing.set_routing_key("x");
  auto missing_egress = AmqpEgressTransport::Create(missing);
  ASSERT_TRUE(missing_egress.ok());
  result = (*missing_egress)->Deliver(Out("u-3", "nowhere"));
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
  EXPECT_NE(result.error.find("sild.no.such.exchange"), std::string::npos)
      << result.error;
  EXPECT_FALSE((*missing_egress)->health().ok());
}

// A headers exchange `exchange` with `queue` bound for Sild-Kind = `kind`
// only, so messages of other kinds in the same batch are unroutable.
bool DeclareKindRoute(int port, const std::string& exchange,
                      const std::string& queue, const std::string& kind) {
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  bool ok = amqp_socket_open(socket, "127.0.0.1", port) == AMQP_STATUS_OK &&
            amqp_login(conn, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                       AMQP_SASL_METHOD_PLAIN, "guest", "guest")
                    .reply_type == AMQP_RESPONSE_NORMAL;
  if (ok) {
    amqp_channel_open(conn, 1);
    ok = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
  }
  if (ok) {
    amqp_exchange_declare(conn, 1, amqp_cstring_bytes(exchange.c_str()),
                          amqp_cstring_bytes("headers"), 0, 1, 0, 0,
                          amqp_empty_table);
    ok = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
  }
  if (ok) {
    // Not durable: the broker confirms routed messages at once, so their
    // acks and the returned messages' acks come coalesced (multiple).
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue.c_str()), 0,
                       /*durable=*/0, 0, 0, amqp_empty_table);
    ok = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
  }
  if (ok) {
    amqp_table_entry_t entries[2];
    entries[0].key = amqp_cstring_bytes("x-match");
    entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[0].value.value.bytes = amqp_cstring_bytes("all");
    entries[1].key = amqp_cstring_bytes("Sild-Kind");
    entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[1].value.value.bytes = amqp_cstring_bytes(kind.c_str());
    amqp_table_t args{2, entries};
    amqp_queue_bind(conn, 1, amqp_cstring_bytes(queue.c_str()),
                    amqp_cstring_bytes(exchange.c_str()), amqp_empty_bytes,
                    args);
    ok = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
  }
  if (ok) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
  return ok;
}

// The broker returns the unroutable messages of a batch and acks them, often
// together with routable ones in one multiple ack: each result still belongs
// to its own message.
TEST(AmqpTransportTest, UnroutableMessagesInABatchAreReportedOneByOne) {
  RabbitMqTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  const std::string exchange = "sild.by-kind";
  const std::string queue = "sild.by-kind.referrals";
  ASSERT_TRUE(DeclareKindRoute(server->port(), exchange, queue, "REFERRAL"));
  AmqpTransportConfig config = Config(server->port(), "by-kind");
  config.set_queue("");
  config.set_exchange(exchange);
  config.set_routing_key("any");
  auto egress = AmqpEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  for (int round = 0; round < 5; ++round) {
    std::vector<OutboundMessage> batch;
    std::set<std::string> routable;
    for (int i = 0; i < 30; ++i) {
      OutboundMessage m =
          Out(absl::StrCat("k-", round, "-", i), absl::StrCat("body ", i));
      // Every third one (and a run of them) has no queue.
      if (i % 3 == 1 || (i >= 20 && i < 24)) {
        m.kind = "NOTICE";
      } else {
        routable.insert(m.message_id);
      }
      batch.push_back(m);
    }
    std::vector<DeliveryResult> results = (*egress)->DeliverBatch(batch);
    ASSERT_EQ(results.size(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      SCOPED_TRACE(batch[i].message_id);
      if (routable.contains(batch[i].message_id)) {
        EXPECT_EQ(results[i].outcome, DeliveryResult::kDelivered)
            << results[i].error;
      } else {
        EXPECT_EQ(results[i].outcome, DeliveryResult::kRetryable);
        EXPECT_NE(results[i].error.find("unroutable"), std::string::npos)
            << results[i].error;
      }
    }
    std::set<std::string> queued;
    for (const Message& m : Drain(server->port(), queue)) {
      queued.insert(m.message_id);
    }
    EXPECT_EQ(queued, routable);
  }
}

// An egress connection that sat idle past the broker's heartbeat timeout
// (the broker drops it) is replaced before the next publish: the delivery
// after the pause succeeds on its first attempt.
TEST(AmqpTransportTest, IdleConnectionPastHeartbeatTimeoutIsReplaced) {
  RabbitMqTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  AmqpTransportConfig config = Config(server->port(), "idle");
  config.set_heartbeat_s(1);
  auto egress = AmqpEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  DeliveryResult result = (*egress)->Deliver(Out("idle-1", "before"));
  ASSERT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
  // Idle: nothing calls into the connection, so no heartbeats are sent and
  // the broker closes it after about two missed intervals.
  absl::SleepFor(absl::Seconds(4));
  result = (*egress)->Deliver(Out("idle-2", "after"));
  EXPECT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
  EXPECT_TRUE((*egress)->health().ok()) << (*egress)->health();
  std::set<std::string> ids;
  for (const Message& m : Drain(server->port(), config.queue())) {
    ids.insert(m.message_id);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"idle-1", "idle-2"}));
}

TEST(AmqpTransportTest, HealthReportsLostConnectionAndRecovers) {
  RabbitMqTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  AmqpTransportConfig config = Config(server->port(), "health");
  auto egress = AmqpEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok());
  auto ingress = AmqpIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok());
  absl::Mutex mu;
  std::vector<std::string> ids;
  ASSERT_TRUE((*ingress)
                  ->Start([&](const InboundMessage& m,
                              std::function<void(absl::Status)> done) {
                    {
                      absl::MutexLock lock(&mu);
                      ids.push_back(m.message_id);
                    }
                    done(absl::OkStatus());
                  })
                  .ok());
  auto count = [&] {
    absl::MutexLock lock(&mu);
    return ids.size();
  };
  ASSERT_EQ((*egress)->Deliver(Out("h-1", "before")).outcome,
            DeliveryResult::kDelivered);
  ASSERT_TRUE(WaitFor([&] { return count() >= 1; }));
  EXPECT_TRUE((*egress)->health().ok()) << (*egress)->health();
  EXPECT_TRUE((*ingress)->health().ok()) << (*ingress)->health();

  server->Stop();
  EXPECT_TRUE(WaitFor([&] { return !(*ingress)->health().ok(); }));
  DeliveryResult down = (*egress)->Deliver(Out("h-x", "while down"));
  EXPECT_EQ(down.outcome, DeliveryResult::kRetryable);
  absl::Status health = (*egress)->health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(health.message().find(absl::StrCat("127.0.0.1:", server->port())),
            std::string::npos)
      << health;

  ASSERT_TRUE(server->Start().ok());
  DeliveryResult after = DeliveryResult::Retryable("not tried");
  EXPECT_TRUE(WaitFor([&] {
    after = (*egress)->Deliver(Out("h-2", "after"));
    return after.outcome == DeliveryResult::kDelivered;
  })) << after.error;
  EXPECT_TRUE((*egress)->health().ok());
  EXPECT_TRUE(WaitFor([&] { return count() >= 2; }));
  EXPECT_TRUE((*ingress)->health().ok()) << (*ingress)->health();
  (*ingress)->Stop();
}

TEST(AmqpTransportTest, ConfigErrorsNameTheField) {
  AmqpTransportConfig config;
  EXPECT_EQ(ErrorField(AmqpEgressTransport::Create(config).status()), "host");
  config.set_host("127.0.0.1");
  config.set_port(1);
  EXPECT_EQ(ErrorField(AmqpIngressTransport::Create(config).status()), "queue");
  config.set_queue("q");
  EXPECT_EQ(ErrorField(AmqpIngressTransport::Create(config).status()),
            "dead_letter_queue");
  config.mutable_tls()->set_ca_file("/nonexistent/ca.crt");
  auto status = AmqpEgressTransport::Create(config).status();
  EXPECT_EQ(ErrorField(status), "tls.ca_file") << status;
  EXPECT_EQ(ErrorReason(status), "INVALID_CONNECTOR_CONFIG");
}

// TLS settings are checked when the transport is made, before any broker is
// reached: a missing or unusable CA bundle, client certificate or key, or a
// certificate without its key, fails with the field named.
TEST(AmqpTransportTest, TlsConfigErrorsNameTheField) {
  const std::string pki = testing::TestPkiDir();
  const std::string dir = testing::MakeTempDir("amqp-tls-config");
  const std::string not_pem = dir + "/not-pem.txt";
  std::ofstream(not_pem) << "not a certificate\n";
  // Port 1: nothing listens, so only the config can fail Create().
  AmqpTransportConfig good = Config(1, "tls-config");
  good.mutable_tls()->set_ca_file(pki + "/ca.crt");
  good.mutable_tls()->set_cert_file(pki + "/gateway.crt");
  good.mutable_tls()->set_key_file(pki + "/gateway.key");

  struct Case {
    std::string what;
    std::function<void(AmqpTransportConfig&)> change;
    std::string field;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"missing CA file",
       [](auto& c) { c.mutable_tls()->set_ca_file("/nonexistent/ca.crt"); },
       "tls.ca_file", "INVALID_CONNECTOR_CONFIG"},
      {"missing certificate file",
       [](auto& c) {
         c.mutable_tls()->set_cert_file("/nonexistent/gateway.crt");
       },
       "tls.cert_file", "INVALID_CONNECTOR_CONFIG"},
      {"missing key file",
       [](auto& c) {
         c.mutable_tls()->set_key_file("/nonexistent/gateway.key");
       },
       "tls.key_file", "INVALID_CONNECTOR_CONFIG"},
      {"certificate without key",
       [](auto& c) { c.mutable_tls()->clear_key_file(); }, "tls.key_file",
       "MISSING_FIELD"},
      {"key without certificate",
       [](auto& c) { c.mutable_tls()->clear_cert_file(); }, "tls.cert_file",
       "MISSING_FIELD"},
      {"client certificate without CA",
       [](auto& c) { c.mutable_tls()->clear_ca_file(); }, "tls.ca_file",
       "MISSING_FIELD"},
      {"missing password file",
       [](auto& c) { c.set_password_file("/nonexistent/password"); },
       "password_file", "INVALID_CONNECTOR_CONFIG"},
  };
  for (const Case& test : cases) {
    for (bool ingress : {false, true}) {
      SCOPED_TRACE(absl::StrCat(test.what, ingress ? " (ingress)" : ""));
      AmqpTransportConfig config = good;
      test.change(config);
      absl::Status status = ingress
                                ? AmqpIngressTransport::Create(config).status()
                                : AmqpEgressTransport::Create(config).status();
      EXPECT_EQ(ErrorField(status), test.field) << status;
      EXPECT_EQ(ErrorReason(status), test.reason) << status;
    }
  }

  // Files that exist but are not PEM: the egress loads them when it first
  // connects, in Create().
  AmqpTransportConfig bad_ca = good;
  bad_ca.mutable_tls()->set_ca_file(not_pem);
  absl::Status status = AmqpEgressTransport::Create(bad_ca).status();
  EXPECT_EQ(ErrorField(status), "tls.ca_file") << status;
  EXPECT_NE(status.message().find(not_pem), std::string::npos) << status;
  AmqpTransportConfig bad_cert = good;
  bad_cert.mutable_tls()->set_cert_file(not_pem);
  status = AmqpEgressTransport::Create(bad_cert).status();
  EXPECT_EQ(ErrorField(status), "tls.cert_file") << status;

  // A usable TLS config with no broker: made, and health names the amqps
  // address.
  auto egress = AmqpEgressTransport::Create(good);
  ASSERT_TRUE(egress.ok()) << egress.status();
  absl::Status health = (*egress)->health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(health.message().find("amqps://127.0.0.1:1"), std::string::npos)
      << health;
}

// A TLS config for the test broker's amqps listener, presenting `cert`
// (a certificate of the test PKI) and trusting `ca`.
AmqpTransportConfig TlsConfig(int port, const std::string& name,
                              const std::string& ca, const std::string& cert) {
  const std::string pki = testing::TestPkiDir();
  AmqpTransportConfig config = Config(port, name);
  config.set_host("localhost");  // the name the broker's certificate has
  config.mutable_tls()->set_ca_file(pki + "/" + ca + ".crt");
  if (!cert.empty()) {
    config.mutable_tls()->set_cert_file(pki + "/" + cert + ".crt");
    config.mutable_tls()->set_key_file(pki + "/" + cert + ".key");
  }
  return config;
}

TEST(AmqpTransportTest, TlsWithClientCertificate) {
  RabbitMqTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  AmqpTransportConfig config =
      TlsConfig(server->tls_port(), "tls", "ca", "gateway");
  auto egress = AmqpEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  EXPECT_TRUE((*egress)->health().ok()) << (*egress)->health();
  auto ingress = AmqpIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok()) << ingress.status();
  absl::Mutex mu;
  std::vector<std::string> ids;
  ASSERT_TRUE((*ingress)
                  ->Start([&](const InboundMessage& m,
                              std::function<void(absl::Status)> done) {
                    {
                      absl::MutexLock lock(&mu);
                      ids.push_back(m.message_id);
                    }
                    done(absl::OkStatus());
                  })
                  .ok());
  DeliveryResult result = (*egress)->Deliver(Out("tls-1", "over tls"));
  EXPECT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
  EXPECT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return ids.size() == 1 && ids[0] == "tls-1";
  }));
  EXPECT_TRUE((*ingress)->health().ok()) << (*ingress)->health();
  (*ingress)->Stop();
  // Over TLS, not the plain listener: the plain port has nothing queued.
  EXPECT_TRUE(Drain(server->port(), config.queue()).empty());
}

TEST(AmqpTransportTest, TlsWithWrongCaOrNoClientCertificateIsRefused) {
  RabbitMqTestServer* server = Server();
  ASSERT_NE(server, nullptr);
  // The broker's certificate is not issued by other-ca.
  auto wrong_ca = AmqpEgressTransport::Create(
      TlsConfig(server->tls_port(), "tls_wrong_ca", "other-ca", "gateway"));
  ASSERT_TRUE(wrong_ca.ok()) << wrong_ca.status();
  DeliveryResult result = (*wrong_ca)->Deliver(Out("tls-x", "refused"));
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
  absl::Status health = (*wrong_ca)->health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(health.message().find(
                absl::StrCat("amqps://localhost:", server->tls_port())),
            std::string::npos)
      << health;
  // The broker requires a client certificate.
  auto anonymous = AmqpEgressTransport::Create(
      TlsConfig(server->tls_port(), "tls_anonymous", "ca", ""));
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  result = (*anonymous)->Deliver(Out("tls-y", "refused"));
  EXPECT_EQ(result.outcome, DeliveryResult::kRetryable);
  EXPECT_FALSE((*anonymous)->health().ok());
  // Plain AMQP on the TLS port does not get through either.
  AmqpTransportConfig plain = Config(server->tls_port(), "tls_plain");
  auto plain_egress = AmqpEgressTransport::Create(plain);
  ASSERT_TRUE(plain_egress.ok()) << plain_egress.status();
  EXPECT_EQ((*plain_egress)->Deliver(Out("tls-z", "refused")).outcome,
            DeliveryResult::kRetryable);
}

}  // namespace
}  // namespace sild::connectors
