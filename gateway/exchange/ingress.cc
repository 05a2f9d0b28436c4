#include "gateway/exchange/ingress.h"

#include "absl/strings/str_cat.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/exchange/referrals.h"

namespace sild::exchange {

absl::StatusOr<std::unique_ptr<IngressRunner>> IngressRunner::Create(
    const ExchangeContext* context, const Router* router, const Agency* agency,
    int index) {
  const config::v1::AgencyConfig& config = agency->config;
  const std::string prefix = absl::StrCat("agencies[", index, "]");
  if (config.codec().empty()) {
    return InvalidField("MISSING_CODEC", absl::StrCat(prefix, ".codec"),
                        "an ingress transport needs a codec to decode with");
  }
  std::unique_ptr<IngressRunner> runner(new IngressRunner());
  runner->context_ = context;
  runner->router_ = router;
  runner->agency_ = agency;
  auto codec = connectors::CreateCodec(config.codec(), config.codec_config(),
                                       absl::StrCat(prefix, ".codec_config"));
  if (!codec.ok()) return codec.status();
  runner->codec_ = *std::move(codec);
  auto transport = connectors::CreateIngressTransport(
      config.ingress_transport(), config.ingress_transport_config(),
      absl::StrCat(prefix, ".ingress_transport_config"));
  if (!transport.ok()) return transport.status();
  runner->transport_ = *std::move(transport);
  return runner;
}

IngressRunner::~IngressRunner() { Stop(); }

absl::Status IngressRunner::Start() {
  absl::Status status =
      transport_->Start([this](const connectors::InboundMessage& message,
                               std::function<void(absl::Status)> done) {
        Handle(message, std::move(done));
      });
  started_ = status.ok();
  return status;
}

void IngressRunner::Stop() {
  if (!started_) return;
  started_ = false;
  transport_->Stop();
}

void IngressRunner::Handle(const connectors::InboundMessage& message,
                           std::function<void(absl::Status)> done) const {
  const std::string sender = agency_->ref.registry_code();
  auto report = [sender, source_id = message.message_id,
                 done = std::move(done)](const absl::Status& status,
                                         const std::string& message_id) {
    if (status.ok()) {
      LogInfo("ingress message accepted", {{"sender", sender},
                                           {"source_id", source_id},
                                           {"message_id", message_id}});
    } else {
      LogWarning("ingress message refused", {{"sender", sender},
                                             {"source_id", source_id},
                                             {"reason", ErrorReason(status)},
                                             {"field", ErrorField(status)}});
    }
    done(status);
  };
  auto decoded = codec_->Decode(message.bytes);
  if (!decoded.ok()) {
    report(decoded.status(), "");
    return;
  }
  if (decoded->body_case() != sild::v1::Envelope::kReferral) {
    report(InvalidField("UNSUPPORTED_KIND", "kind",
                        "connector ingress accepts referrals only"),
           "");
    return;
  }
  const sild::v1::Referral& referral = decoded->referral();
  SubmitReferral(*context_, *router_, {agency_, referral.requested_by().id()},
                 referral, [report](absl::StatusOr<SubmitOutcome> outcome) {
                   report(OutcomeStatus(outcome),
                          outcome.ok() ? outcome->receipt.message_id() : "");
                 });
}

absl::StatusOr<std::vector<std::unique_ptr<IngressRunner>>> MakeIngressRunners(
    const ExchangeContext* context, const Router* router) {
  std::vector<std::unique_ptr<IngressRunner>> runners;
  const auto& agencies = context->config->agencies();
  for (int i = 0; i < agencies.size(); ++i) {
    if (agencies[i].ingress_transport().empty()) continue;
    const Agency* agency =
        context->directory->FindByRegistryCode(agencies[i].registry_code());
    if (agency == nullptr) continue;  // the directory refused it already
    auto runner = IngressRunner::Create(context, router, agency, i);
    if (!runner.ok()) return runner.status();
    runners.push_back(*std::move(runner));
  }
  return runners;
}

}  // namespace sild::exchange
