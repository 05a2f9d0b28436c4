#include "connectors/transports/kafka/kafka_transport.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "connectors/sdk/conformance/transport_conformance.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/testing/kafka_mock_cluster.h"

namespace sild::connectors {
namespace {

using conformance::DeadLetter;
using conformance::TransportConformanceParams;
using conformance::TransportPair;
using sild::connectors::v1::KafkaSecurity;
using sild::connectors::v1::KafkaTransportConfig;
using sild::testing::KafkaMockCluster;
using sild::testing::KafkaRecord;

constexpr int kPartitions = 4;
// InitProducerId: sent only by an idempotent (or transactional) producer.
constexpr int16_t kInitProducerIdApiKey = 22;

// One mock cluster for the binary; tests use topics of their own.
KafkaMockCluster* Cluster() {
  static KafkaMockCluster* cluster = [] {
    auto created = KafkaMockCluster::Create(/*brokers=*/3);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->release() : nullptr;
  }();
  return cluster;
}

// Frees the shared cluster after the last test, for LeakSanitizer.
class ClusterCleanup : public ::testing::Environment {
 public:
  void TearDown() override { delete Cluster(); }
};
[[maybe_unused]] ::testing::Environment* const kCleanup =
    ::testing::AddGlobalTestEnvironment(new ClusterCleanup);

// Topics `name`.in (kPartitions partitions) and `name`.dead on `cluster`,
// and a config producing to and consuming from `name`.in.
KafkaTransportConfig Config(KafkaMockCluster* cluster,
                            const std::string& name) {
  EXPECT_TRUE(cluster->CreateTopic(name + ".in", kPartitions).ok());
  EXPECT_TRUE(cluster->CreateTopic(name + ".dead", 1).ok());
  KafkaTransportConfig config;
  config.set_bootstrap_servers(cluster->bootstrap_servers());
  config.set_topic(name + ".in");
  config.add_ingress_topics(name + ".in");
  config.set_group_id(name + "-gateway");
  config.set_dead_letter_topic(name + ".dead");
  config.set_delivery_timeout_ms(5000);
  config.set_session_timeout_ms(6000);
  config.set_retry_backoff_ms(50);
  config.set_max_retry_backoff_ms(200);
  config.set_linger_ms(1);
  config.set_client_id(name);
  return config;
}

google::protobuf::Any Pack(const KafkaTransportConfig& config) {
  google::protobuf::Any any;
  any.PackFrom(config);
  return any;
}

std::vector<KafkaRecord> ReadAll(KafkaMockCluster* cluster,
                                 const std::string& topic) {
  auto records = cluster->ReadAll(topic);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *std::move(records) : std::vector<KafkaRecord>();
}

std::vector<DeadLetter> ReadDeadLetters(KafkaMockCluster* cluster,
                                        const std::string& topic) {
  std::vector<DeadLetter> dead;
  for (const KafkaRecord& record : ReadAll(cluster, topic)) {
    dead.push_back({record.header(kKafkaMessageIdHeader), record.value,
                    absl::StrCat(record.header(kKafkaReasonHeader), ": ",
                                 record.header(kKafkaErrorHeader))});
  }
  return dead;
}

TransportConformanceParams KafkaParams() {
  TransportConformanceParams params;
  params.name = "kafka";
  params.make_pair = []() -> absl::StatusOr<TransportPair> {
    static int counter = 0;
    KafkaMockCluster* cluster = Cluster();
    if (cluster == nullptr) return absl::UnavailableError("no mock cluster");
    KafkaTransportConfig config =
        Config(cluster, absl::StrCat("conformance", ++counter));
    TransportPair pair;
    auto egress = CreateEgressTransport("kafka", Pack(config), "transport");
    if (!egress.ok()) return egress.status();
    auto ingress =
        CreateIngressTransport("kafka", Pack(config), "ingress_transport");
    if (!ingress.ok()) return ingress.status();
    pair.egress = *std::move(egress);
    pair.ingress = *std::move(ingress);
    pair.dead_letters = [cluster, config] {
      return ReadDeadLetters(cluster, config.dead_letter_topic());
    };
    return pair;
  };
  // Joining the consumer group takes the mock a few seconds.
  params.timeout = absl::Seconds(20);
  params.settle = absl::Milliseconds(500);
  return params;
}

SILD_TRANSPORT_CONFORMANCE(Kafka, KafkaParams());

OutboundMessage Message(const std::string& id, const std::string& key,
                        const std::string& bytes) {
  OutboundMessage message;
  message.message_id = id;
  message.kind = "REFERRAL";
  message.content_type = "application/json";
  message.bytes = bytes;
  message.key = key;
  message.recipient = "75001023";
  return message;
}

// What an ingress was handed, in order; `decide` says what done reports
// (OK when empty).
class Collector {
 public:
  explicit Collector(
      std::function<absl::Status(const InboundMessage&)> decide = nullptr)
      : decide_(std::move(decide)) {}

