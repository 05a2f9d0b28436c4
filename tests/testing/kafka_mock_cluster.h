// A Kafka cluster for tests: librdkafka's built-in mock cluster
// (rd_kafka_mock_cluster_new), since Debian 12 packages no Kafka broker. The
// mock brokers listen on loopback ports of their own and speak the Kafka
// protocol (produce with idempotence, fetch, consumer groups, offset
// commits), so the transports under test connect to them like to a real
// cluster through bootstrap_servers().
//
//   auto cluster = KafkaMockCluster::Create(/*brokers=*/3);  // or fails
//   ASSERT_TRUE((*cluster)->CreateTopic("school.out", 4).ok());
//   config.set_bootstrap_servers((*cluster)->bootstrap_servers());
//   (*cluster)->SetBrokerDown(-1);  // every broker refuses connections
//   (*cluster)->SetBrokerUp(-1);
//   (*cluster)->PushRequestErrors(kProduceApiKey,
//                                 {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION});
//   std::vector<KafkaRecord> records = (*cluster)->ReadAll("school.out");
//
// The mock cluster needs an rd_kafka_t handle for its book keeping; the
// cluster owns a dummy producer for that, used for nothing else.
//
// Thread safety: the fault-injection calls and ReadAll may be called from
// any thread (librdkafka serialises them on the cluster's own thread).
#ifndef SILD_TESTS_TESTING_KAFKA_MOCK_CLUSTER_H_
#define SILD_TESTS_TESTING_KAFKA_MOCK_CLUSTER_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sild::testing {

// Kafka protocol request types, for PushRequestErrors.
inline constexpr int16_t kKafkaProduceApiKey = 0;
inline constexpr int16_t kKafkaFetchApiKey = 1;
inline constexpr int16_t kKafkaOffsetCommitApiKey = 8;

// One record as the cluster stores it.
struct KafkaRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  // Last value per name.
  std::map<std::string, std::string> headers;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class KafkaMockCluster {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaMockCluster>> Create(
      int brokers = 1);
  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // "127.0.0.1:port,..." of every mock broker.
  const std::string& bootstrap_servers() const { return bootstrap_; }
  int brokers() const { return brokers_; }
  rd_kafka_mock_cluster_t* mock() const { return mock_; }

  // Creates `topic` with `partitions` partitions, replicated on up to three
  // brokers.
  absl::Status CreateTopic(const std::string& topic, int partitions);

  // Disconnects broker `broker_id` (1..brokers(), -1: every broker) and
  // refuses new connections until SetBrokerUp.
  absl::Status SetBrokerDown(int32_t broker_id);
  absl::Status SetBrokerUp(int32_t broker_id);

  // The next errors.size() requests of type `api_key` fail with these
  // errors in turn (RD_KAFKA_RESP_ERR__TRANSPORT disconnects the client).
  void PushRequestErrors(int16_t api_key,
                         const std::vector<rd_kafka_resp_err_t>& errors);
  void ClearRequestErrors(int16_t api_key);

  // Turns Nagle's algorithm off on every connection the mock brokers have
  // accepted so far (they leave it on, unlike real brokers, so a response
  // following another on one connection can wait for the client's delayed
  // ACK, 40 ms on Linux). For benchmarks: call it once the clients under
  // test are connected. Returns how many connections it changed.
  int DisableNagleOnAcceptedConnections() const;

  // Every record of `topic` (all partitions, by partition then offset),
  // read by a fresh consumer outside any group; waits at most `timeout` for
  // the cluster to answer.
  absl::StatusOr<std::vector<KafkaRecord>> ReadAll(
      const std::string& topic,
      absl::Duration timeout = absl::Seconds(10)) const;

 private:
  KafkaMockCluster() = default;

  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 0;
};

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_KAFKA_MOCK_CLUSTER_H_
