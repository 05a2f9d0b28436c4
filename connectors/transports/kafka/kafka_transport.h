// The "kafka" transport on librdkafka's C API (docs/transport-kafka.md).
//
//   Egress  produces each message to `topic` with an idempotent producer
//           (enable.idempotence=true, acks=all): key = OutboundMessage.key
//           (case id or subject pseudonym, so one child's messages share a
//           partition and stay in order), headers sild-message-id, sild-kind
//           and sild-content-type. Deliver() returns once the delivery report
//           arrived; DeliverBatch() produces all, then flushes (sends at
//           once, linger.ms does not apply) until every report arrived.
//   Ingress consumes `ingress_topics` in group `group_id` with
//           enable.auto.commit=false and hands each record to the handler
//           (message_id = header sild-message-id, else "topic/partition/
//           offset"). An offset is committed only when done(OK) arrived for it
//           and every earlier offset of its partition (done may come out of
//           order, from any thread). A retryable error hands the same record
//           over again after a doubling backoff, holding back the later
//           records of that partition not yet handed over; a permanent one
//           (IsPermanentRefusal) produces the record to `dead_letter_topic`
//           with headers sild-message-id, sild-reason and sild-error, then
//           counts as done.
//
// Connection problems arrive through librdkafka's error callback: health()
// reports the last one until the broker answers again; nothing crashes and
// librdkafka reconnects with its own backoff. After a fatal producer error
// the egress makes a new producer on its next delivery.
//
// Thread safety: Deliver/DeliverBatch may be called concurrently. Ingress
// runs one polling thread that calls the handler; done may be called from
// any thread, also after Stop() (then it is ignored). Stop() returns after
// every handed-over record's done was called.
#ifndef SILD_CONNECTORS_TRANSPORTS_KAFKA_KAFKA_TRANSPORT_H_
#define SILD_CONNECTORS_TRANSPORTS_KAFKA_KAFKA_TRANSPORT_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "connectors/sdk/transport.h"
#include "sild/connectors/v1/kafka.pb.h"

namespace sild::connectors {

inline constexpr char kKafkaTransportName[] = "kafka";
inline constexpr char kKafkaMessageIdHeader[] = "sild-message-id";
inline constexpr char kKafkaKindHeader[] = "sild-kind";
inline constexpr char kKafkaContentTypeHeader[] = "sild-content-type";
inline constexpr char kKafkaReasonHeader[] = "sild-reason";
inline constexpr char kKafkaErrorHeader[] = "sild-error";

// Checks `config` for one direction (errors name the field, relative to the
// transport config) and reads its credential files.
absl::Status CheckKafkaConfig(
    const sild::connectors::v1::KafkaTransportConfig& config, bool ingress);

class KafkaProducer;

class KafkaEgressTransport final : public EgressTransport {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaEgressTransport>> Create(
      const sild::connectors::v1::KafkaTransportConfig& config);
  ~KafkaEgressTransport() override;
  std::string name() const override { return kKafkaTransportName; }
  DeliveryResult Deliver(const OutboundMessage& message) override;
  std::vector<DeliveryResult> DeliverBatch(
      const std::vector<OutboundMessage>& messages) override;
  // Publishes are acknowledged asynchronously: a batch is one round trip.
  bool pipelines() const override { return true; }
  absl::Status health() const override;

  // Makes the current producer fail fatally, as librdkafka does when an
  // idempotent producer cannot go on.
  void RaiseFatalErrorForTesting();

 private:
  KafkaEgressTransport() = default;
  // The producer to use: after a fatal error (an idempotent producer
  // cannot go on after one, e.g. when its sequence numbers are lost) a new
  // one replaces it; the failed batches come back retryable.
  std::shared_ptr<KafkaProducer> Producer();

  sild::connectors::v1::KafkaTransportConfig config_;
  mutable absl::Mutex mu_;
  std::shared_ptr<KafkaProducer> producer_ ABSL_GUARDED_BY(mu_);
};

class KafkaIngressTransport final : public IngressTransport {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaIngressTransport>> Create(
      const sild::connectors::v1::KafkaTransportConfig& config);
  ~KafkaIngressTransport() override;
  std::string name() const override { return kKafkaTransportName; }
  absl::Status Start(InboundHandler handler) override;
  void Stop() override;
  absl::Status health() const override;

  struct State;

 private:
  KafkaIngressTransport() = default;
  std::shared_ptr<State> state_;
  std::thread poller_;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_TRANSPORTS_KAFKA_KAFKA_TRANSPORT_H_
