// Delivery transports: how an outbox row reaches its recipient. Start here
// when adding a way to deliver (the connector work adds brokers through this
// same interface).
//
//   TransportRegistry transports = TransportRegistry::WithBuiltins();
//   transports.Register(std::make_unique<MyBrokerTransport>(...));
//   DeliveryTransport* t = transports.Find(row.transport);
//   DeliveryResult r = t->Deliver(row, recipient);   // on a worker thread
//
// Contract for implementations:
//  - Deliver() reports kDelivered only once the far side holds the message
//    durably (an fsynced file, a broker's publish acknowledgement). It may be
//    called again for a message it already delivered (the worker crashed
//    before recording the result): recipients drop duplicates by
//    Envelope.message_id, and a transport that can see the earlier copy
//    (the file transport) answers kDelivered without writing it twice.
//  - kRetryable: try again later with backoff (the far side is down, a
//    folder is missing); kPermanent: retrying cannot help (no target
//    configured, the far side refuses the message); the row becomes a dead
//    letter at once. `error` is stored and audited: name the cause, never
//    personal data.
//  - Deliver() is called from several worker threads at once and must be
//    thread-safe. It must not block for long: Stop() waits for it.
//  - Pull transports (the gRPC inbox) are never pushed: the recipient
//    fetches its rows; is_push() is false and workers leave their rows alone.
//
// TransportRegistry is filled before the workers start and read-only after:
// Find() is thread-safe then. It owns its transports.
#ifndef SILD_GATEWAY_EXCHANGE_TRANSPORT_H_
#define SILD_GATEWAY_EXCHANGE_TRANSPORT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/exchange/exchange_store.h"
#include "gateway/identity/agency_directory.h"

namespace sild::exchange {

struct DeliveryResult {
  enum Kind { kDelivered, kRetryable, kPermanent };
  Kind kind = kDelivered;
  std::string error;

  static DeliveryResult Delivered() { return {}; }
  static DeliveryResult Retryable(std::string error) {
    return {kRetryable, std::move(error)};
  }
  static DeliveryResult Permanent(std::string error) {
    return {kPermanent, std::move(error)};
  }
};

class DeliveryTransport {
 public:
  virtual ~DeliveryTransport() = default;
  // The name agencies select in AgencyConfig.transport.
  virtual std::string name() const = 0;
  virtual bool is_push() const { return true; }
  // True when DeliverBatch keeps several rows in flight at once (a broker
  // with asynchronous acknowledgements); workers then hand it a recipient's
  // rows together. Otherwise they deliver row by row, so Stop() waits for
  // one delivery only.
  virtual bool pipelines() const { return false; }
  // Delivers `row.envelope` (already minimised for `recipient`) to the
  // recipient's `transport_target`.
  virtual DeliveryResult Deliver(const OutboxRow& row,
                                 const Agency& recipient) = 0;
  // Several rows for one recipient, one result per row in order. Transports
  // that pipeline (broker publish acknowledgements) override it; the
  // default delivers one by one.
  virtual std::vector<DeliveryResult> DeliverBatch(
      const std::vector<const OutboxRow*>& rows, const Agency& recipient) {
    std::vector<DeliveryResult> results;
    results.reserve(rows.size());
    for (const OutboxRow* row : rows)
      results.push_back(Deliver(*row, recipient));
    return results;
  }
  // OK while the far side is reachable; the last connection error otherwise.
  virtual absl::Status Health() const { return absl::OkStatus(); }
};

class TransportRegistry {
 public:
  TransportRegistry() = default;
  TransportRegistry(TransportRegistry&&) = default;
  TransportRegistry& operator=(TransportRegistry&&) = default;

  // "file" and "grpc-inbox".
  static TransportRegistry WithBuiltins();

  // Adds or replaces the transport of that name.
  void Register(std::unique_ptr<DeliveryTransport> transport);
  // nullptr when no transport has that name.
  DeliveryTransport* Find(const std::string& name) const;
  // Removes and returns the transport of that name (nullptr if none).
  std::unique_ptr<DeliveryTransport> Release(const std::string& name);
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::unique_ptr<DeliveryTransport>> transports_;
};

// The gRPC inbox: a pull transport (InboxService serves its rows).
class GrpcInboxTransport final : public DeliveryTransport {
 public:
  std::string name() const override { return kGrpcInboxTransport; }
  bool is_push() const override { return false; }
  DeliveryResult Deliver(const OutboxRow&, const Agency&) override {
    return DeliveryResult::Permanent(
        "grpc-inbox is a pull transport: the recipient fetches its messages");
  }
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_TRANSPORT_H_
