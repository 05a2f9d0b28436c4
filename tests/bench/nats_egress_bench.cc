// Egress throughput to NATS JetStream (docs/benchmarks.md): the "nats"
// egress transport's DeliverBatch against a plain asynchronous publish loop
// with the same client library (libnats), the same headers and the same
// stream settings, in the same run, against one throwaway nats-server.
//
//   nats_egress_bench [--messages N] [--batch B] [--rounds R] [--strict]
//
// Each round publishes N messages (a social-json referral of about 1.3 KiB)
// with the plain loop and then through the transport, each into a fresh
// file-backed stream, and counts a message only once the stream
// acknowledged it. Prints each round, the medians and their ratio.
// Exit status: 0 when every message was acknowledged; 1 when any was not
// (or, with --strict, when the transport is under 20,000 msg/s or under 70%
// of the plain loop); 2: bad usage.
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "connectors/transports/nats/nats_transport.h"
#include "tests/testing/nats_server.h"

namespace sild {
namespace {

using sild::connectors::NatsEgressTransport;
using sild::connectors::OutboundMessage;
using sild::connectors::v1::NatsTransportConfig;

struct Options {
  int messages = 50000;
  int batch = 256;
  int rounds = 3;
  bool strict = false;
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
    } else if (arg == "--strict") {
      options->strict = true;
    } else {
      return false;
    }
  }
  return true;
}

// What the gateway hands the transport for the social services: their
// social-json encoding of a minimised referral.
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

NatsTransportConfig Config(const std::string& url, const std::string& name) {
  NatsTransportConfig config;
  config.add_servers(url);
  config.set_stream(absl::StrCat("BENCH_", name));
  config.set_subject(absl::StrCat("bench.", name));
  config.set_publish_timeout_ms(30000);
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

// A stream made by the transport itself, so the plain loop publishes into
// exactly the stream settings the transport uses.
bool MakeStream(const NatsTransportConfig& config) {
  auto transport = NatsEgressTransport::Create(config);
  if (!transport.ok()) {
    std::cerr << transport.status() << "\n";
    return false;
  }
  OutboundMessage probe = Messages("probe-" + config.stream(), 1)[0];
  auto result = (*transport)->Deliver(probe);
  if (result.outcome != connectors::DeliveryResult::kDelivered) {
    std::cerr << "cannot create stream " << config.stream() << ": "
              << result.error << "\n";
    return false;
  }
  return true;
}

struct PlainAcks {
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> failed{0};
};

void OnPlainAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr*,
                void* closure) {
  auto* acks = static_cast<PlainAcks*>(closure);
  if (ack != nullptr) {
    acks->acked.fetch_add(1, std::memory_order_relaxed);
  } else {
    acks->failed.fetch_add(1, std::memory_order_relaxed);
  }
  natsMsg_Destroy(msg);
}

// The plain loop: every message published asynchronously with the same
// headers and in-flight limit, then one wait for all acknowledgements.
// Returns messages per second, or -1 when any was not acknowledged.
double PlainLoop(const NatsTransportConfig& config,
                 const std::vector<OutboundMessage>& messages) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, config.servers(0).c_str()) != NATS_OK) {
    return -1;
  }
  PlainAcks acks;
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = 30000;
  js_options.PublishAsync.MaxPending = 8192;  // the transport's default
  js_options.PublishAsync.AckHandler = &OnPlainAck;
  js_options.PublishAsync.AckHandlerClosure = &acks;
  js_options.PublishAsync.StallWait = 30000;
  jsCtx* js = nullptr;
  natsConnection_JetStream(&js, nc, &js_options);
  absl::Time start = absl::Now();
  for (const OutboundMessage& m : messages) {
    natsMsg* msg = nullptr;
    natsMsg_Create(&msg, config.subject().c_str(), nullptr, m.bytes.data(),
                   static_cast<int>(m.bytes.size()));
    natsMsgHeader_Set(msg, "Nats-Msg-Id", m.message_id.c_str());
    natsMsgHeader_Set(msg, "Sild-Kind", m.kind.c_str());
    natsMsgHeader_Set(msg, "Content-Type", m.content_type.c_str());
    natsMsgHeader_Set(msg, "Sild-Recipient", m.recipient.c_str());
    natsMsgHeader_Set(msg, "Sild-Key", m.key.c_str());
    if (js_PublishMsgAsync(js, &msg, nullptr) != NATS_OK) {
      natsMsg_Destroy(msg);
      acks.failed.fetch_add(1);
    }
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 60000;
  natsStatus s = js_PublishAsyncComplete(js, &wait);
  absl::Duration elapsed = absl::Now() - start;
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  if (s != NATS_OK || acks.failed.load() != 0 ||
      acks.acked.load() != static_cast<int64_t>(messages.size())) {
    std::cerr << "plain loop: " << acks.acked.load() << " acknowledged, "
              << acks.failed.load() << " failed (" << natsStatus_GetText(s)
              << ")\n";
    return -1;
  }
  return messages.size() / absl::ToDoubleSeconds(elapsed);
}

// The transport: DeliverBatch over consecutive batches, as the delivery
// workers call it. Returns messages per second, or -1 on any failure.
double TransportLoop(const NatsTransportConfig& config,
                     const std::vector<OutboundMessage>& messages, int batch) {
  auto transport = NatsEgressTransport::Create(config);
  if (!transport.ok()) return -1;
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
  auto server = testing::NatsTestServer::Shared();
  if (!server.ok()) {
    std::cerr << "nats_egress_bench: " << server.status() << "\n";
    return 1;
  }
  const std::string url = (*server)->url();
  std::printf(
      "nats egress: %d messages of %zu bytes per run, batch %d, "
      "%d rounds, nats-server at %s\n",
      options.messages, Payload().size(), options.batch, options.rounds,
      url.c_str());
  std::vector<double> plain_rates;
  std::vector<double> transport_rates;
  for (int round = 1; round <= options.rounds; ++round) {
    NatsTransportConfig plain = Config(url, absl::StrCat("plain", round));
    NatsTransportConfig sdk = Config(url, absl::StrCat("transport", round));
    if (!MakeStream(plain) || !MakeStream(sdk)) return 1;
    double plain_rate =
        PlainLoop(plain, Messages(absl::StrCat("p", round), options.messages));
    double transport_rate =
        TransportLoop(sdk, Messages(absl::StrCat("t", round), options.messages),
                      options.batch);
    if (plain_rate < 0 || transport_rate < 0) return 1;
    std::printf(
        "round %d: plain publish loop %10.0f msg/s   transport "
        "%10.0f msg/s   ratio %5.1f%%\n",
        round, plain_rate, transport_rate, 100 * transport_rate / plain_rate);
    plain_rates.push_back(plain_rate);
    transport_rates.push_back(transport_rate);
  }
  double plain = Median(plain_rates);
  double transport = Median(transport_rates);
  double ratio = transport / plain;
  std::printf(
      "median:  plain publish loop %10.0f msg/s   transport "
      "%10.0f msg/s   ratio %5.1f%%\n",
      plain, transport, 100 * ratio);
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
    std::cerr << "usage: nats_egress_bench [--messages N] [--batch B] "
                 "[--rounds R] [--strict]\n";
    return 2;
  }
  int rc = sild::Run(options);
  sild::testing::NatsTestServer::StopShared();
  nats_Close();
  return rc;
}
