// Egress through connector SDK transports: a recipient whose system takes
// messages in its own format over its own channel (a broker, a folder of
// native files) gets each message encoded with ITS codec and handed to ITS
// transport instance.
//
// Which agencies: those whose AgencyConfig sets `transport_config` (the
// typed config of an SDK egress transport named in `transport`). Without a
// transport_config, "file" and "grpc-inbox" stay the gateway's built-in
// transports (the canonical sild.v1.Envelope), so existing configs keep
// their meaning. A transport name that is neither built in nor a registered
// SDK transport fails at start, naming agencies[i].transport.
//
//   SILD_ASSIGN_OR_RETURN(auto egress, ConnectorEgress::Create(*config,
//                                                               audit_log));
//   egress->InstallInto(registry);    // before the delivery workers start
//
// Per message: the row's envelope (already minimised for the recipient) is
// encoded with the recipient's codec (no codec: binary sild.v1.Envelope,
// content type kEnvelopeContentType). An encode failure is permanent: the
// row becomes a dead letter with the codec's error, which names a field,
// never a value. The ordering key is the case id, else the subject's
// pseudonym, so one child's messages stay in order on partitioned brokers.
//
// Thread-safe after InstallInto(): SDK transports and codecs are.
#ifndef SILD_GATEWAY_EXCHANGE_CONNECTOR_EGRESS_H_
#define SILD_GATEWAY_EXCHANGE_CONNECTOR_EGRESS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "connectors/sdk/transport.h"
#include "gateway/audit/audit_log.h"
#include "gateway/exchange/transport.h"
#include "gateway/exchange/transport_health.h"
#include "sild/config/v1/config.pb.h"

namespace sild::exchange {

inline constexpr char kEnvelopeContentType[] =
    "application/x-protobuf; proto=sild.v1.Envelope";

// One recipient's egress: its transport instance and its codec (may be null).
struct ConnectorEndpoint {
  std::string registry_code;
  std::string transport_name;
  std::unique_ptr<connectors::EgressTransport> transport;
  std::unique_ptr<connectors::Codec> codec;
};

// What the native message for `row` is: encoded bytes, content type, key.
// Exposed for tests and for `sildctl` previews.
absl::StatusOr<connectors::OutboundMessage> EncodeForRecipient(
    const OutboxRow& row, const connectors::Codec* codec,
    const AuditLog* audit_log);

// The DeliveryTransport registered under one transport name: routes each
// row to its recipient's endpoint; recipients of that name without an
// endpoint (no transport_config) go to `builtin`, if any.
class ConnectorDeliveryTransport final : public DeliveryTransport {
 public:
  ConnectorDeliveryTransport(std::string name,
                             std::unique_ptr<DeliveryTransport> builtin,
                             const AuditLog* audit_log);

  void AddEndpoint(std::unique_ptr<ConnectorEndpoint> endpoint);

  std::string name() const override { return name_; }
  bool pipelines() const override { return true; }
  DeliveryResult Deliver(const OutboxRow& row,
                         const Agency& recipient) override;
  std::vector<DeliveryResult> DeliverBatch(
      const std::vector<const OutboxRow*>& rows,
      const Agency& recipient) override;
  absl::Status Health() const override;

 private:
  std::string name_;
  std::unique_ptr<DeliveryTransport> builtin_;
  const AuditLog* audit_log_;
  std::map<std::string, std::unique_ptr<ConnectorEndpoint>> endpoints_;
};

class ConnectorEgress {
 public:
  // Creates the transports and codecs of every agency with a
  // transport_config. Errors name the config field.
  static absl::StatusOr<std::unique_ptr<ConnectorEgress>> Create(
      const config::v1::GatewayConfig& config, const AuditLog* audit_log);

  // Wraps the registry's transports of the names in use (the built-in one of
  // the same name stays the fallback for agencies without a
  // transport_config).
  void InstallInto(TransportRegistry& registry);

  // One health probe per SDK egress transport; call before InstallInto. The
  // probes stay valid while the registry they were installed into lives.
  std::vector<TransportProbe> Probes() const;

 private:
  ConnectorEgress() = default;
  const AuditLog* audit_log_ = nullptr;
  std::vector<std::unique_ptr<ConnectorEndpoint>> endpoints_;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_CONNECTOR_EGRESS_H_
