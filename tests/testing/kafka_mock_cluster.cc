#include "tests/testing/kafka_mock_cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace sild::testing {
namespace {

absl::Status KafkaError(const std::string& what, rd_kafka_resp_err_t err) {
  return absl::InternalError(absl::StrCat(what, ": ", rd_kafka_err2name(err),
                                          ": ", rd_kafka_err2str(err)));
}

int TimeoutMs(absl::Time deadline) {
  return static_cast<int>(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::Create(
    int brokers) {
  std::unique_ptr<KafkaMockCluster> cluster(new KafkaMockCluster());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  // The dummy handle never connects anywhere: no bootstrap servers.
  rd_kafka_conf_set(conf, "client.id", "sild-kafka-mock", error, sizeof(error));
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
  cluster->handle_ =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (cluster->handle_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("kafka mock handle: ", error));
  }
  cluster->mock_ = rd_kafka_mock_cluster_new(cluster->handle_, brokers);
  if (cluster->mock_ == nullptr) {
    return absl::InternalError("rd_kafka_mock_cluster_new failed");
  }
  cluster->brokers_ = brokers;
  cluster->bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster->mock_);
  return cluster;
}

KafkaMockCluster::~KafkaMockCluster() {
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

absl::Status KafkaMockCluster::CreateTopic(const std::string& topic,
                                           int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
      mock_, topic.c_str(), partitions, std::min(brokers_, 3));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(absl::StrCat("create topic ", topic), err);
  }
  // Leaders round robin over the brokers. The mock brokers' sockets keep
  // Nagle on: two responses in a row on one connection (one per partition
  // led by the same broker) wait for the client's delayed ACK, 40 ms on
  // Linux, which real brokers (TCP_NODELAY) never cost.
  for (int p = 0; p < partitions; ++p) {
    err = rd_kafka_mock_partition_set_leader(mock_, topic.c_str(), p,
                                             p % brokers_ + 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(absl::StrCat("leader of ", topic, "/", p), err);
    }
  }
  return absl::OkStatus();
}

absl::Status KafkaMockCluster::SetBrokerDown(int32_t broker_id) {
  for (int32_t id = 1; id <= brokers_; ++id) {
    if (broker_id != -1 && id != broker_id) continue;
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(mock_, id);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(absl::StrCat("broker ", id, " down"), err);
    }
  }
  return absl::OkStatus();
}

absl::Status KafkaMockCluster::SetBrokerUp(int32_t broker_id) {
  for (int32_t id = 1; id <= brokers_; ++id) {
    if (broker_id != -1 && id != broker_id) continue;
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(mock_, id);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(absl::StrCat("broker ", id, " up"), err);
    }
  }
  return absl::OkStatus();
}

void KafkaMockCluster::PushRequestErrors(
    int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors) {
  std::vector<rd_kafka_resp_err_t> copy = errors;
  rd_kafka_mock_push_request_errors_array(mock_, api_key, copy.size(),
                                          copy.data());
}

void KafkaMockCluster::ClearRequestErrors(int16_t api_key) {
  rd_kafka_mock_clear_request_errors(mock_, api_key);
}

int KafkaMockCluster::DisableNagleOnAcceptedConnections() const {
  std::set<int> ports;
  for (absl::string_view server : absl::StrSplit(bootstrap_, ',')) {
    int port = 0;
    size_t colon = server.rfind(':');
    if (colon != absl::string_view::npos &&
        absl::SimpleAtoi(server.substr(colon + 1), &port)) {
      ports.insert(port);
    }
  }
  int changed = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (dirent* entry = readdir(dir)) {
    int fd = 0;
    if (!absl::SimpleAtoi(entry->d_name, &fd)) continue;
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    // A broker's side of a connection: local address on a broker's port.
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        addr.sin_family != AF_INET || ports.count(ntohs(addr.sin_port)) == 0) {
      continue;
    }
    int listening = 0;
    socklen_t size = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 ||
        listening) {
      continue;
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0) {
      ++changed;
    }
  }
  closedir(dir);
  return changed;
}

absl::StatusOr<std::vector<KafkaRecord>> KafkaMockCluster::ReadAll(
    const std::string& topic, absl::Duration timeout) const {
  static std::atomic<int> readers{0};
  const absl::Time deadline = absl::Now() + timeout;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  std::string group = absl::StrCat("sild-test-reader-", ++readers);
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", bootstrap_},
      {"group.id", group},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "false"},
      {"log_level", "3"},
  };
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key, value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InternalError(absl::StrCat(key, ": ", error));
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("kafka reader: ", error));
  }
  std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> owner(
      rk, [](rd_kafka_t* handle) {
        rd_kafka_consumer_close(handle);
        rd_kafka_destroy(handle);
      });

  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 0, rkt, &metadata, TimeoutMs(deadline));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(absl::StrCat("metadata of ", topic), err);
  }
  int partitions = 0;
  if (metadata->topic_cnt == 1 &&
      metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    partitions = metadata->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(metadata);
  if (partitions == 0) {
    return absl::NotFoundError(absl::StrCat("no topic ", topic));
  }

  // What each partition holds now, then read up to there.
  std::map<int32_t, int64_t> remaining;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high,
                                           TimeoutMs(deadline));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(list);
      return KafkaError(absl::StrCat("watermarks of ", topic, "/", p), err);
    }
    if (high > low) {
      remaining[p] = high;
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = low;
    }
  }
  std::vector<KafkaRecord> records;
  if (remaining.empty()) {
    rd_kafka_topic_partition_list_destroy(list);
    return records;
  }
  err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("assign", err);
  while (!remaining.empty()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("reading ", topic, ": ", remaining.size(),
                       " partitions not read to their end"));
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(rk, 100);
    if (message == nullptr) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_message_destroy(message);
      continue;
    }
    KafkaRecord record;
    record.topic = topic;
    record.partition = message->partition;
    record.offset = message->offset;
    if (message->key != nullptr) {
      record.key.assign(static_cast<const char*>(message->key),
                        message->key_len);
    }
    if (message->payload != nullptr) {
      record.value.assign(static_cast<const char*>(message->payload),
                          message->len);
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message, &headers) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
           RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        record.headers[name] =
            value == nullptr
                ? std::string()
                : std::string(static_cast<const char*>(value), size);
      }
    }
    rd_kafka_message_destroy(message);
    auto it = remaining.find(record.partition);
    if (it == remaining.end() || record.offset >= it->second) continue;
    if (record.offset + 1 >= it->second) remaining.erase(it);
    records.push_back(std::move(record));
  }
  std::sort(records.begin(), records.end(),
            [](const KafkaRecord& a, const KafkaRecord& b) {
              return std::tie(a.partition, a.offset) <
                     std::tie(b.partition, b.offset);
            });
  return records;
}

}  // namespace sild::testing