  InboundHandler Handler() {
    return [this](const InboundMessage& message,
                  std::function<void(absl::Status)> done) {
      {
        absl::MutexLock lock(&mu_);
        received_.push_back(message);
      }
      done(decide_ ? decide_(message) : absl::OkStatus());
    };
  }
  bool WaitFor(std::function<bool(const std::vector<InboundMessage>&)> until,
               absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto met = [&] {
      mu_.AssertHeld();
      return until(received_);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&met), timeout);
  }
  bool WaitForCount(size_t n, absl::Duration timeout) {
    return WaitFor([n](const auto& r) { return r.size() >= n; }, timeout);
  }
  std::vector<InboundMessage> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  std::function<absl::Status(const InboundMessage&)> decide_;
  absl::Mutex mu_;
  std::vector<InboundMessage> received_ ABSL_GUARDED_BY(mu_);
};

bool Seen(const std::vector<InboundMessage>& received, const std::string& id) {
  for (const InboundMessage& m : received) {
    if (m.message_id == id) return true;
  }
  return false;
}

// The offset group `group` committed for `topic` partition `partition`
// (RD_KAFKA_OFFSET_INVALID when none), asked by a consumer that does not
// join the group.
int64_t CommittedOffset(KafkaMockCluster* cluster, const std::string& group,
                        const std::string& topic, int32_t partition) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  rd_kafka_conf_set(conf, "bootstrap.servers",
                    cluster->bootstrap_servers().c_str(), error, sizeof(error));
  rd_kafka_conf_set(conf, "group.id", group.c_str(), error, sizeof(error));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof(error));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    ADD_FAILURE() << error;
    return RD_KAFKA_OFFSET_INVALID;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  int64_t offset = RD_KAFKA_OFFSET_INVALID;
  if (rd_kafka_committed(rk, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    offset = list->elems[0].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return offset;
}

bool EventuallyCommitted(KafkaMockCluster* cluster, const std::string& group,
                         const std::string& topic, int32_t partition,
                         int64_t offset) {
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    if (CommittedOffset(cluster, group, topic, partition) == offset) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ADD_FAILURE() << "committed offset of " << topic << "/" << partition << " is "
                << CommittedOffset(cluster, group, topic, partition) << ", not "
                << offset;
  return false;
}

TEST(KafkaTransportTest, KeyKeepsOneChildsMessagesInOrderOnOnePartition) {
  KafkaMockCluster* cluster = Cluster();
  ASSERT_NE(cluster, nullptr);
  KafkaTransportConfig config = Config(cluster, "ordering");
  auto egress = KafkaEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  std::vector<OutboundMessage> batch;
  const int kChildren = 8;
  const int kPerChild = 25;
  for (int i = 0; i < kPerChild; ++i) {
    for (int child = 0; child < kChildren; ++child) {
      batch.push_back(Message(absl::StrCat("m-", child, "-", i),
                              absl::StrCat("case-", child),
                              absl::StrCat("{\"seq\":", i, "}")));
    }
  }
  for (const DeliveryResult& result : (*egress)->DeliverBatch(batch)) {
    ASSERT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
  }
  std::vector<KafkaRecord> records = ReadAll(cluster, config.topic());
  ASSERT_EQ(records.size(), batch.size());
  std::map<std::string, std::vector<const KafkaRecord*>> by_key;
  std::set<int32_t> partitions_used;
  for (const KafkaRecord& record : records) {  // by partition, then offset
    by_key[record.key].push_back(&record);
    partitions_used.insert(record.partition);
    EXPECT_EQ(record.header(kKafkaKindHeader), "REFERRAL");
    EXPECT_EQ(record.header(kKafkaContentTypeHeader), "application/json");
  }
  EXPECT_GT(partitions_used.size(), 1u) << "keys should spread";
  ASSERT_EQ(by_key.size(), static_cast<size_t>(kChildren));
  for (const auto& [key, list] : by_key) {
    ASSERT_EQ(list.size(), static_cast<size_t>(kPerChild)) << key;
    std::string child = key.substr(std::string("case-").size());
    for (int i = 0; i < kPerChild; ++i) {
      EXPECT_EQ(list[i]->partition, list[0]->partition) << key;
      EXPECT_EQ(list[i]->header(kKafkaMessageIdHeader),
                absl::StrCat("m-", child, "-", i));
      EXPECT_EQ(list[i]->value, absl::StrCat("{\"seq\":", i, "}"));
    }
  }
}

TEST(KafkaTransportTest, ProducerIsIdempotent) {
  // A cluster of one broker, so the producer's InitProducerId request, which
  // only an idempotent producer sends, surely goes to broker 1.
  auto cluster = KafkaMockCluster::Create(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KafkaTransportConfig config = Config(cluster->get(), "idempotent");
  ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                (*cluster)->mock(), 1, kInitProducerIdApiKey, 1,
                RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, 0),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  auto egress = KafkaEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  DeliveryResult result =
      (*egress)->Deliver(Message("idem-1", "case-1", "one"));
  ASSERT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
  size_t left = 1;
  ASSERT_EQ(rd_kafka_mock_broker_error_stack_cnt((*cluster)->mock(), 1,
                                                 kInitProducerIdApiKey, &left),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(left, 0u) << "the producer never asked for a producer id";
  // Produce requests refused once by a leader change are retried by the
  // idempotent producer without duplicates or reordering.
  (*cluster)->PushRequestErrors(sild::testing::kKafkaProduceApiKey,
                                {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                 RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  std::vector<OutboundMessage> batch;
  for (int i = 2; i <= 20; ++i) {
    batch.push_back(
        Message(absl::StrCat("idem-", i), "case-1", absl::StrCat(i)));
  }
  for (const DeliveryResult& r : (*egress)->DeliverBatch(batch)) {
    ASSERT_EQ(r.outcome, DeliveryResult::kDelivered) << r.error;
  }
  std::vector<KafkaRecord> records = ReadAll(cluster->get(), config.topic());
  ASSERT_EQ(records.size(), 20u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].header(kKafkaMessageIdHeader),
              absl::StrCat("idem-", i + 1));
  }
  egress->reset();
}

TEST(KafkaTransportTest, FatalProducerErrorIsReplacedByANewProducer) {
  auto cluster = KafkaMockCluster::Create(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KafkaTransportConfig config = Config(cluster->get(), "fatal");
  config.set_delivery_timeout_ms(5000);
  auto egress = KafkaEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  DeliveryResult first = (*egress)->Deliver(Message("f-1", "case-1", "1"));
  ASSERT_EQ(first.outcome, DeliveryResult::kDelivered) << first.error;
  // librdkafka gives an idempotent producer up for good after a fatal error
  // (lost sequence numbers, for one); health says so meanwhile.
  (*egress)->RaiseFatalErrorForTesting();
  absl::Status health = (*egress)->health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable) << health;
  EXPECT_NE(health.message().find("OUT_OF_ORDER_SEQUENCE_NUMBER"),
            std::string::npos)
      << health;
  // The next deliveries go through a new producer.
  DeliveryResult again = (*egress)->Deliver(Message("f-2", "case-1", "2"));
  EXPECT_EQ(again.outcome, DeliveryResult::kDelivered) << again.error;
  DeliveryResult third = (*egress)->Deliver(Message("f-3", "case-1", "3"));
  EXPECT_EQ(third.outcome, DeliveryResult::kDelivered) << third.error;
  EXPECT_TRUE((*egress)->health().ok()) << (*egress)->health();
  std::set<std::string> ids;
  for (const KafkaRecord& r : ReadAll(cluster->get(), config.topic())) {
    ids.insert(r.header(kKafkaMessageIdHeader));
  }
  EXPECT_EQ(ids, (std::set<std::string>{"f-1", "f-2", "f-3"}));
  egress->reset();
}

TEST(KafkaTransportTest, RestartedConsumerResumesAtFirstRecordNotDone) {
  KafkaMockCluster* cluster = Cluster();
  ASSERT_NE(cluster, nullptr);
  KafkaTransportConfig config = Config(cluster, "resume");
  auto egress = KafkaEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  std::vector<OutboundMessage> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(Message(absl::StrCat("r-", i), "case-1", "x"));
  }
  for (const DeliveryResult& r : (*egress)->DeliverBatch(batch)) {
    ASSERT_EQ(r.outcome, DeliveryResult::kDelivered) << r.error;
  }
  int32_t partition = ReadAll(cluster, config.topic()).at(0).partition;
  {
    // Every record is handed over at once; the "gateway" accepts all but
    // r-4, out of order, and fails r-4 retryably (its retry is due only
    // long after the consumer stopped).
    KafkaTransportConfig slow_retry = config;
    slow_retry.set_retry_backoff_ms(60000);
    slow_retry.set_max_retry_backoff_ms(60000);
    absl::Mutex mu;
    std::map<std::string, std::function<void(absl::Status)>> pending;
    auto ingress = KafkaIngressTransport::Create(slow_retry);
    ASSERT_TRUE(ingress.ok()) << ingress.status();
    ASSERT_TRUE((*ingress)
                    ->Start([&](const InboundMessage& message,
                                std::function<void(absl::Status)> done) {
                      absl::MutexLock lock(&mu);
                      pending[message.message_id] = std::move(done);
                    })
                    .ok());
    std::map<std::string, std::function<void(absl::Status)>> dones;
    {
      absl::MutexLock lock(&mu);
      auto all = [&] {
        mu.AssertHeld();
        return pending.size() == 10;
      };
      ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(20)))
          << pending.size() << " of 10 records handed over";
      dones.swap(pending);
    }
    for (int i : {9, 7, 5, 8, 6, 0, 2, 1, 3}) {
      dones[absl::StrCat("r-", i)](absl::OkStatus());
    }
    // The commit stops before r-4 although r-5..r-9 are done.
    EXPECT_TRUE(EventuallyCommitted(cluster, config.group_id(), config.topic(),
                                    partition, /*offset of r-4=*/4));
    dones["r-4"](absl::UnavailableError("store down"));
    (*ingress)->Stop();
  }
  EXPECT_EQ(
      CommittedOffset(cluster, config.group_id(), config.topic(), partition),
      4);
  Collector second;
  auto ingress = KafkaIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok()) << ingress.status();
  ASSERT_TRUE((*ingress)->Start(second.Handler()).ok());
  ASSERT_TRUE(second.WaitFor([](const auto& r) { return Seen(r, "r-9"); },
                             absl::Seconds(20)));
  std::vector<InboundMessage> received = second.received();
  ASSERT_FALSE(received.empty());
  EXPECT_EQ(received[0].message_id, "r-4")
      << "the restarted consumer did not resume at the record not done";
  for (const InboundMessage& m : received) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_NE(m.message_id, absl::StrCat("r-", i))
          << "an acknowledged record was redelivered";
    }
  }
  EXPECT_EQ(received.size(), 6u);
  EXPECT_TRUE(EventuallyCommitted(cluster, config.group_id(), config.topic(),
                                  partition, 10));
  (*ingress)->Stop();
}

