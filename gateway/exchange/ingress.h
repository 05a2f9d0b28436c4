// Connector ingress: agencies whose systems send native messages (files,
// broker messages) instead of calling the gRPC API. For every agency with an
// `ingress_transport` in its AgencyConfig, an IngressRunner starts that
// transport and, per received message:
//   1. decodes it with the agency's codec (AgencyConfig.codec),
//   2. submits it through the same domain operation as
//      ReferralService.Submit (SubmitReferral, referrals.h) as sent by THAT
//      agency: the sender is the agency whose ingress the message came from,
//      never what the payload claims,
//   3. reports the outcome to the transport: OK after the commit (the
//      transport acknowledges), a permanent error (INVALID_ARGUMENT for a
//      decode or validation error, PERMISSION_DENIED when every recipient was
//      refused) so the transport dead-letters it with the reason, anything
//      else for a retry.
// Only referrals are accepted through ingress for now; other kinds are
// refused with UNSUPPORTED_KIND.
//
// Thread safety: Start/Stop from the module's thread; handlers run on the
// transport's threads. The runner borrows the context, router and agency,
// which outlive it (owned by the exchange module and the directory).
#ifndef SILD_GATEWAY_EXCHANGE_INGRESS_H_
#define SILD_GATEWAY_EXCHANGE_INGRESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "connectors/sdk/transport.h"
#include "gateway/exchange/dispatch.h"
#include "gateway/exchange/routing.h"

namespace sild::exchange {

class IngressRunner {
 public:
  // The codec and transport come from the agency's config; errors name the
  // config field (agencies[<index>].codec, ...).
  static absl::StatusOr<std::unique_ptr<IngressRunner>> Create(
      const ExchangeContext* context, const Router* router,
      const Agency* agency, int index);
  ~IngressRunner();

  absl::Status Start();
  // Returns after in-flight messages finished (their commit included).
  void Stop();

  const Agency& agency() const { return *agency_; }
  const std::string& transport_name() const {
    return agency_->config.ingress_transport();
  }
  // The transport's connection state (see IngressTransport::health).
  absl::Status health() const { return transport_->health(); }

 private:
  IngressRunner() = default;
  void Handle(const connectors::InboundMessage& message,
              std::function<void(absl::Status)> done) const;

  const ExchangeContext* context_ = nullptr;
  const Router* router_ = nullptr;
  const Agency* agency_ = nullptr;
  std::unique_ptr<connectors::Codec> codec_;
  std::unique_ptr<connectors::IngressTransport> transport_;
  bool started_ = false;
};

// A runner for every agency in `context.directory` with an ingress
// transport configured (none: an empty list).
absl::StatusOr<std::vector<std::unique_ptr<IngressRunner>>> MakeIngressRunners(
    const ExchangeContext* context, const Router* router);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_INGRESS_H_
