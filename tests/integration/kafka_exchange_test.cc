// End to end through Kafka (docs/transport-kafka.md): the school's system
// produces EHIS XML referrals to its Kafka topic; the gateway consumes them
// with the "kafka" ingress (consumer group, offsets committed after durable
// acceptance), decides, audits and delivers each to the social services'
// topic in their format (social-json) with the "kafka" egress (idempotent
// producer). A refusal and an undecodable message reach the school's
// dead-letter topic with the reason; brokers going down and coming back in
// the middle of a stream lose nothing the school's system had produced.
//
// Debian 12 packages no Kafka broker: librdkafka's mock cluster
// (tests/testing/kafka_mock_cluster.h) serves both agencies; each test uses
// a cluster of its own.
#include <librdkafka/rdkafka.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/server/server.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sild/connectors/v1/kafka.pb.h"
#include "sild/v1/audit_service.grpc.pb.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "tests/integration/broker_exchange_util.h"
#include "tests/integration/integration_util.h"
#include "tests/testing/kafka_mock_cluster.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using sild::connectors::v1::KafkaTransportConfig;
using sild::testing::KafkaMockCluster;
using sild::testing::KafkaRecord;

constexpr char kSchool[] = "75001017";
constexpr char kSchoolHealth[] = "75001046";

std::string EhisReferral(const std::string& key, const std::string& performer) {
  return testing::EhisReferralXml(key, kSchool, performer);
}

// The school's own Kafka producer (plain librdkafka, idempotent): a record
// counts as sent once its delivery report is OK; the school retries until
// then.
class SchoolProducer {
 public:
  explicit SchoolProducer(const std::string& bootstrap) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[512];
    const std::pair<const char*, const char*> settings[] = {
        {"bootstrap.servers", bootstrap.c_str()},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "1"},
        {"message.timeout.ms", "5000"},
        {"reconnect.backoff.ms", "100"},
        {"reconnect.backoff.max.ms", "500"},
        {"client.id", "school-sis"},
    };
    for (const auto& [key, value] : settings) {
      EXPECT_EQ(rd_kafka_conf_set(conf, key, value, error, sizeof(error)),
                RD_KAFKA_CONF_OK)
          << key << ": " << error;
    }
    rd_kafka_conf_set_dr_msg_cb(
        conf, [](rd_kafka_t*, const rd_kafka_message_t* message, void*) {
          *static_cast<rd_kafka_resp_err_t*>(message->_private) = message->err;
        });
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    EXPECT_NE(rk_, nullptr) << error;
  }
  ~SchoolProducer() {
    if (rk_ == nullptr) return;
    rd_kafka_flush(rk_, 5000);
    rd_kafka_destroy(rk_);
  }

  bool Produce(const std::string& topic, const std::string& key,
               const std::string& message_id, const std::string& data,
               absl::Duration timeout = absl::Seconds(40)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__IN_PROGRESS;
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(data.data()), data.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADER("sild-message-id", message_id.data(),
                            static_cast<ssize_t>(message_id.size())),
          RD_KAFKA_V_HEADER("content-type", "application/xml", -1),
          RD_KAFKA_V_OPAQUE(&result), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_poll(rk_, 100);
        continue;
      }
      // The report sets `result` from within rd_kafka_poll on this thread.
      while (result == RD_KAFKA_RESP_ERR__IN_PROGRESS) rd_kafka_poll(rk_, 100);
      if (result == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    }
    return false;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
};

class KafkaExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Three brokers: topics replicated, leaders spread.
    auto cluster = KafkaMockCluster::Create(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateTopic("school.out", 3).ok());
    ASSERT_TRUE(cluster_->CreateTopic("school.dead", 1).ok());
    ASSERT_TRUE(cluster_->CreateTopic("social.in", 3).ok());
    school_.set_bootstrap_servers(cluster_->bootstrap_servers());
    school_.add_ingress_topics("school.out");
    school_.set_group_id("sild-gateway");
    school_.set_dead_letter_topic("school.dead");
    school_.set_session_timeout_ms(6000);
    school_.set_retry_backoff_ms(50);
    school_.set_max_retry_backoff_ms(500);
    school_.set_delivery_timeout_ms(5000);
    school_.set_linger_ms(1);
    social_.set_bootstrap_servers(cluster_->bootstrap_servers());
    social_.set_topic("social.in");
    social_.set_delivery_timeout_ms(3000);
    social_.set_linger_ms(1);
    for (KafkaTransportConfig* c : {&school_, &social_}) {
      (*c->mutable_properties())["reconnect.backoff.ms"] = "100";
      (*c->mutable_properties())["reconnect.backoff.max.ms"] = "500";
    }

    dir_ = testing::MakeTempDir("kafka-exchange");
    config::v1::GatewayConfig config = testing::DemoGatewayConfig(dir_);
    ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(
        R"pb(delivery { initial_backoff_ms: 50 max_backoff_ms: 500 })pb",
        &config));
    testing::ConnectSchoolAndSocialServices(config, kSchool, "kafka", school_,
                                            social_);
    auto gateway = GatewayServer::Start(config);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);

    // The parent's consent (recorded by the social services) covers them,
    // not school health.
    ASSERT_NO_FATAL_FAILURE(testing::GrantParentConsent(gateway_->port()));
    school_sis_ =
        std::make_unique<SchoolProducer>(cluster_->bootstrap_servers());
  }

  void TearDown() override {
    school_sis_.reset();
    if (gateway_ != nullptr) gateway_->Shutdown(absl::Seconds(10));
    gateway_.reset();
    cluster_.reset();
  }

  void ProduceReferral(const std::string& key, const std::string& performer) {
    // Keyed by the pupil, so one child's referrals stay in order.
    ASSERT_TRUE(school_sis_->Produce("school.out", testing::kPupil,
                                     "ehis-" + key,
                                     EhisReferral(key, performer)))
        << "the school's topic never acknowledged " << key;
  }

  // Waits until `pred` holds for what is on `topic`.
  std::vector<KafkaRecord> WaitFor(
      const std::string& topic,
      const std::function<bool(const std::vector<KafkaRecord>&)>& pred,
      absl::Duration timeout = absl::Seconds(60)) {
    absl::Time deadline = absl::Now() + timeout;
    std::vector<KafkaRecord> records;
    while (absl::Now() < deadline) {
      auto read = cluster_->ReadAll(topic);
      if (read.ok()) {
        records = *std::move(read);
        if (pred(records)) break;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    return records;
  }

  // Idempotency keys of the referrals the social services received, by
  // message id (a duplicate delivery carries the same id).
  static std::map<std::string, std::string> KeysById(
      const std::vector<KafkaRecord>& records) {
    std::map<std::string, std::string> keys;
    for (const KafkaRecord& r : records) {
      auto json = nlohmann::json::parse(r.value, nullptr, false);
      if (json.is_discarded()) continue;
      keys[r.header("sild-message-id")] = json.value("idempotencyKey", "");
    }
    return keys;
  }

  std::unique_ptr<KafkaMockCluster> cluster_;
  KafkaTransportConfig school_;
  KafkaTransportConfig social_;
  std::string dir_;
  std::unique_ptr<GatewayServer> gateway_;
  std::unique_ptr<SchoolProducer> school_sis_;
};

TEST_F(KafkaExchangeTest,
       ReferralDeliveredInRecipientFormatRefusalDeadLettered) {
  ProduceReferral("kiili-0001", testing::kSocialServices);
  ProduceReferral("kiili-0002", kSchoolHealth);  // no consent covers health

  std::vector<KafkaRecord> delivered =
      WaitFor("social.in", [](const auto& r) { return !r.empty(); });
  ASSERT_EQ(delivered.size(), 1u);
  const KafkaRecord& record = delivered[0];
  EXPECT_EQ(record.header("sild-content-type"), "application/json");
  EXPECT_EQ(record.header("sild-kind"), "REFERRAL");
  EXPECT_FALSE(record.key.empty()) << "delivered without an ordering key";
  // The social services' own format, minimised for them.
  auto json = nlohmann::json::parse(record.value, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << record.value;
  EXPECT_EQ(json.value("type", ""), "referral");
  EXPECT_EQ(json.value("idempotencyKey", ""), "kiili-0001");
  EXPECT_EQ(json.at("child").value("personalCode", ""), testing::kPupil);
  EXPECT_EQ(record.header("sild-message-id"), json.value("messageId", ""));

  std::vector<KafkaRecord> dead =
      WaitFor("school.dead", [](const auto& r) { return !r.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].header("sild-message-id"), "ehis-kiili-0002");
  // The parent's consent does not name school health.
  EXPECT_EQ(dead[0].header("sild-reason"), "RECIPIENT_NOT_COVERED");
  EXPECT_EQ(dead[0].value, EhisReferral("kiili-0002", kSchoolHealth));
  // The personal code never appears in the reason.
  EXPECT_FALSE(dead[0].header("sild-error").empty());
  EXPECT_EQ(dead[0].header("sild-error").find(testing::kPupil),
            std::string::npos);

  // The disclosure, its delivery and the refusal are in the audit trail,
  // and the trail verifies.
  testing::ExpectDisclosureDeliveryAndRefusalAudited(gateway_->port(),
                                                     kSchoolHealth);
}

TEST_F(KafkaExchangeTest, PoisonMessageIsDeadLetteredAndDoesNotBlock) {
  ASSERT_TRUE(school_sis_->Produce("school.out", testing::kPupil, "poison-1",
                                   "<opilane><sonum>not closed"));
  std::set<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    std::string key = absl::StrCat("after-poison-", i);
    ProduceReferral(key, testing::kSocialServices);
    sent.insert(key);
  }
  std::vector<KafkaRecord> delivered = WaitFor("social.in", [&](const auto& r) {
    return KeysById(r).size() >= sent.size();
  });
  std::set<std::string> received;
  for (const auto& [id, key] : KeysById(delivered)) received.insert(key);
  EXPECT_EQ(received, sent);

  std::vector<KafkaRecord> dead =
      WaitFor("school.dead", [](const auto& r) { return !r.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].header("sild-message-id"), "poison-1");
  EXPECT_EQ(dead[0].value, "<opilane><sonum>not closed");
  EXPECT_EQ(dead[0].header("sild-reason"), "MALFORMED_XML");
  EXPECT_FALSE(dead[0].header("sild-error").empty());
  std::cout << "poison: " << dead[0].header("sild-reason") << ": "
            << dead[0].header("sild-error") << "\n";
}

TEST_F(KafkaExchangeTest, BrokersDownMidStreamLoseNothingProduced) {
  constexpr int kTotal = 60;
  std::set<std::string> sent;
  std::thread restorer;
  for (int i = 0; i < kTotal; ++i) {
    if (i == kTotal / 3) {
      // Every broker goes away while the gateway consumes and delivers the
      // first third; the school's system keeps producing (and retrying
      // until acknowledged) through the outage.
      ASSERT_TRUE(cluster_->SetBrokerDown(-1).ok());
      restorer = std::thread([this] {
        absl::SleepFor(absl::Seconds(2));
        EXPECT_TRUE(cluster_->SetBrokerUp(-1).ok());
      });
    }
    std::string key = absl::StrFormat("down-%03d", i);
    ProduceReferral(key, testing::kSocialServices);
    sent.insert(key);
  }
  restorer.join();
  std::vector<KafkaRecord> delivered = WaitFor("social.in", [&](const auto& r) {
    return KeysById(r).size() >= sent.size();
  });
  std::map<std::string, std::string> by_id = KeysById(delivered);
  std::set<std::string> received;
  for (const auto& [id, key] : by_id) received.insert(key);
  // Every produced referral arrived, each under one message id (the
  // receiving side drops repeats by id), and nothing else did.
  EXPECT_EQ(received, sent);
  EXPECT_EQ(by_id.size(), sent.size());
  std::cout << "brokers down: " << delivered.size() << " records on the topic, "
            << by_id.size() << " distinct\n";
}

}  // namespace
}  // namespace sild
