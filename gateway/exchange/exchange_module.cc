#include "gateway/exchange/exchange_module.h"

#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/exchange/deadline_scanner.h"
#include "gateway/exchange/dispatch.h"
#include "gateway/exchange/exchange_store.h"
#include "gateway/exchange/ingress.h"
#include "gateway/exchange/module_context.h"
#include "gateway/exchange/referral_service.h"
#include "gateway/exchange/routing.h"
#include "gateway/exchange/transition_service.h"
#include "gateway/exchange/withdrawal_notices.h"
#include "gateway/policy/decision.h"

namespace sild::exchange {
namespace {

class ExchangeModule final : public GatewayModule {
 public:
  std::string name() const override { return "exchange"; }

  std::vector<Migration> Migrations() const override { return Schemas(); }

  absl::Status Init(GatewayComponents& components) override {
    config_ = components.config;
    auto context = ContextFromComponents(components, &config_, "the exchange");
    if (!context.ok()) return context.status();
    context_ = *std::move(context);
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
    // Deadlines and their escalations.
    absl::Duration scan =
        absl::Milliseconds(config_.deadlines().scan_interval_ms() > 0
                               ? config_.deadlines().scan_interval_ms()
                               : 60000);
    scanner_ = std::make_unique<DeadlineScanner>(&context_, scan);
    // The delivery module watches the ingress transports with its own.
    for (const auto& runner : ingress_) {
      const IngressRunner* r = runner.get();
      components.transport_probes.push_back(
          TransportProbe{r->agency().ref.registry_code(),
                         sild::v1::TRANSPORT_DIRECTION_INGRESS,
                         r->transport_name(), [r] { return r->health(); }});
    }
    // Delivery (a module of its own, after this one) sets the wake-ups;
    // they are read at commit time, once every module is initialised.
    GatewayComponents* shared = &components;
    context_.on_outbox_changed = [shared] {
      if (shared->on_outbox_changed) shared->on_outbox_changed();
    };
    context_.on_inbox_queued = [shared] {
      if (shared->on_inbox_queued) shared->on_inbox_queued();
    };
    return absl::OkStatus();
  }

  std::vector<grpc::Service*> Services() override {
    return {referrals_.get(), transitions_.get()};
  }

  std::vector<std::string> ServiceNames() const override {
    return {"sild.v1.ReferralService", "sild.v1.TransitionService"};
  }

  void Start() override {
    scanner_->Start();
    notices_->Start(absl::Seconds(1));
    for (auto& runner : ingress_) {
      if (absl::Status status = runner->Start(); !status.ok()) {
        // Reported through the log; the transport retries its own connection.
        LogError("ingress did not start",
                 {{"agency", runner->agency().ref.registry_code()},
                  {"error", std::string(status.message())}});
      }
    }
  }
  void Stop() override {
    for (auto& runner : ingress_) runner->Stop();
    notices_->Stop();
    scanner_->Stop();
  }

 private:
  config::v1::GatewayConfig config_;
  ExchangeContext context_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<ReferralServiceImpl> referrals_;
  std::unique_ptr<TransitionServiceImpl> transitions_;
  std::unique_ptr<WithdrawalNoticeSender> notices_;
  std::vector<std::unique_ptr<IngressRunner>> ingress_;
  std::unique_ptr<DeadlineScanner> scanner_;
};

}  // namespace

std::unique_ptr<GatewayModule> MakeExchangeModule() {
  return std::make_unique<ExchangeModule>();
}

}  // namespace sild::exchange
