// End to end through RabbitMQ (docs/transport-amqp.md): the school's system
// publishes EHIS XML referrals, persistent and with a message-id, to its
// RabbitMQ queue; the gateway consumes them with the "amqp" ingress, decides,
// audits and delivers each to the social services' exchange in their format
// (social-json) with the "amqp" egress. A refusal and an undecodable message
// reach the school's dead-letter exchange and queue with the reason; a broker
// restart in the middle of a stream loses nothing the school's system had
// confirmed.
//
// One real rabbitmq-server (tests/testing/rabbitmq_server.h) serves both
// agencies; each test uses exchanges and queues of its own.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <functional>
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
#include "sild/connectors/v1/amqp.pb.h"
#include "sild/v1/audit_service.grpc.pb.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "tests/integration/broker_exchange_util.h"
#include "tests/integration/integration_util.h"
#include "tests/testing/rabbitmq_server.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using sild::connectors::v1::AmqpTransportConfig;
using sild::testing::RabbitMqTestServer;

constexpr char kSchool[] = "75001017";
constexpr char kSchoolHealth[] = "75001046";
constexpr amqp_channel_t kChannel = 1;

std::string EhisReferral(const std::string& key, const std::string& performer) {
  return testing::EhisReferralXml(key, kSchool, performer);
}

