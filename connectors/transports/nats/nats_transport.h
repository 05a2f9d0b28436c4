// The "nats" transport: NATS JetStream through libnats, for agencies whose
// systems exchange messages over their NATS cluster.
//
//   Egress  publishes each message to `subject` with its message id as
//           Nats-Msg-Id (the stream drops duplicates inside its window) and
//           headers Sild-Kind, Sild-Recipient, Sild-Key and Content-Type, and
//           reports kDelivered only after the stream's publish
//           acknowledgement. DeliverBatch keeps the whole batch in flight
//           (asynchronous publishes) and waits for every acknowledgement.
//   Ingress pulls from a durable consumer (explicit acks) on `stream`
//           filtered by `subject` and hands each message to the handler
//           (message_id = Nats-Msg-Id). When the handler's done reports
//            - OK: the message is acknowledged;
//            - a permanent refusal (INVALID_ARGUMENT, PERMISSION_DENIED,
//              FAILED_PRECONDITION, or RESOURCE_EXHAUSTED with reason
//              INPUT_TOO_LARGE / INPUT_TOO_DEEP): it is published to
//              `dead_letter_subject` with headers Sild-Message-Id,
//              Sild-Reason, Sild-Field and Sild-Error, and terminated (never
//              redelivered); if that publish fails it is redelivered later;
//            - anything else: it is negatively acknowledged with a delay
//              doubling per delivery, and redelivered.
//
// Connections: a first connection failure is reported by health() and
// Deliver() (retryable) and retried; once connected, libnats reconnects by
// itself without limit. health() is OK only while connected, otherwise it
// names the servers and the last error. Nothing here crashes on a lost
// broker.
//
// Thread safety: Deliver() and DeliverBatch() may be called concurrently.
// Ingress runs one fetching thread; done may be called from any thread and
// must be called once per message before Stop() can return. Call nats_Close()
// once at process end for a leak-free exit (tests do).
#ifndef SILD_CONNECTORS_TRANSPORTS_NATS_NATS_TRANSPORT_H_
#define SILD_CONNECTORS_TRANSPORTS_NATS_NATS_TRANSPORT_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/transport.h"
#include "sild/connectors/v1/nats.pb.h"

namespace sild::connectors {

inline constexpr char kNatsTransportName[] = "nats";

// Checks `config` (fields named relative to it, e.g. "tls.ca_file"); an
// ingress config also needs dead_letter_subject.
absl::Status CheckNatsConfig(const sild::connectors::v1::NatsTransportConfig& c,
                             bool ingress);

class NatsEgressTransport final : public EgressTransport {
 public:
  // Fails only on an invalid config; an unreachable broker is retried.
  static absl::StatusOr<std::unique_ptr<NatsEgressTransport>> Create(
      sild::connectors::v1::NatsTransportConfig config);
  ~NatsEgressTransport() override;
  std::string name() const override { return kNatsTransportName; }
  DeliveryResult Deliver(const OutboundMessage& message) override;
  std::vector<DeliveryResult> DeliverBatch(
      const std::vector<OutboundMessage>& messages) override;
  // Publishes are acknowledged asynchronously: a batch is one round trip.
  bool pipelines() const override { return true; }
  absl::Status health() const override;

  struct State;

 private:
  explicit NatsEgressTransport(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class NatsIngressTransport final : public IngressTransport {
 public:
  static absl::StatusOr<std::unique_ptr<NatsIngressTransport>> Create(
      sild::connectors::v1::NatsTransportConfig config);
  ~NatsIngressTransport() override;
  std::string name() const override { return kNatsTransportName; }
  absl::Status Start(InboundHandler handler) override;
  void Stop() override;
  absl::Status health() const override;

  struct State;

 private:
  explicit NatsIngressTransport(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
  std::thread fetcher_;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_TRANSPORTS_NATS_NATS_TRANSPORT_H_
