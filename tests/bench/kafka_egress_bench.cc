// Egress throughput to Kafka (docs/benchmarks.md): the "kafka" egress
// transport's DeliverBatch against a plain rd_kafka_producev loop with the
// same client library (librdkafka), the same producer settings
// (enable.idempotence=true, acks=all, linger.ms, message.timeout.ms,
// socket.nagle.disable), the
// same key and headers, in the same run, against librdkafka's mock cluster
// (Debian 12 packages no Kafka broker).
//
//   kafka_egress_bench [--messages N] [--batch B] [--rounds R]
//                      [--brokers K] [--partitions P] [--strict]
//                      [--mock-nagle]
//
// Each round produces N messages (a social-json referral of about 1.3 KiB)
// with the plain loop and through the transport, each into a fresh topic of
// P partitions; odd rounds run the plain loop first, even rounds the
// transport first, so neither always gets the warmer machine. For
// reference each round also runs the plain loop flushed after every B
// messages (what any call that returns once its batch is acknowledged can
// at best do); the ratio and the target are against the unbatched loop. A
// message counts only once its delivery report is OK (acks=all). Both connect
// first (64 untimed probe messages: every broker, metadata, producer id); then,
// unless --mock-nagle, Nagle is turned off on the mock brokers' side of the
// connections, as real brokers have it (TCP_NODELAY): the mock leaves it
// on, and a response that follows another on one connection then waits
// for the client's delayed ACK (40 ms), which dominates and scatters both
// loops' figures. Prints each round,
// the medians and their ratio. Exit status: 0 when every message was
// acknowledged; 1 when any was not (or, with --strict, when the transport is
// under 20,000 msg/s or under 70% of the plain loop); 2: bad usage.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "connectors/transports/kafka/kafka_transport.h"
#include "tests/testing/kafka_mock_cluster.h"

namespace sild {
namespace {

using sild::connectors::KafkaEgressTransport;
using sild::connectors::OutboundMessage;
using sild::connectors::v1::KafkaTransportConfig;

struct Options {
  int messages = 50000;
  int batch = 256;
  int rounds = 5;
  // One partition per broker (see KafkaMockCluster::CreateTopic).
  int brokers = 4;
  int partitions = 4;
  bool strict = false;
  // Leave the mock brokers' Nagle on (see
  // KafkaMockCluster::DisableNagleOnAcceptedConnections).
  bool mock_nagle = false;
};

bool ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next_int = [&](int* out) {
      return i + 1 < argc && absl::SimpleAtoi(argv[++i], out) && *out > 0;
    };
    if (arg == "--messages") {
      if (!next_int(&options->messages)) return false;
    } else if (arg == "--batch") {
      if (!next_int(&options->batch)) return false;
    } else if (arg == "--rounds") {
      if (!next_int(&options->rounds)) return false;
    } else if (arg == "--brokers") {
      if (!next_int(&options->brokers)) return false;
    } else if (arg == "--partitions") {
      if (!next_int(&options->partitions)) return false;
    } else if (arg == "--strict") {
      options->strict = true;
    } else if (arg == "--mock-nagle") {
      options->mock_nagle = true;
    } else {
      return false;
    }
  }
  return true;
}

// What the gateway hands the transport for the social services: their
// social-json encoding of a minimised referral (as nats_egress_bench).
std::string Payload() {
  std::string json =
      R"({"type":"referral","messageId":"0190c5a8-6f2e-7c1a-9e4b-1f2d3c4b5a71",)"
      R"("idempotencyKey":"star-2024-000123","caseId":"STAR-KIILI-2024-0042",)"
      R"("purpose":"SUPPORT_SERVICE","child":{"personalCode":"51205280105",)"
      R"("givenName":"Mari","familyName":"Tamm","birthDate":"2012-05-28"},)"
      R"("service":"PSYCHOLOGIST","urgency":"URGENT","summary":")";
  json += std::string(900, 'x');
  json +=
      R"(","performer":{"registryCode":"75001023","name":"Raasiku Municipal )"
      R"(Social Services"},"municipality":"Raasiku vald"})";
  return json;
}

// The transport's config with its defaults (linger.ms 5, message.timeout.ms
// 30000, socket.nagle.disable); the plain loop sets the same.
KafkaTransportConfig Config(const std::string& bootstrap,
                            const std::string& topic) {
  KafkaTransportConfig config;
  config.set_bootstrap_servers(bootstrap);
  config.set_topic(topic);
  return config;
}

std::vector<OutboundMessage> Messages(const std::string& prefix, int count) {
  std::vector<OutboundMessage> messages(count);
  const std::string payload = Payload();
  for (int i = 0; i < count; ++i) {
    OutboundMessage& m = messages[i];
    m.message_id = absl::StrFormat("%s-%08d", prefix, i);
    m.kind = "REFERRAL";
    m.content_type = "application/json";
    m.bytes = payload;
    m.key = absl::StrFormat("pseudonym-%04d", i % 1000);
    m.recipient = "75001023";
  }
  return messages;
}

