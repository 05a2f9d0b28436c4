// The "amqp" transport: RabbitMQ (AMQP 0-9-1) through librabbitmq, for
// agencies whose systems exchange messages over their RabbitMQ broker.
//
//   Egress  publishes each message persistent (delivery mode 2) and
//           mandatory to `exchange` with `routing_key`, message-id = the
//           message id, type = the kind, content-type, and headers
//           Sild-Kind, Sild-Recipient, Sild-Key; kDelivered only after the
//           broker's publisher confirm. An unroutable message (returned) or
//           a nack is kRetryable with the reason; so is a missing exchange
//           (the broker closes the channel; the error names the exchange).
//   Ingress consumes `queue` with manual acks and `prefetch`. When the
//           handler's done reports
//            - OK: basic.ack;
//            - a permanent refusal (INVALID_ARGUMENT, PERMISSION_DENIED,
//              FAILED_PRECONDITION, RESOURCE_EXHAUSTED with INPUT_TOO_LARGE /
//              INPUT_TOO_DEEP): published (confirmed) to
//              `dead_letter_exchange` / `dead_letter_queue` with headers
//              Sild-Message-Id, Sild-Reason, Sild-Field, Sild-Error, then
//              acked; if that publish fails, nacked with requeue;
//            - anything else: basic.nack with requeue.
//
// Connections: librabbitmq connections are blocking and not thread-safe;
// egress guards its connection with a mutex, ingress gives its connection
// to one consumer thread and hands acks to it through a queue. A lost
// connection is reconnected (egress on the next delivery, ingress with a
// doubling backoff); health() names the broker and the last error. Before
// each publish the egress checks its connection without waiting, so one the
// broker dropped while it was idle (no heartbeats are sent between
// deliveries) or closed for a restart is replaced instead of failing the
// delivery.
//
// Thread safety: Deliver()/DeliverBatch() may be called concurrently
// (serialised on the connection). done may be called from any thread, once
// per message, before Stop() can return.
#ifndef SILD_CONNECTORS_TRANSPORTS_AMQP_AMQP_TRANSPORT_H_
#define SILD_CONNECTORS_TRANSPORTS_AMQP_AMQP_TRANSPORT_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/transport.h"
#include "sild/connectors/v1/amqp.pb.h"

namespace sild::connectors {

inline constexpr char kAmqpTransportName[] = "amqp";

// Checks `config` (fields named relative to it, e.g. "tls.ca_file"); an
// ingress config also needs queue and dead_letter_queue.
absl::Status CheckAmqpConfig(const sild::connectors::v1::AmqpTransportConfig& c,
                             bool ingress);

class AmqpEgressTransport final : public EgressTransport {
 public:
  // Fails only on an invalid config; an unreachable broker is retried.
  static absl::StatusOr<std::unique_ptr<AmqpEgressTransport>> Create(
      sild::connectors::v1::AmqpTransportConfig config);
  ~AmqpEgressTransport() override;
  std::string name() const override { return kAmqpTransportName; }
  DeliveryResult Deliver(const OutboundMessage& message) override;
  std::vector<DeliveryResult> DeliverBatch(
      const std::vector<OutboundMessage>& messages) override;
  // Publishes are acknowledged asynchronously: a batch is one round trip.
  bool pipelines() const override { return true; }
  absl::Status health() const override;

  struct State;

 private:
  explicit AmqpEgressTransport(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class AmqpIngressTransport final : public IngressTransport {
 public:
  static absl::StatusOr<std::unique_ptr<AmqpIngressTransport>> Create(
      sild::connectors::v1::AmqpTransportConfig config);
  ~AmqpIngressTransport() override;
  std::string name() const override { return kAmqpTransportName; }
  absl::Status Start(InboundHandler handler) override;
  void Stop() override;
  absl::Status health() const override;

  struct State;

 private:
  explicit AmqpIngressTransport(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
  std::thread consumer_;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_TRANSPORTS_AMQP_AMQP_TRANSPORT_H_
