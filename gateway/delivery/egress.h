// Egress: the one way a message leaves the gateway for a push recipient.
// Every agency that does not pull its messages over the gRPC inbox has one
// EgressEndpoint: the recipient's codec (or none: the canonical binary
// sild.v1.Envelope) and its connector SDK egress transport
// (connectors::EgressTransport: file, nats, amqp, kafka, ...).
//
//   SILD_ASSIGN_OR_RETURN(auto endpoints,
//                         EgressEndpoints::Create(config, audit_log));
//   const EgressEndpoint* endpoint = endpoints->Find(row.recipient);
//   std::vector<connectors::DeliveryResult> results =
//       endpoint->Deliver({&row});            // on a worker thread
//
// Which agencies get an endpoint: those whose AgencyConfig names a transport
// other than "grpc-inbox" (empty means the gRPC inbox, a pull endpoint that
// InboxService serves). The transport comes from the connector registry
// with its typed `transport_config`; a legacy `transport: "file"` without
// one is translated by the config loader into the SDK file transport with
// the binary-envelope encoding. A transport name that is not registered,
// or one without its config, fails Create() naming agencies[i].transport
// or agencies[i].transport_config.
//
// Per message: the row's envelope (already minimised for the recipient) is
// encoded with the recipient's codec. An encode failure is permanent: the
// row becomes a dead letter with the codec's error, which names a field,
// never a value. The ordering key is the case id, else the subject's
// pseudonym, so one child's messages stay in order on partitioned brokers.
//
// Thread safety: EgressEndpoints is filled before the workers start and
// read-only after; Deliver() may be called from several threads at once
// (SDK transports and codecs are thread-safe).
#ifndef SILD_GATEWAY_DELIVERY_EGRESS_H_
#define SILD_GATEWAY_DELIVERY_EGRESS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "connectors/sdk/transport.h"
#include "gateway/audit/audit_log.h"
#include "gateway/delivery/outbox_store.h"
#include "gateway/delivery/transport_health.h"
#include "gateway/exchange/exchange_store.h"
#include "sild/config/v1/config.pb.h"

namespace sild::delivery {

inline constexpr char kEnvelopeContentType[] =
    "application/x-protobuf; proto=sild.v1.Envelope";

// What the native message for `row` is: encoded bytes, content type, key.
// `codec` null: the envelope's deterministic binary form. Exposed for tests
// and for `sildctl` previews.
absl::StatusOr<connectors::OutboundMessage> EncodeForRecipient(
    const OutboxRow& row, const connectors::Codec* codec,
    const AuditLog* audit_log);

// One recipient's way out: its transport instance and its codec (may be
// null).
class EgressEndpoint {
 public:
  EgressEndpoint(std::string registry_code, std::string transport_name,
                 std::unique_ptr<connectors::EgressTransport> transport,
                 std::unique_ptr<connectors::Codec> codec,
                 const AuditLog* audit_log);

  const std::string& registry_code() const { return registry_code_; }
  // The name the agency's config gives its transport.
  const std::string& transport_name() const { return transport_name_; }
  // The codec's name, or "sild.v1.Envelope".
  std::string format() const;
  bool pipelines() const { return transport_->pipelines(); }
  absl::Status health() const { return transport_->health(); }

  // Encodes and delivers rows for this recipient, one result per row in
  // order. A row its codec cannot encode is a permanent failure; the others
  // still go.
  std::vector<connectors::DeliveryResult> Deliver(
      const std::vector<const OutboxRow*>& rows) const;

 private:
  std::string registry_code_;
  std::string transport_name_;
  std::unique_ptr<connectors::EgressTransport> transport_;
  std::unique_ptr<connectors::Codec> codec_;
  const AuditLog* audit_log_;
};

class EgressEndpoints {
 public:
  EgressEndpoints() = default;
  EgressEndpoints(const EgressEndpoints&) = delete;
  EgressEndpoints& operator=(const EgressEndpoints&) = delete;

  // The endpoints of every push recipient in `config`. Errors name the
  // config field.
  static absl::StatusOr<std::unique_ptr<EgressEndpoints>> Create(
      const config::v1::GatewayConfig& config, const AuditLog* audit_log);

  // Adds or replaces the endpoint of its registry code (before the workers
  // start).
  void Add(std::unique_ptr<EgressEndpoint> endpoint);
  // nullptr when the agency has no push endpoint (it pulls, or is unknown).
  const EgressEndpoint* Find(const std::string& registry_code) const;
  // One health probe per endpoint; valid while this object lives.
  std::vector<TransportProbe> Probes() const;
  size_t size() const { return endpoints_.size(); }

 private:
  std::map<std::string, std::unique_ptr<EgressEndpoint>> endpoints_;
};

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_EGRESS_H_