TEST(KafkaTransportTest, RefusalGoesToDeadLetterTopicAndDoesNotBlock) {
  KafkaMockCluster* cluster = Cluster();
  ASSERT_NE(cluster, nullptr);
  KafkaTransportConfig config = Config(cluster, "refusal");
  auto egress = KafkaEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  Collector collector([](const InboundMessage& m) {
    return m.message_id == "p-1" ? InvalidField("MALFORMED_XML", "payload",
                                                "unexpected end of document")
                                 : absl::OkStatus();
  });
  auto ingress = KafkaIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok()) << ingress.status();
  ASSERT_TRUE((*ingress)->Start(collector.Handler()).ok());
  std::vector<OutboundMessage> batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(
        Message(absl::StrCat("p-", i), "case-9", i == 1 ? "<broken" : "<ok/>"));
  }
  for (const DeliveryResult& r : (*egress)->DeliverBatch(batch)) {
    ASSERT_EQ(r.outcome, DeliveryResult::kDelivered) << r.error;
  }
  ASSERT_TRUE(collector.WaitFor([](const auto& r) { return Seen(r, "p-2"); },
                                absl::Seconds(20)));
  int32_t partition = ReadAll(cluster, config.topic()).at(0).partition;
  // Refused and dead-lettered counts as done: the commit passes it.
  EXPECT_TRUE(EventuallyCommitted(cluster, config.group_id(), config.topic(),
                                  partition, 3));
  std::vector<KafkaRecord> dead = ReadAll(cluster, config.dead_letter_topic());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].header(kKafkaMessageIdHeader), "p-1");
  EXPECT_EQ(dead[0].header(kKafkaReasonHeader), "MALFORMED_XML");
  EXPECT_NE(dead[0].header(kKafkaErrorHeader).find("unexpected end"),
            std::string::npos)
      << dead[0].header(kKafkaErrorHeader);
  EXPECT_EQ(dead[0].header(kKafkaKindHeader), "REFERRAL");
  EXPECT_EQ(dead[0].key, "case-9");
  EXPECT_EQ(dead[0].value, "<broken");
  int p1 = 0;
  for (const InboundMessage& m : collector.received()) {
    p1 += m.message_id == "p-1";
  }
  EXPECT_EQ(p1, 1) << "a refused record was handed over again";
  (*ingress)->Stop();
}

