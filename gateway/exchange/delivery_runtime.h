// Delivery as the exchange module runs it: the transports, the delivery
// workers, the gRPC inbox, the operators' DeliveryService and the deadline
// scanner, configured from config.delivery and config.deadlines.
//
//   DeliveryRuntime delivery(&context);       // in Module::Init
//   services += delivery.Services();          // Module::Services
//   delivery.Start();  ...  delivery.Stop();  // Module::Start / Stop
//   delivery.OutboxChanged();                 // after commits that queued rows
//   delivery.InboxQueued();                   // ... only gRPC inbox rows
//
// Stop() ends inbox streams, stops the scanner and lets the workers finish
// in-flight deliveries; call it before the store closes. Thread-safe after
// construction.
#ifndef SILD_GATEWAY_EXCHANGE_DELIVERY_RUNTIME_H_
#define SILD_GATEWAY_EXCHANGE_DELIVERY_RUNTIME_H_

#include <memory>
#include <string>
#include <vector>

#include "gateway/exchange/deadline_scanner.h"
#include "gateway/exchange/delivery_service.h"
#include "gateway/exchange/delivery_workers.h"
#include "gateway/exchange/inbox_service.h"
#include "gateway/exchange/transport.h"
#include "grpcpp/impl/service_type.h"

namespace sild::exchange {

class DeliveryRuntime {
 public:
  // Borrows `context` (config, store, audit log, decisions), which must
  // outlive the runtime.
  explicit DeliveryRuntime(const ExchangeContext* context);
  ~DeliveryRuntime();

  std::vector<grpc::Service*> Services();
  static std::vector<std::string> ServiceNames();

  void Start();
  // Ends inbox streams (UNAVAILABLE, "shutting down") as shutdown begins.
  void EndStreams();
  void Stop();
  void OutboxChanged();
  // Only gRPC inbox rows were queued: streams look again, workers sleep on.
  void InboxQueued();

  // Connectors register further push transports here before Start().
  TransportRegistry& transports() { return transports_; }

 private:
  TransportRegistry transports_;
  std::unique_ptr<DeliveryWorkers> workers_;
  std::unique_ptr<InboxServiceImpl> inbox_;
  std::unique_ptr<DeliveryServiceImpl> deliveries_;
  std::unique_ptr<DeadlineScanner> scanner_;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_DELIVERY_RUNTIME_H_
