#include "gateway/exchange/exchange_module.h"

#include "gateway/common/errors.h"
#include "gateway/exchange/dispatch.h"
#include "gateway/exchange/exchange_store.h"
#include "gateway/exchange/referral_service.h"
#include "gateway/exchange/routing.h"
#include "gateway/exchange/transition_service.h"
#include "gateway/exchange/withdrawal_notices.h"
#include "gateway/minimise/projector.h"
#include "gateway/policy/decision.h"

namespace sild::exchange {
namespace {

class ExchangeModule final : public GatewayModule {
 public:
  std::string name() const override { return "exchange"; }

  std::vector<Migration> Migrations() const override { return {Schema()}; }

  absl::Status Init(GatewayComponents& components) override {
    if (!components.decide_in_txn) {
      return MakeError(absl::StatusCode::kFailedPrecondition,
                       "MODULE_MISSING", "",
                       "the exchange needs the consent module's decisions");
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
    referrals_ = std::make_unique<ReferralServiceImpl>(&context_, router_.get());
    transitions_ =
        std::make_unique<TransitionServiceImpl>(&context_, router_.get());
    notices_ = std::make_unique<WithdrawalNoticeSender>(
        &context_, ConsentRegistry(components.store, components.audit_log));
    // Workers and inbox streams hook in here.
    context_.on_outbox_changed = [this] { OutboxChanged(); };
    return absl::OkStatus();
  }

  std::vector<grpc::Service*> Services() override {
    return {referrals_.get(), transitions_.get()};
  }

  std::vector<std::string> ServiceNames() const override {
    return {"sild.v1.ReferralService", "sild.v1.TransitionService"};
  }

  void Start() override { notices_->Start(absl::Seconds(1)); }
  void Stop() override { notices_->Stop(); }

 private:
  void OutboxChanged() {}

  config::v1::GatewayConfig config_;
  ExchangeContext context_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<ReferralServiceImpl> referrals_;
  std::unique_ptr<TransitionServiceImpl> transitions_;
  std::unique_ptr<WithdrawalNoticeSender> notices_;
};

}  // namespace

std::unique_ptr<GatewayModule> MakeExchangeModule() {
  return std::make_unique<ExchangeModule>();
}

}  // namespace sild::exchange
