#include "gateway/exchange/exchange_module.h"

#include "gateway/common/errors.h"
#include "gateway/common/log.h"
#include "gateway/exchange/connector_egress.h"
#include "gateway/exchange/delivery_runtime.h"
#include "gateway/exchange/dispatch.h"
#include "gateway/exchange/exchange_store.h"
#include "gateway/exchange/ingress.h"
#include "gateway/exchange/referral_service.h"
#include "gateway/exchange/routing.h"
#include "gateway/exchange/transition_service.h"
#include "gateway/exchange/transport_health.h"
#include "gateway/exchange/withdrawal_notices.h"
#include "gateway/minimise/projector.h"
#include "gateway/policy/decision.h"

namespace sild::exchange {
namespace {

// Often enough for a load balancer to steer away within seconds; a probe
// only reads state the transports' callbacks keep.
constexpr absl::Duration kTransportProbeInterval = absl::Seconds(2);

class ExchangeModule final : public GatewayModule {
 public:
  std::string name() const override { return "exchange"; }

  std::vector<Migration> Migrations() const override { return Schemas(); }

  absl::Status Init(GatewayComponents& components) override {
    if (!components.decide_in_txn) {
      return MakeError(absl::StatusCode::kFailedPrecondition, "MODULE_MISSING",
                       "", "the exchange needs the consent module's decisions");
    }
    config_ = components.config;
    context_.config = &config_;
    context_.directory = components.directory;
    context_.store = components.store;
    context_.audit_log = components.audit_log;
    context_.projector = &Projector::Default();
    context_.decide = components.decide_in_txn;
    context_.record_disclosure = components.record_disclosure;
    router_ = std::make_unique<Router>(&config_, components.directory);
    referrals_ =
        std::make_unique<ReferralServiceImpl>(&context_, router_.get());
    transitions_ =
        std::make_unique<TransitionServiceImpl>(&context_, router_.get());
    notices_ = std::make_unique<WithdrawalNoticeSender>(
        &context_, ConsentRegistry(components.store, components.audit_log));
    auto ingress = MakeIngressRunners(&context_, router_.get());
    if (!ingress.ok()) return ingress.status();
    ingress_ = std::move(*ingress);
    // Workers and inbox streams hook in here.
    delivery_ = std::make_unique<DeliveryRuntime>(&context_);
    // Recipients with their own transport and format (connector SDK).
    auto egress = ConnectorEgress::Create(config_, components.audit_log);
    if (!egress.ok()) return egress.status();
    std::vector<TransportProbe> probes = (*egress)->Probes();
    (*egress)->InstallInto(delivery_->transports());
    for (const auto& runner : ingress_) {
      const IngressRunner* r = runner.get();
      probes.push_back(TransportProbe{r->agency().ref.registry_code(),
                                      sild::v1::TRANSPORT_DIRECTION_INGRESS,
                                      r->transport_name(),
                                      [r] { return r->health(); }});
    }
    transport_health_ =
        std::make_unique<TransportHealthMonitor>(std::move(probes));
    context_.transport_health = transport_health_.get();
    components_ = &components;
    context_.on_outbox_changed = [this] { OutboxChanged(); };
    context_.on_inbox_queued = [this] { InboxQueued(); };
    return absl::OkStatus();
  }

  std::vector<grpc::Service*> Services() override {
    std::vector<grpc::Service*> services = {referrals_.get(),
                                            transitions_.get()};
    for (grpc::Service* s : delivery_->Services()) services.push_back(s);
    return services;
  }

  std::vector<std::string> ServiceNames() const override {
    std::vector<std::string> names = {"sild.v1.ReferralService",
                                      "sild.v1.TransitionService"};
    for (auto& name : DeliveryRuntime::ServiceNames()) names.push_back(name);
    return names;
  }

  void Start() override {
    delivery_->Start();
    notices_->Start(absl::Seconds(1));
    for (auto& runner : ingress_) {
      if (absl::Status status = runner->Start(); !status.ok()) {
        // Reported through the log; the transport retries its own connection.
        LogError("ingress did not start",
                 {{"agency", runner->agency().ref.registry_code()},
                  {"error", std::string(status.message())}});
      }
    }
    if (transport_health_) transport_health_->Start(components_->set_health_status,
                             kTransportProbeInterval);
  }
  void BeginShutdown() override {
    if (delivery_) delivery_->EndStreams();
  }
  void Stop() override {
    if (transport_health_) transport_health_->Stop();
    for (auto& runner : ingress_) runner->Stop();
    notices_->Stop();
    delivery_->Stop();
  }

 private:
  void OutboxChanged() {
    if (delivery_) delivery_->OutboxChanged();
  }
  void InboxQueued() {
    if (delivery_) delivery_->InboxQueued();
  }

  config::v1::GatewayConfig config_;
  ExchangeContext context_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<ReferralServiceImpl> referrals_;
  std::unique_ptr<TransitionServiceImpl> transitions_;
  std::unique_ptr<WithdrawalNoticeSender> notices_;
  std::vector<std::unique_ptr<IngressRunner>> ingress_;
  std::unique_ptr<DeliveryRuntime> delivery_;
  // Declared after what it probes, so it is destroyed (stopped) first.
  std::unique_ptr<TransportHealthMonitor> transport_health_;
  const GatewayComponents* components_ = nullptr;
};

}  // namespace

std::unique_ptr<GatewayModule> MakeExchangeModule() {
  return std::make_unique<ExchangeModule>();
}

}  // namespace sild::exchange