struct PlainReports {
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> failed{0};
};

// The plain loop: one producer with the transport's settings, every message
// produced with the same key and headers (waiting in rd_kafka_poll when the
// local queue is full), then one flush until every report arrived; with
// `flush_every` > 0 a flush after every so many messages as well (the
// floor of any API that returns once a batch is acknowledged). Returns
// messages per second, or -1 when any was not acknowledged.
double PlainLoop(const std::string& bootstrap, const std::string& topic,
                 const std::vector<OutboundMessage>& probes,
                 const std::vector<OutboundMessage>& messages, int flush_every,
                 const std::function<void()>& connected) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", bootstrap.c_str()},
      {"client.id", "sild"},
      {"security.protocol", "plaintext"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", "30000"},
      {"linger.ms", "5"},
      {"socket.nagle.disable", "true"},
  };
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key, value, error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      std::cerr << key << ": " << error << "\n";
      rd_kafka_conf_destroy(conf);
      return -1;
    }
  }
  PlainReports reports;
  rd_kafka_conf_set_opaque(conf, &reports);
  rd_kafka_conf_set_dr_msg_cb(
      conf, [](rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
        auto* r = static_cast<PlainReports*>(opaque);
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          r->acked.fetch_add(1, std::memory_order_relaxed);
        } else {
          r->failed.fetch_add(1, std::memory_order_relaxed);
        }
      });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (rk == nullptr) {
    std::cerr << "plain producer: " << error << "\n";
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  auto produce = [&](const OutboundMessage& m) {
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(m.bytes.data()), m.bytes.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADER(connectors::kKafkaMessageIdHeader,
                            m.message_id.data(),
                            static_cast<ssize_t>(m.message_id.size())),
          RD_KAFKA_V_HEADER(connectors::kKafkaKindHeader, m.kind.data(),
                            static_cast<ssize_t>(m.kind.size())),
          RD_KAFKA_V_HEADER(connectors::kKafkaContentTypeHeader,
                            m.content_type.data(),
                            static_cast<ssize_t>(m.content_type.size())),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        reports.failed.fetch_add(1);
        break;
      }
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  };
  // Untimed: connections, metadata and the producer id.
  for (const OutboundMessage& m : probes) produce(m);
  if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      reports.acked.load() != static_cast<int64_t>(probes.size())) {
    std::cerr << "plain loop: probes not acknowledged\n";
    rd_kafka_destroy(rk);
    return -1;
  }
  connected();
  reports.acked = 0;
  absl::Time start = absl::Now();
  rd_kafka_resp_err_t flushed = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (size_t i = 0; i < messages.size(); ++i) {
    produce(messages[i]);
    if (flush_every > 0 && (i + 1) % flush_every == 0 &&
        flushed == RD_KAFKA_RESP_ERR_NO_ERROR) {
      flushed = rd_kafka_flush(rk, 60000);
    }
  }
  if (flushed == RD_KAFKA_RESP_ERR_NO_ERROR) {
    flushed = rd_kafka_flush(rk, 60000);
  }
  absl::Duration elapsed = absl::Now() - start;
  rd_kafka_destroy(rk);
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR || reports.failed.load() != 0 ||
      reports.acked.load() != static_cast<int64_t>(messages.size())) {
    std::cerr << "plain loop: " << reports.acked.load() << " acknowledged, "
              << reports.failed.load() << " failed ("
              << rd_kafka_err2name(flushed) << ")\n";
    return -1;
  }
  return messages.size() / absl::ToDoubleSeconds(elapsed);
}