std::string Text(amqp_bytes_t bytes) {
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

// One message taken off a queue, with its properties.
struct AmqpMessage {
  std::string exchange;
  std::string routing_key;
  std::string message_id;
  std::string content_type;
  std::string type;
  int delivery_mode = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

// The school's or the social services' own RabbitMQ client: one connection
// with a channel in confirm mode, reconnected after any error.
class AmqpClient {
 public:
  explicit AmqpClient(int port) : port_(port) {}
  ~AmqpClient() { Close(); }

  // Declares a durable direct exchange (the agency's own topology).
  bool DeclareExchange(const std::string& exchange) {
    if (!Connect()) return false;
    amqp_exchange_declare(conn_, kChannel, Bytes(exchange),
                          amqp_cstring_bytes("direct"), 0, /*durable=*/1, 0, 0,
                          amqp_empty_table);
    return Ok(amqp_get_rpc_reply(conn_));
  }

  // Declares a durable queue, bound to `exchange` by `key` unless the
  // exchange is the default one.
  bool DeclareQueue(const std::string& queue, const std::string& exchange = "",
                    const std::string& key = "") {
    if (!Connect()) return false;
    amqp_queue_declare(conn_, kChannel, Bytes(queue), 0, /*durable=*/1, 0, 0,
                       amqp_empty_table);
    if (!Ok(amqp_get_rpc_reply(conn_))) return false;
    if (exchange.empty()) return true;
    amqp_queue_bind(conn_, kChannel, Bytes(queue), Bytes(exchange), Bytes(key),
                    amqp_empty_table);
    return Ok(amqp_get_rpc_reply(conn_));
  }

  // Publishes persistent with `message_id` to the default exchange for
  // `queue`, as a system that counts a message sent only once the broker
  // confirmed it: retried (same message-id) until then or `timeout`.
  bool Publish(const std::string& queue, const std::string& message_id,
               const std::string& body,
               absl::Duration timeout = absl::Seconds(40)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (PublishOnce(queue, message_id, body)) return true;
      Close();
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // Takes every message currently on `queue` (basic.get, acked). A
  // connection error ends the read; what was read is returned.
  std::vector<AmqpMessage> Drain(const std::string& queue) {
    std::vector<AmqpMessage> out;
    if (!Connect()) return out;
    while (true) {
      amqp_rpc_reply_t reply =
          amqp_basic_get(conn_, kChannel, Bytes(queue), /*no_ack=*/0);
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        Close();
        break;
      }
      if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD) break;  // empty
      auto* ok = static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded);
      const uint64_t tag = ok->delivery_tag;
      AmqpMessage m;
      m.exchange = Text(ok->exchange);
      m.routing_key = Text(ok->routing_key);
      amqp_message_t message;
      if (amqp_read_message(conn_, kChannel, &message, 0).reply_type !=
          AMQP_RESPONSE_NORMAL) {
        Close();
        break;
      }
      const amqp_basic_properties_t& p = message.properties;
      if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        m.message_id = Text(p.message_id);
      }
      if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) {
        m.content_type = Text(p.content_type);
      }
      if (p._flags & AMQP_BASIC_TYPE_FLAG) m.type = Text(p.type);
      if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) {
        m.delivery_mode = p.delivery_mode;
      }
      if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
        for (int i = 0; i < p.headers.num_entries; ++i) {
          const amqp_table_entry_t& e = p.headers.entries[i];
          if (e.value.kind == AMQP_FIELD_KIND_UTF8 ||
              e.value.kind == AMQP_FIELD_KIND_BYTES) {
            m.headers[Text(e.key)] = Text(e.value.value.bytes);
          }
        }
      }
      m.body = Text(message.body);
      amqp_destroy_message(&message);
      out.push_back(std::move(m));
      if (amqp_basic_ack(conn_, kChannel, tag, 0) != AMQP_STATUS_OK) {
        Close();
        break;
      }
    }
    if (conn_ != nullptr) amqp_maybe_release_buffers(conn_);
    return out;
  }

 private:
  bool Ok(const amqp_rpc_reply_t& reply) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return true;
    Close(/*graceful=*/false);
    return false;
  }

  bool Connect() {
    if (conn_ != nullptr) return true;
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    timeval timeout{2, 0};
    if (socket == nullptr ||
        amqp_socket_open_noblock(socket, "127.0.0.1", port_, &timeout) !=
            AMQP_STATUS_OK) {
      Close(/*graceful=*/false);
      return false;
    }
    amqp_set_rpc_timeout(conn_, &timeout);
    if (!Ok(amqp_login(conn_, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                       AMQP_SASL_METHOD_PLAIN, "guest", "guest"))) {
      return false;
    }
    amqp_channel_open(conn_, kChannel);
    if (!Ok(amqp_get_rpc_reply(conn_))) return false;
    amqp_confirm_select(conn_, kChannel);
    if (!Ok(amqp_get_rpc_reply(conn_))) return false;
    next_tag_ = 1;
    return true;
  }

  void Close(bool graceful = true) {
    if (conn_ == nullptr) return;
    if (graceful) {
      amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
  }

  bool PublishOnce(const std::string& queue, const std::string& message_id,
                   const std::string& body) {
    if (!Connect()) return false;
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                   AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.message_id = Bytes(message_id);
    props.content_type = amqp_cstring_bytes("application/xml");
    if (amqp_basic_publish(conn_, kChannel, amqp_empty_bytes, Bytes(queue),
                           /*mandatory=*/1, 0, &props,
                           Bytes(body)) != AMQP_STATUS_OK) {
      return false;
    }
    const uint64_t tag = next_tag_++;
    bool returned = false;
    const absl::Time deadline = absl::Now() + absl::Seconds(3);
    while (absl::Now() < deadline) {
      timeval timeout{1, 0};
      amqp_frame_t frame;
      if (amqp_simple_wait_frame_noblock(conn_, &frame, &timeout) !=
          AMQP_STATUS_OK) {
        return false;
      }
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_BASIC_RETURN_METHOD: {
          // Unroutable: the message body follows; read it and fail.
          amqp_message_t message;
          if (amqp_read_message(conn_, kChannel, &message, 0).reply_type !=
              AMQP_RESPONSE_NORMAL) {
            return false;
          }
          amqp_destroy_message(&message);
          returned = true;
          break;
        }
        case AMQP_BASIC_ACK_METHOD: {
          auto* ack =
              static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          if (ack->delivery_tag >= tag) return !returned;
          break;
        }
        case AMQP_BASIC_NACK_METHOD:
          return false;
        default:
          return false;  // channel or connection closed
      }
    }
    return false;
  }

  const int port_;
  amqp_connection_state_t conn_ = nullptr;
  uint64_t next_tag_ = 1;
};

class AmqpExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = RabbitMqTestServer::Shared();
    ASSERT_TRUE(server.ok()) << server.status();
    rabbit_ = *server;
    static int counter = 0;
    const std::string name = absl::StrCat("t", ++counter);
    school_.set_host("127.0.0.1");
    school_.set_port(rabbit_->port());
    school_.set_queue(absl::StrCat("school.", name, ".out"));
    school_.set_dead_letter_exchange(absl::StrCat("school.", name, ".dlx"));
    school_.set_dead_letter_queue(absl::StrCat("school.", name, ".dead"));
    school_.set_prefetch(16);
    school_.set_reconnect_wait_ms(100);
    school_.set_connect_timeout_ms(2000);
    school_.set_confirm_timeout_ms(3000);
    social_.set_host("127.0.0.1");
    social_.set_port(rabbit_->port());
    social_.set_exchange(absl::StrCat("social.", name));
    social_.set_routing_key("referrals");
    social_.set_queue(absl::StrCat("social.", name, ".in"));
    social_.set_connect_timeout_ms(2000);
    social_.set_confirm_timeout_ms(3000);

    // The agencies' own topology: the school's outgoing queue (its system
    // publishes there before the gateway may have connected) and the
    // exchanges; the transports declare and bind the other queues.
    client_ = std::make_unique<AmqpClient>(rabbit_->port());
    ASSERT_TRUE(client_->DeclareQueue(school_.queue()));
    ASSERT_TRUE(client_->DeclareExchange(school_.dead_letter_exchange()));
    ASSERT_TRUE(client_->DeclareExchange(social_.exchange()));

    dir_ = testing::MakeTempDir("amqp-exchange");
    config::v1::GatewayConfig config = testing::DemoGatewayConfig(dir_);
    // Quick retries, and enough of them to outlast a broker restart (which
    // takes seconds, tens of them on a loaded machine) instead of the
    // default 8 attempts spread over minutes.
    ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(
        R"pb(delivery {
               max_attempts: 1000
               initial_backoff_ms: 50
               max_backoff_ms: 500
             })pb",
        &config));
    testing::ConnectSchoolAndSocialServices(config, kSchool, "amqp", school_,
                                            social_);
    auto gateway = GatewayServer::Start(config);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);

    // The parent's consent (recorded by the social services) covers them,
    // not school health.
    ASSERT_NO_FATAL_FAILURE(testing::GrantParentConsent(gateway_->port()));
  }

  void TearDown() override {
    if (gateway_ != nullptr) gateway_->Shutdown(absl::Seconds(10));
    gateway_.reset();
    client_.reset();
  }

  void PublishReferral(const std::string& key, const std::string& performer) {
    ASSERT_TRUE(client_->Publish(school_.queue(), "ehis-" + key,
                                 EhisReferral(key, performer)))
        << "the broker never confirmed " << key;
  }

  // Takes messages off `queue` until `pred` holds for all taken so far
  // (reading a queue consumes it, so they are kept per queue).
  std::vector<AmqpMessage> WaitFor(
      const std::string& queue,
      const std::function<bool(const std::vector<AmqpMessage>&)>& pred,
      absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::vector<AmqpMessage>& taken = taken_[queue];
    while (true) {
      for (AmqpMessage& m : client_->Drain(queue)) {
        taken.push_back(std::move(m));
      }
      if (pred(taken) || absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return taken;
  }

  // Idempotency keys of the referrals the social services received, by
  // message id (a duplicate delivery carries the same id).
  static std::map<std::string, std::string> KeysById(
      const std::vector<AmqpMessage>& messages) {
    std::map<std::string, std::string> keys;
    for (const AmqpMessage& m : messages) {
      auto json = nlohmann::json::parse(m.body, nullptr, false);
      if (json.is_discarded()) continue;
      keys[m.message_id] = json.value("idempotencyKey", "");
    }
    return keys;
  }

  RabbitMqTestServer* rabbit_ = nullptr;
  AmqpTransportConfig school_;
  AmqpTransportConfig social_;
  std::string dir_;
  std::unique_ptr<AmqpClient> client_;
  std::unique_ptr<GatewayServer> gateway_;
  std::map<std::string, std::vector<AmqpMessage>> taken_;
};

TEST_F(AmqpExchangeTest,
       ReferralDeliveredInRecipientFormatRefusalDeadLettered) {
  PublishReferral("kiili-0001", testing::kSocialServices);
  PublishReferral("kiili-0002", kSchoolHealth);  // no consent covers health

  std::vector<AmqpMessage> delivered =
      WaitFor(social_.queue(), [](const auto& m) { return !m.empty(); });
  ASSERT_EQ(delivered.size(), 1u);
  AmqpMessage message = delivered[0];
  // Published to the social services' exchange with their routing key,
  // persistent, with the message's id, kind and content type.
  EXPECT_EQ(message.exchange, social_.exchange());
  EXPECT_EQ(message.routing_key, "referrals");
  EXPECT_EQ(message.delivery_mode, AMQP_DELIVERY_PERSISTENT);
  EXPECT_EQ(message.content_type, "application/json");
  EXPECT_EQ(message.type, "REFERRAL");
  EXPECT_EQ(message.headers["Sild-Kind"], "REFERRAL");
  EXPECT_EQ(message.headers["Sild-Recipient"], testing::kSocialServices);
  // The social services' own format, minimised for them.
  auto json = nlohmann::json::parse(message.body, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << message.body;
  EXPECT_EQ(json.value("type", ""), "referral");
  EXPECT_EQ(json.value("idempotencyKey", ""), "kiili-0001");
  EXPECT_EQ(json.at("child").value("personalCode", ""), testing::kPupil);
  EXPECT_FALSE(message.message_id.empty());
  EXPECT_EQ(message.message_id, json.value("messageId", ""));

  std::vector<AmqpMessage> dead = WaitFor(
      school_.dead_letter_queue(), [](const auto& m) { return !m.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  // Through the school's dead-letter exchange, as the school sent it.
  EXPECT_EQ(dead[0].exchange, school_.dead_letter_exchange());
  EXPECT_EQ(dead[0].message_id, "ehis-kiili-0002");
  EXPECT_EQ(dead[0].delivery_mode, AMQP_DELIVERY_PERSISTENT);
  EXPECT_EQ(dead[0].content_type, "application/xml");
  EXPECT_EQ(dead[0].headers["Sild-Message-Id"], "ehis-kiili-0002");
  // The parent's consent does not name school health.
  EXPECT_EQ(dead[0].headers["Sild-Reason"], "RECIPIENT_NOT_COVERED");
  EXPECT_EQ(dead[0].headers["Sild-Source-Queue"], school_.queue());
  EXPECT_EQ(dead[0].body, EhisReferral("kiili-0002", kSchoolHealth));
  // The personal code never appears in the reason.
  EXPECT_FALSE(dead[0].headers["Sild-Error"].empty());
  EXPECT_EQ(dead[0].headers["Sild-Error"].find(testing::kPupil),
            std::string::npos);

  // The disclosure, its delivery and the refusal are in the audit trail,
  // and the trail verifies.
  testing::ExpectDisclosureDeliveryAndRefusalAudited(gateway_->port(),
                                                     kSchoolHealth);
}

TEST_F(AmqpExchangeTest, BrokerRestartMidStreamLosesNothingConfirmed) {
  constexpr int kTotal = 60;
  std::set<std::string> sent;
  for (int i = 0; i < kTotal; ++i) {
    if (i == kTotal / 3) {
      // The broker goes away while the gateway consumes and delivers the
      // first third; the school's system reconnects and keeps publishing
      // (retrying until confirmed) once it is back.
      ASSERT_TRUE(rabbit_->Restart().ok());
    }
    std::string key = absl::StrFormat("restart-%03d", i);
    PublishReferral(key, testing::kSocialServices);
    sent.insert(key);
  }
  std::vector<AmqpMessage> delivered =
      WaitFor(social_.queue(),
              [&](const auto& m) { return KeysById(m).size() >= sent.size(); });
  std::map<std::string, std::string> by_id = KeysById(delivered);
  std::set<std::string> received;
  for (const auto& [id, key] : by_id) received.insert(key);
  // Every confirmed referral arrived, each under one message id (the
  // receiving side drops repeats by id), and nothing else did.
  EXPECT_EQ(received, sent);
  EXPECT_EQ(by_id.size(), sent.size());
  EXPECT_EQ(by_id.count(""), 0u);
  // Nothing was refused on the way.
  EXPECT_TRUE(client_->Drain(school_.dead_letter_queue()).empty());
  std::cout << "restart: " << delivered.size() << " messages on the queue, "
            << by_id.size() << " distinct\n";
}

TEST_F(AmqpExchangeTest, PoisonMessageIsDeadLetteredAndDoesNotBlock) {
  ASSERT_TRUE(client_->Publish(school_.queue(), "poison-1",
                               "<opilane><sonum>not closed"));
  std::set<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    std::string key = absl::StrCat("after-poison-", i);
    PublishReferral(key, testing::kSocialServices);
    sent.insert(key);
  }
  std::vector<AmqpMessage> delivered =
      WaitFor(social_.queue(),
              [&](const auto& m) { return KeysById(m).size() >= sent.size(); });
  std::set<std::string> received;
  for (const auto& [id, key] : KeysById(delivered)) received.insert(key);
  EXPECT_EQ(received, sent);

  std::vector<AmqpMessage> dead = WaitFor(
      school_.dead_letter_queue(), [](const auto& m) { return !m.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].exchange, school_.dead_letter_exchange());
  EXPECT_EQ(dead[0].message_id, "poison-1");
  EXPECT_EQ(dead[0].headers["Sild-Message-Id"], "poison-1");
  EXPECT_EQ(dead[0].body, "<opilane><sonum>not closed");
  EXPECT_EQ(dead[0].headers["Sild-Reason"], "MALFORMED_XML");
  EXPECT_FALSE(dead[0].headers["Sild-Error"].empty());
  std::cout << "poison: " << dead[0].headers["Sild-Reason"] << ": "
            << dead[0].headers["Sild-Error"] << "\n";
}

}  // namespace
}  // namespace sild
