// Transports move native bytes between sild and an agency's system: egress
// delivers a message to the agency, ingress receives the agency's messages
// and hands them to the gateway's pipeline.
//
// Contract for implementations:
//  - Egress: Deliver() is called by the gateway's delivery workers, possibly
//    from several threads at once, and reports kDelivered only when the far
//    side has durably accepted the bytes (a broker's publish acknowledgement,
//    an fsynced file). kRetryable errors are retried with backoff, kPermanent
//    ones go to the dead-letter state. Deliveries may repeat after a crash:
//    the message id travels with the bytes so recipients drop duplicates.
//  - Ingress: Start() begins consuming and calls the handler once per native
//    message; the transport acknowledges the message to its source only when
//    the handler's `done` reports OK (the gateway committed it durably).
//    A non-OK `done` with a permanent error (INVALID_ARGUMENT, PERMISSION_
//    DENIED) goes to the source's dead-letter or reply destination with the
//    reason; other errors are redelivered later. Stop() returns after
//    in-flight handlers finished.
//  - Connection loss is retried with backoff and reported through health(),
//    never a crash.
#ifndef SILD_CONNECTORS_SDK_TRANSPORT_H_
#define SILD_CONNECTORS_SDK_TRANSPORT_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sild::connectors {

// One message to deliver.
struct OutboundMessage {
  std::string message_id;
  // "REFERRAL", "TRANSITION", ... (sild.v1.MessageKind without prefix).
  std::string kind;
  std::string content_type;
  std::string bytes;
  // Ordering key: the case id or subject pseudonym, so one child's messages
  // stay in order where the transport supports partitions.
  std::string key;
  // Registry code of the receiving agency.
  std::string recipient;
};

struct DeliveryResult {
  enum Outcome { kDelivered, kRetryable, kPermanent };
  Outcome outcome = kDelivered;
  std::string error;

  static DeliveryResult Delivered() { return {}; }
  static DeliveryResult Retryable(std::string e) {
    return {kRetryable, std::move(e)};
  }
  static DeliveryResult Permanent(std::string e) {
    return {kPermanent, std::move(e)};
  }
};

class EgressTransport {
 public:
  virtual ~EgressTransport() = default;
  virtual std::string name() const = 0;
  virtual DeliveryResult Deliver(const OutboundMessage& message) = 0;
  // Delivers several messages, one result per message in the same order.
  // Transports with asynchronous acknowledgements (broker publish acks)
  // override it to keep many publishes in flight; the default delivers one
  // by one.
  virtual std::vector<DeliveryResult> DeliverBatch(
      const std::vector<OutboundMessage>& messages) {
    std::vector<DeliveryResult> results;
    results.reserve(messages.size());
    for (const OutboundMessage& m : messages) results.push_back(Deliver(m));
    return results;
  }
  // True when DeliverBatch keeps several messages in flight at once (a
  // broker with asynchronous acknowledgements): the gateway's workers then
  // hand it a recipient's rows together and grow their claims. False: they
  // deliver one by one, so a stop waits for one delivery only.
  virtual bool pipelines() const { return false; }
  // OK when connected (or connectable); the last connection error otherwise.
  virtual absl::Status health() const { return absl::OkStatus(); }
};

// One received native message.
struct InboundMessage {
  std::string bytes;
  std::string content_type;
  // The source's own id (Nats-Msg-Id, AMQP message-id, Kafka header), if any.
  std::string message_id;
  std::map<std::string, std::string> headers;
};

using InboundHandler = std::function<void(
    const InboundMessage& message, std::function<void(absl::Status)> done)>;

class IngressTransport {
 public:
  virtual ~IngressTransport() = default;
  virtual std::string name() const = 0;
  virtual absl::Status Start(InboundHandler handler) = 0;
  virtual void Stop() = 0;
  virtual absl::Status health() const { return absl::OkStatus(); }
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_SDK_TRANSPORT_H_