// The transport: DeliverBatch over consecutive batches, as the delivery
// workers call it. Returns messages per second, or -1 on any failure.
double TransportLoop(const std::string& bootstrap, const std::string& topic,
                     const std::vector<OutboundMessage>& probes,
                     const std::vector<OutboundMessage>& messages, int batch,
                     const std::function<void()>& connected) {
  auto transport = KafkaEgressTransport::Create(Config(bootstrap, topic));
  if (!transport.ok()) {
    std::cerr << "transport: " << transport.status() << "\n";
    return -1;
  }
  // Untimed, as for the plain loop.
  for (const auto& result : (*transport)->DeliverBatch(probes)) {
    if (result.outcome != connectors::DeliveryResult::kDelivered) {
      std::cerr << "transport: probe: " << result.error << "\n";
      return -1;
    }
  }
  connected();
  absl::Time start = absl::Now();
  size_t delivered = 0;
  for (size_t i = 0; i < messages.size(); i += batch) {
    std::vector<OutboundMessage> chunk(
        messages.begin() + i,
        messages.begin() + std::min(messages.size(), i + batch));
    for (const auto& result : (*transport)->DeliverBatch(chunk)) {
      if (result.outcome == connectors::DeliveryResult::kDelivered) {
        ++delivered;
      } else {
        std::cerr << "transport: " << result.error << "\n";
        return -1;
      }
    }
  }
  absl::Duration elapsed = absl::Now() - start;
  if (delivered != messages.size()) return -1;
  return messages.size() / absl::ToDoubleSeconds(elapsed);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2]
                      : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int Run(const Options& options) {
  auto cluster = testing::KafkaMockCluster::Create(options.brokers);
  if (!cluster.ok()) {
    std::cerr << "kafka_egress_bench: " << cluster.status() << "\n";
    return 1;
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  std::printf(
      "kafka egress: %d messages of %zu bytes per run, batch %d, %d rounds, "
      "mock cluster of %d broker(s) at %s, %d partitions per topic\n",
      options.messages, Payload().size(), options.batch, options.rounds,
      options.brokers, bootstrap.c_str(), options.partitions);
  std::vector<double> plain_rates;
  std::vector<double> transport_rates;
  std::vector<double> batched_rates;
  for (int round = 1; round <= options.rounds; ++round) {
    const std::string plain_topic = absl::StrCat("bench.plain", round);
    const std::string sdk_topic = absl::StrCat("bench.transport", round);
    const std::string batched_topic = absl::StrCat("bench.batched", round);
    for (const std::string& topic : {plain_topic, sdk_topic, batched_topic}) {
      absl::Status created = (*cluster)->CreateTopic(topic, options.partitions);
      if (!created.ok()) {
        std::cerr << created << "\n";
        return 1;
      }
    }
    auto plain_messages = Messages(absl::StrCat("p", round), options.messages);
    auto sdk_messages = Messages(absl::StrCat("t", round), options.messages);
    auto batched_messages =
        Messages(absl::StrCat("b", round), options.messages);
    // One probe per key spreads over every partition, so every broker is
    // connected before the clock starts.
    auto plain_probes = Messages(absl::StrCat("pp", round), 64);
    auto sdk_probes = Messages(absl::StrCat("tp", round), 64);
    auto batched_probes = Messages(absl::StrCat("bp", round), 64);
    auto connected = [&] {
      if (!options.mock_nagle) (*cluster)->DisableNagleOnAcceptedConnections();
    };
    double plain_rate = 0;
    double batched_rate = 0;
    double transport_rate = 0;
    auto plain = [&] {
      plain_rate = PlainLoop(bootstrap, plain_topic, plain_probes,
                             plain_messages, /*flush_every=*/0, connected);
    };
    auto batched = [&] {
      batched_rate =
          PlainLoop(bootstrap, batched_topic, batched_probes, batched_messages,
                    /*flush_every=*/options.batch, connected);
    };
    auto sdk = [&] {
      transport_rate = TransportLoop(bootstrap, sdk_topic, sdk_probes,
                                     sdk_messages, options.batch, connected);
    };
    if (round % 2 == 1) {
      plain();
      sdk();
      batched();
    } else {
      sdk();
      plain();
      batched();
    }
    if (plain_rate < 0 || transport_rate < 0 || batched_rate < 0) return 1;
    std::printf(
        "round %d (%-9s first): plain produce loop %8.0f msg/s   transport "
        "%8.0f msg/s   ratio %5.1f%%   (plain, flushed per batch %8.0f "
        "msg/s)\n",
        round, round % 2 == 1 ? "plain" : "transport", plain_rate,
        transport_rate, 100 * transport_rate / plain_rate, batched_rate);
    std::fflush(stdout);
    plain_rates.push_back(plain_rate);
    transport_rates.push_back(transport_rate);
    batched_rates.push_back(batched_rate);
  }
  double plain = Median(plain_rates);
  double transport = Median(transport_rates);
  double ratio = transport / plain;
  std::printf(
      "median:                     plain produce loop %8.0f msg/s   transport "
      "%8.0f msg/s   ratio %5.1f%%   (plain, flushed per batch %8.0f "
      "msg/s)\n",
      plain, transport, 100 * ratio, Median(batched_rates));
  const bool met = transport >= 20000 && ratio >= 0.70;
  std::printf("target (>= 20000 msg/s and >= 70%% of plain): %s\n",
              met ? "met" : "MISSED");
  return options.strict && !met ? 1 : 0;
}

}  // namespace
}  // namespace sild

int main(int argc, char** argv) {
  sild::Options options;
  if (!sild::ParseArgs(argc, argv, &options)) {
    std::cerr << "usage: kafka_egress_bench [--messages N] [--batch B] "
                 "[--rounds R] [--brokers K] [--partitions P] [--strict] "
                 "[--mock-nagle]\n";
    return 2;
  }
  return sild::Run(options);
}
