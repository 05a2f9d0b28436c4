#include "gateway/delivery/delivery_module.h"

#include "gateway/delivery/delivery_service.h"
#include "gateway/delivery/delivery_workers.h"
#include "gateway/delivery/egress.h"
#include "gateway/delivery/inbox_service.h"
#include "gateway/delivery/transport_health.h"
#include "gateway/exchange/module_context.h"

namespace sild::delivery {

using exchange::ContextFromComponents;
using exchange::ExchangeContext;
namespace {

// Often enough for a load balancer to steer away within seconds; a probe
// only reads state the transports' callbacks keep.
constexpr absl::Duration kTransportProbeInterval = absl::Seconds(2);

class DeliveryModule final : public GatewayModule {
 public:
  std::string name() const override { return "delivery"; }

  absl::Status Init(GatewayComponents& components) override {
    config_ = components.config;
    auto context = ContextFromComponents(components, &config_, "delivery");
    if (!context.ok()) return context.status();
    context_ = *std::move(context);
    context_.on_outbox_changed = [this] { OutboxChanged(); };
    context_.on_inbox_queued = [this] { inbox_->Notify(); };

    auto endpoints = EgressEndpoints::Create(config_, components.audit_log);
    if (!endpoints.ok()) return endpoints.status();
    endpoints_ = *std::move(endpoints);
    std::vector<TransportProbe> probes = endpoints_->Probes();
    for (TransportProbe& probe : components.transport_probes) {
      probes.push_back(std::move(probe));
    }
    components.transport_probes.clear();
    transport_health_ =
        std::make_unique<TransportHealthMonitor>(std::move(probes));
    context_.transport_health = transport_health_.get();

    workers_ = std::make_unique<DeliveryWorkers>(
        &context_, endpoints_.get(),
        DeliveryWorkerOptions::FromConfig(config_.delivery()));
    InboxServiceImpl::Options inbox;
    if (config_.delivery().inbox_ack_timeout_ms() > 0) {
      inbox.default_ack_timeout =
          absl::Milliseconds(config_.delivery().inbox_ack_timeout_ms());
    }
    inbox_ = std::make_unique<InboxServiceImpl>(&context_, inbox);
    deliveries_ = std::make_unique<DeliveryServiceImpl>(&context_);
    components.on_outbox_changed = [this] { OutboxChanged(); };
    components.on_inbox_queued = [this] { inbox_->Notify(); };
    components_ = &components;
    return absl::OkStatus();
  }

  std::vector<grpc::Service*> Services() override {
    return {inbox_.get(), deliveries_.get()};
  }
  std::vector<std::string> ServiceNames() const override {
    return {"sild.v1.InboxService", "sild.v1.DeliveryService"};
  }

  void Start() override {
    inbox_->Start();
    workers_->Start();
    transport_health_->Start(components_->set_health_status,
                             kTransportProbeInterval);
  }
  // Ends inbox streams (UNAVAILABLE, "shutting down") as shutdown begins.
  void BeginShutdown() override {
    if (inbox_) inbox_->Shutdown();
  }
  void Stop() override {
    if (transport_health_) transport_health_->Stop();
    if (inbox_) inbox_->Shutdown();
    if (workers_) workers_->Stop();
  }

 private:
  void OutboxChanged() {
    workers_->Wake();
    inbox_->Notify();
  }

  config::v1::GatewayConfig config_;
  ExchangeContext context_;
  std::unique_ptr<EgressEndpoints> endpoints_;
  std::unique_ptr<DeliveryWorkers> workers_;
  std::unique_ptr<InboxServiceImpl> inbox_;
  std::unique_ptr<DeliveryServiceImpl> deliveries_;
  // Declared after what it probes, so it is destroyed (stopped) first.
  std::unique_ptr<TransportHealthMonitor> transport_health_;
  const GatewayComponents* components_ = nullptr;
};

}  // namespace

std::unique_ptr<GatewayModule> MakeDeliveryModule() {
  return std::make_unique<DeliveryModule>();
}

}  // namespace sild::delivery
