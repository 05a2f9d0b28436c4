#include "gateway/exchange/connector_egress.h"

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "connectors/sdk/registry.h"
#include "gateway/common/errors.h"
#include "gateway/common/log.h"
#include "gateway/exchange/dispatch.h"

namespace sild::exchange {
namespace {

bool IsBuiltin(const std::string& name) {
  return name == "file" || name == kGrpcInboxTransport;
}

std::string KindName(sild::v1::MessageKind kind) {
  return std::string(
      absl::StripPrefix(sild::v1::MessageKind_Name(kind), "MESSAGE_KIND_"));
}

std::string SubjectCodeOf(const sild::v1::Envelope& envelope) {
  if (envelope.has_referral()) {
    return envelope.referral().subject().id().value();
  }
  if (envelope.has_transition()) {
    return envelope.transition().subject().id().value();
  }
  return "";
}

DeliveryResult FromConnectorResult(const connectors::DeliveryResult& result) {
  switch (result.outcome) {
    case connectors::DeliveryResult::kDelivered:
      return DeliveryResult::Delivered();
    case connectors::DeliveryResult::kRetryable:
      return DeliveryResult::Retryable(result.error);
    case connectors::DeliveryResult::kPermanent:
      return DeliveryResult::Permanent(result.error);
  }
  return DeliveryResult::Permanent("unknown delivery outcome");
}

}  // namespace

absl::StatusOr<connectors::OutboundMessage> EncodeForRecipient(
    const OutboxRow& row, const connectors::Codec* codec,
    const AuditLog* audit_log) {
  connectors::OutboundMessage message;
  message.message_id = row.message_id;
  message.kind = KindName(row.kind);
  message.recipient = row.recipient;
  const sild::v1::MessageHeader& header = Header(row.envelope);
  if (!header.case_id().empty()) {
    message.key = header.case_id();
  } else if (std::string code = SubjectCodeOf(row.envelope);
             !code.empty() && audit_log != nullptr) {
    message.key = audit_log->Pseudonym(code);
  } else {
    message.key = row.message_id;
  }
  if (codec == nullptr) {
    message.content_type = kEnvelopeContentType;
    if (!row.envelope.SerializeToString(&message.bytes)) {
      return absl::InternalError("the envelope did not serialise");
    }
    return message;
  }
  message.content_type = codec->content_type();
  auto encoded = codec->Encode(row.envelope);
  if (!encoded.ok()) {
    // Codec errors name the native path and the reason, never the value.
    return MakeError(
        absl::StatusCode::kFailedPrecondition, "ENCODE_FAILED",
        ErrorField(encoded.status()),
        absl::StrCat("the ", codec->name(), " codec cannot encode this ",
                     message.kind, " message: ", encoded.status().message()));
  }
  message.bytes = *std::move(encoded);
  return message;
}

ConnectorDeliveryTransport::ConnectorDeliveryTransport(
    std::string name, std::unique_ptr<DeliveryTransport> builtin,
    const AuditLog* audit_log)
    : name_(std::move(name)),
      builtin_(std::move(builtin)),
      audit_log_(audit_log) {}

void ConnectorDeliveryTransport::AddEndpoint(
    std::unique_ptr<ConnectorEndpoint> endpoint) {
  std::string code = endpoint->registry_code;
  endpoints_[code] = std::move(endpoint);
}

DeliveryResult ConnectorDeliveryTransport::Deliver(const OutboxRow& row,
                                                   const Agency& recipient) {
  return DeliverBatch({&row}, recipient).front();
}

std::vector<DeliveryResult> ConnectorDeliveryTransport::DeliverBatch(
    const std::vector<const OutboxRow*>& rows, const Agency& recipient) {
  auto it = endpoints_.find(recipient.ref.registry_code());
  if (it == endpoints_.end()) {
    if (builtin_ != nullptr) return builtin_->DeliverBatch(rows, recipient);
    return std::vector<DeliveryResult>(
        rows.size(),
        DeliveryResult::Permanent(absl::StrCat(
            "recipient ", recipient.ref.registry_code(), " has no ", name_,
            " transport configured (agencies[].transport_config)")));
  }
  ConnectorEndpoint& endpoint = *it->second;
  std::vector<DeliveryResult> results(rows.size());
  std::vector<connectors::OutboundMessage> messages;
  std::vector<size_t> positions;
  messages.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    auto message =
        EncodeForRecipient(*rows[i], endpoint.codec.get(), audit_log_);
    if (!message.ok()) {
      results[i] =
          DeliveryResult::Permanent(std::string(message.status().message()));
      continue;
    }
    messages.push_back(*std::move(message));
    positions.push_back(i);
  }
  if (messages.empty()) return results;
  std::vector<connectors::DeliveryResult> sent =
      endpoint.transport->DeliverBatch(messages);
  for (size_t j = 0; j < positions.size(); ++j) {
    results[positions[j]] =
        j < sent.size() ? FromConnectorResult(sent[j])
                        : DeliveryResult::Retryable(absl::StrCat(
                              "the ", name_, " transport reported no result"));
  }
  return results;
}

