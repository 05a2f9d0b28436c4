#include "gateway/exchange/delivery_runtime.h"

namespace sild::exchange {

DeliveryRuntime::DeliveryRuntime(const ExchangeContext* context)
    : transports_(TransportRegistry::WithBuiltins()) {
  const config::v1::GatewayConfig& config = *context->config;
  workers_ = std::make_unique<DeliveryWorkers>(
      context, &transports_,
      DeliveryWorkerOptions::FromConfig(config.delivery()));
  InboxServiceImpl::Options inbox;
  if (config.delivery().inbox_ack_timeout_ms() > 0) {
    inbox.default_ack_timeout =
        absl::Milliseconds(config.delivery().inbox_ack_timeout_ms());
  }
  inbox_ = std::make_unique<InboxServiceImpl>(context, inbox);
  deliveries_ = std::make_unique<DeliveryServiceImpl>(context);
  absl::Duration scan =
      absl::Milliseconds(config.deadlines().scan_interval_ms() > 0
                             ? config.deadlines().scan_interval_ms()
                             : 60000);
  scanner_ = std::make_unique<DeadlineScanner>(context, scan);
}

DeliveryRuntime::~DeliveryRuntime() { Stop(); }

std::vector<grpc::Service*> DeliveryRuntime::Services() {
  return {inbox_.get(), deliveries_.get()};
}

std::vector<std::string> DeliveryRuntime::ServiceNames() {
  return {"sild.v1.InboxService", "sild.v1.DeliveryService"};
}

void DeliveryRuntime::Start() {
  inbox_->Start();
  workers_->Start();
  scanner_->Start();
}

void DeliveryRuntime::EndStreams() { inbox_->Shutdown(); }

void DeliveryRuntime::Stop() {
  scanner_->Stop();
  inbox_->Shutdown();
  workers_->Stop();
}

void DeliveryRuntime::OutboxChanged() {
  workers_->Wake();
  inbox_->Notify();
}

void DeliveryRuntime::InboxQueued() { inbox_->Notify(); }

}  // namespace sild::exchange