TEST(KafkaTransportTest, CooperativeAssignorChosenInPropertiesWorks) {
  KafkaMockCluster* cluster = Cluster();
  ASSERT_NE(cluster, nullptr);
  KafkaTransportConfig config = Config(cluster, "cooperative");
  (*config.mutable_properties())["partition.assignment.strategy"] =
      "cooperative-sticky";
  auto egress = KafkaEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  Collector collector;
  auto ingress = KafkaIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok()) << ingress.status();
  ASSERT_TRUE((*ingress)->Start(collector.Handler()).ok());
  std::vector<OutboundMessage> batch;
  for (int i = 0; i < 8; ++i) {
    batch.push_back(
        Message(absl::StrCat("c-", i), absl::StrCat("case-", i), "x"));
  }
  for (const DeliveryResult& r : (*egress)->DeliverBatch(batch)) {
    ASSERT_EQ(r.outcome, DeliveryResult::kDelivered) << r.error;
  }
  EXPECT_TRUE(collector.WaitFor(
      [](const auto& r) {
        for (int i = 0; i < 8; ++i) {
          if (!Seen(r, absl::StrCat("c-", i))) return false;
        }
        return true;
      },
      absl::Seconds(20)));
  (*ingress)->Stop();
}

bool EventuallyHealth(const std::function<absl::Status()>& health, bool ok,
                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (health().ok() == ok) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// Delivers as the gateway's workers do: a retryable failure (a report that
// timed out on a loaded machine, say) is tried again, up to `patience`.
DeliveryResult DeliverWithRetries(EgressTransport& egress,
                                  const OutboundMessage& message,
                                  absl::Duration patience = absl::Seconds(30)) {
  absl::Time deadline = absl::Now() + patience;
  DeliveryResult result = egress.Deliver(message);
  while (result.outcome == DeliveryResult::kRetryable &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    result = egress.Deliver(message);
  }
  return result;
}

TEST(KafkaTransportTest, BrokerDownIsReportedAndRecoveredWithoutLoss) {
  // A cluster of its own: its brokers go down.
  auto owned = KafkaMockCluster::Create(1);
  ASSERT_TRUE(owned.ok()) << owned.status();
  KafkaMockCluster* cluster = owned->get();
  KafkaTransportConfig config = Config(cluster, "down");
  config.set_delivery_timeout_ms(1000);
  auto egress = KafkaEgressTransport::Create(config);
  ASSERT_TRUE(egress.ok()) << egress.status();
  Collector collector;
  auto ingress = KafkaIngressTransport::Create(config);
  ASSERT_TRUE(ingress.ok()) << ingress.status();
  ASSERT_TRUE((*ingress)->Start(collector.Handler()).ok());
  DeliveryResult first =
      DeliverWithRetries(**egress, Message("d-0", "case-1", "0"));
  ASSERT_EQ(first.outcome, DeliveryResult::kDelivered) << first.error;
  ASSERT_TRUE(collector.WaitForCount(1, absl::Seconds(20)));
  EXPECT_TRUE((*egress)->health().ok());
  EXPECT_TRUE((*ingress)->health().ok());

  ASSERT_TRUE(cluster->SetBrokerDown(-1).ok());
  // While down: a delivery fails retryably (no crash, no false success)...
  DeliveryResult down = (*egress)->Deliver(Message("d-1", "case-1", "1"));
  EXPECT_EQ(down.outcome, DeliveryResult::kRetryable) << down.error;
  // ...and both directions say so.
  EXPECT_TRUE(EventuallyHealth([&] { return (*egress)->health(); }, false,
                               absl::Seconds(15)));
  EXPECT_TRUE(EventuallyHealth([&] { return (*ingress)->health(); }, false,
                               absl::Seconds(15)));
  absl::Status status = (*egress)->health();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;

  // A delivery started while down succeeds once the broker is back.
  std::atomic<bool> done{false};
  DeliveryResult during;
  std::thread deliverer([&] {
    during = (*egress)->Deliver(Message("d-2", "case-1", "2"));
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(cluster->SetBrokerUp(-1).ok());
  deliverer.join();
  EXPECT_NE(during.outcome, DeliveryResult::kPermanent) << during.error;
  // The gateway retries what came back retryable.
  std::vector<std::string> expected = {"d-0", "d-2", "d-3"};
  if (down.outcome != DeliveryResult::kDelivered) {
    DeliveryResult again =
        DeliverWithRetries(**egress, Message("d-1", "case-1", "1"));
    EXPECT_EQ(again.outcome, DeliveryResult::kDelivered) << again.error;
  }
  if (during.outcome != DeliveryResult::kDelivered) {
    DeliveryResult again =
        DeliverWithRetries(**egress, Message("d-2", "case-1", "2"));
    EXPECT_EQ(again.outcome, DeliveryResult::kDelivered) << again.error;
  }
  DeliveryResult after =
      DeliverWithRetries(**egress, Message("d-3", "case-1", "3"));
  EXPECT_EQ(after.outcome, DeliveryResult::kDelivered) << after.error;
  EXPECT_TRUE(EventuallyHealth([&] { return (*egress)->health(); }, true,
                               absl::Seconds(15)))
      << (*egress)->health();
  EXPECT_TRUE(EventuallyHealth([&] { return (*ingress)->health(); }, true,
                               absl::Seconds(15)))
      << (*ingress)->health();
  // Every id arrives (duplicates allowed: de-duplication is by message id).
  EXPECT_TRUE(collector.WaitFor(
      [](const auto& r) {
        for (const char* id : {"d-0", "d-1", "d-2", "d-3"}) {
          if (!Seen(r, id)) return false;
        }
        return true;
      },
      absl::Seconds(30)));
  (*ingress)->Stop();
  ingress->reset();
  egress->reset();
}

TEST(KafkaTransportTest, ConfigErrorsNameTheField) {
  KafkaTransportConfig config;
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(config).status()),
            "bootstrap_servers");
  config.set_bootstrap_servers("127.0.0.1:1");
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(config).status()), "topic");
  config.set_topic("t");
  EXPECT_EQ(ErrorField(KafkaIngressTransport::Create(config).status()),
            "ingress_topics");
  config.add_ingress_topics("t");
  EXPECT_EQ(ErrorField(KafkaIngressTransport::Create(config).status()),
            "group_id");
  config.set_group_id("g");
  EXPECT_EQ(ErrorField(KafkaIngressTransport::Create(config).status()),
            "dead_letter_topic");
  config.set_dead_letter_topic("t.dead");
  config.set_auto_offset_reset("middle");
  EXPECT_EQ(ErrorField(KafkaIngressTransport::Create(config).status()),
            "auto_offset_reset");
  config.clear_auto_offset_reset();

  KafkaTransportConfig reserved = config;
  (*reserved.mutable_properties())["enable.idempotence"] = "false";
  auto status = KafkaEgressTransport::Create(reserved).status();
  EXPECT_EQ(ErrorField(status), "properties[\"enable.idempotence\"]") << status;
  EXPECT_EQ(ErrorReason(status), "INVALID_CONNECTOR_CONFIG");
  reserved = config;
  (*reserved.mutable_properties())["acks"] = "1";
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(reserved).status()),
            "properties[\"acks\"]");
  reserved = config;
  (*reserved.mutable_properties())["no.such.property"] = "1";
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(reserved).status()),
            "properties[\"no.such.property\"]");

  KafkaTransportConfig tls = config;
  tls.mutable_security()->set_protocol(KafkaSecurity::PROTOCOL_SSL);
  tls.mutable_security()->set_ca_file("/nonexistent/ca.crt");
  status = KafkaEgressTransport::Create(tls).status();
  EXPECT_EQ(ErrorField(status), "security.ca_file") << status;
  tls.mutable_security()->clear_ca_file();
  tls.mutable_security()->set_cert_file("/nonexistent/client.crt");
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(tls).status()),
            "security.key_file");

  KafkaTransportConfig plain_with_ca = config;
  plain_with_ca.mutable_security()->set_ca_file("/etc/hostname");
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(plain_with_ca).status()),
            "security.protocol");

  KafkaTransportConfig sasl = config;
  sasl.mutable_security()->set_protocol(KafkaSecurity::PROTOCOL_SASL_SSL);
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(sasl).status()),
            "security.sasl_mechanism");
  sasl.mutable_security()->set_sasl_mechanism("SCRAM-SHA-512");
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(sasl).status()),
            "security.sasl_username");
  sasl.mutable_security()->set_sasl_username("sild");
  sasl.mutable_security()->set_sasl_password_file("/nonexistent/password");
  EXPECT_EQ(ErrorField(KafkaEgressTransport::Create(sasl).status()),
            "security.sasl_password_file");

  // Through the registry, as the gateway config names it.
  EXPECT_TRUE(CreateEgressTransport("kafka", Pack(config), "t").ok());
  google::protobuf::Any wrong;
  wrong.PackFrom(KafkaSecurity());
  status = CreateEgressTransport("kafka", wrong, "agencies[3].transport_config")
               .status();
  EXPECT_EQ(ErrorField(status), "agencies[3].transport_config") << status;
}

}  // namespace
}  // namespace sild::connectors