absl::Status ConnectorDeliveryTransport::Health() const {
  for (const auto& [code, endpoint] : endpoints_) {
    absl::Status health = endpoint->transport->health();
    if (!health.ok()) {
      return absl::Status(
          health.code(),
          absl::StrCat(name_, " transport for ", code, ": ", health.message()));
    }
  }
  return builtin_ != nullptr ? builtin_->Health() : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ConnectorEgress>> ConnectorEgress::Create(
    const config::v1::GatewayConfig& config, const AuditLog* audit_log) {
  std::unique_ptr<ConnectorEgress> egress(new ConnectorEgress());
  egress->audit_log_ = audit_log;
  for (int i = 0; i < config.agencies_size(); ++i) {
    const config::v1::AgencyConfig& agency = config.agencies(i);
    const std::string prefix = absl::StrCat("agencies[", i, "]");
    if (!agency.has_transport_config()) {
      if (!agency.transport().empty() && !IsBuiltin(agency.transport())) {
        bool registered =
            connectors::Registry<connectors::EgressTransportFactory>::Get()
                .Find(agency.transport()) != nullptr;
        return InvalidField(
            registered ? "MISSING_TRANSPORT_CONFIG" : "UNKNOWN_TRANSPORT",
            absl::StrCat(prefix,
                         registered ? ".transport_config" : ".transport"),
            registered
                ? absl::StrCat("the ", agency.transport(),
                               " transport needs its typed transport_config")
                : absl::StrCat("no transport named \"", agency.transport(),
                               "\" in this gateway (built in: file, "
                               "grpc-inbox; connectors: see sildctl "
                               "connectors)"));
      }
      continue;
    }
    if (agency.transport().empty()) {
      return InvalidField("MISSING_TRANSPORT",
                          absl::StrCat(prefix, ".transport"),
                          "transport_config is set but no transport is named");
    }
    auto endpoint = std::make_unique<ConnectorEndpoint>();
    endpoint->registry_code = agency.registry_code();
    endpoint->transport_name = agency.transport();
    auto transport = connectors::CreateEgressTransport(
        agency.transport(), agency.transport_config(),
        absl::StrCat(prefix, ".transport_config"));
    if (!transport.ok()) return transport.status();
    endpoint->transport = *std::move(transport);
    if (!agency.codec().empty()) {
      auto codec =
          connectors::CreateCodec(agency.codec(), agency.codec_config(),
                                  absl::StrCat(prefix, ".codec_config"));
      if (!codec.ok()) return codec.status();
      endpoint->codec = *std::move(codec);
    }
    egress->endpoints_.push_back(std::move(endpoint));
  }
  return egress;
}

std::vector<TransportProbe> ConnectorEgress::Probes() const {
  std::vector<TransportProbe> probes;
  for (const auto& endpoint : endpoints_) {
    const connectors::EgressTransport* transport = endpoint->transport.get();
    probes.push_back(TransportProbe{
        endpoint->registry_code, sild::v1::TRANSPORT_DIRECTION_EGRESS,
        endpoint->transport_name, [transport] { return transport->health(); }});
  }
  return probes;
}

void ConnectorEgress::InstallInto(TransportRegistry& registry) {
  std::map<std::string, std::unique_ptr<ConnectorDeliveryTransport>> wrapped;
  for (auto& endpoint : endpoints_) {
    const std::string& name = endpoint->transport_name;
    auto& transport = wrapped[name];
    if (transport == nullptr) {
      transport = std::make_unique<ConnectorDeliveryTransport>(
          name, registry.Release(name), audit_log_);
    }
    LogInfo("connector egress configured",
            {{"agency", endpoint->registry_code},
             {"transport", name},
             {"codec", endpoint->codec ? endpoint->codec->name()
                                       : std::string("sild.v1.Envelope")}});
    transport->AddEndpoint(std::move(endpoint));
  }
  endpoints_.clear();
  for (auto& [name, transport] : wrapped) {
    registry.Register(std::move(transport));
  }
}

}  // namespace sild::exchange
