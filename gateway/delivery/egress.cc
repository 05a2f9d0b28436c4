#include "gateway/delivery/egress.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/exchange/envelope.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace sild::delivery {

using exchange::Header;
using exchange::KindName;
using exchange::SubjectPersonalCodeOf;
namespace {

// Deterministic, so a second attempt carries the same bytes.
bool SerializeDeterministically(const sild::v1::Envelope& envelope,
                                std::string* bytes) {
  google::protobuf::io::StringOutputStream stream(bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  bool ok = envelope.SerializeToCodedStream(&coded);
  coded.Trim();
  return ok;
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
  } else if (std::string code = SubjectPersonalCodeOf(row.envelope);
             !code.empty() && audit_log != nullptr) {
    message.key = audit_log->Pseudonym(code);
  } else {
    message.key = row.message_id;
  }
  if (codec == nullptr) {
    message.content_type = kEnvelopeContentType;
    if (!SerializeDeterministically(row.envelope, &message.bytes)) {
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

EgressEndpoint::EgressEndpoint(
    std::string registry_code, std::string transport_name,
    std::unique_ptr<connectors::EgressTransport> transport,
    std::unique_ptr<connectors::Codec> codec, const AuditLog* audit_log)
    : registry_code_(std::move(registry_code)),
      transport_name_(std::move(transport_name)),
      transport_(std::move(transport)),
      codec_(std::move(codec)),
      audit_log_(audit_log) {}

std::string EgressEndpoint::format() const {
  return codec_ != nullptr ? codec_->name() : std::string("sild.v1.Envelope");
}

std::vector<connectors::DeliveryResult> EgressEndpoint::Deliver(
    const std::vector<const OutboxRow*>& rows) const {
  std::vector<connectors::DeliveryResult> results(rows.size());
  std::vector<connectors::OutboundMessage> messages;
  std::vector<size_t> positions;
  messages.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    auto message = EncodeForRecipient(*rows[i], codec_.get(), audit_log_);
    if (!message.ok()) {
      results[i] = connectors::DeliveryResult::Permanent(
          std::string(message.status().message()));
      continue;
    }
    messages.push_back(*std::move(message));
    positions.push_back(i);
  }
  if (messages.empty()) return results;
  std::vector<connectors::DeliveryResult> sent =
      transport_->DeliverBatch(messages);
  for (size_t j = 0; j < positions.size(); ++j) {
    results[positions[j]] =
        j < sent.size()
            ? std::move(sent[j])
            : connectors::DeliveryResult::Retryable(absl::StrCat(
                  "the ", transport_name_, " transport reported no result"));
  }
  return results;
}

absl::StatusOr<std::unique_ptr<EgressEndpoints>> EgressEndpoints::Create(
    const config::v1::GatewayConfig& config, const AuditLog* audit_log) {
  auto endpoints = std::make_unique<EgressEndpoints>();
  for (int i = 0; i < config.agencies_size(); ++i) {
    const config::v1::AgencyConfig& agency = config.agencies(i);
    const std::string prefix = absl::StrCat("agencies[", i, "]");
    const std::string& name = agency.transport();
    if (name.empty() || name == kGrpcInboxTransport) {
      if (agency.has_transport_config()) {
        return InvalidField("MISSING_TRANSPORT",
                            absl::StrCat(prefix, ".transport"),
                            "transport_config is set but no transport is "
                            "named");
      }
      continue;  // pulls its messages over the gRPC inbox
    }
    if (!agency.has_transport_config()) {
      bool registered =
          connectors::Registry<connectors::EgressTransportFactory>::Get().Find(
              name) != nullptr;
      return InvalidField(
          registered ? "MISSING_TRANSPORT_CONFIG" : "UNKNOWN_TRANSPORT",
          absl::StrCat(prefix, registered ? ".transport_config" : ".transport"),
          registered
              ? absl::StrCat("the ", name,
                             " transport needs its typed transport_config")
              : absl::StrCat("no transport named \"", name,
                             "\" in this gateway (grpc-inbox, or a connector: "
                             "see sildctl connectors)"));
    }
    auto transport = connectors::CreateEgressTransport(
        name, agency.transport_config(),
        absl::StrCat(prefix, ".transport_config"));
    if (!transport.ok()) return transport.status();
    std::unique_ptr<connectors::Codec> codec;
    if (!agency.codec().empty()) {
      auto created =
          connectors::CreateCodec(agency.codec(), agency.codec_config(),
                                  absl::StrCat(prefix, ".codec_config"));
      if (!created.ok()) return created.status();
      codec = *std::move(created);
    }
    auto endpoint = std::make_unique<EgressEndpoint>(
        agency.registry_code(), name, *std::move(transport), std::move(codec),
        audit_log);
    LogInfo("egress endpoint configured",
            {{"agency", endpoint->registry_code()},
             {"transport", name},
             {"format", endpoint->format()}});
    endpoints->Add(std::move(endpoint));
  }
  return endpoints;
}

void EgressEndpoints::Add(std::unique_ptr<EgressEndpoint> endpoint) {
  std::string code = endpoint->registry_code();
  endpoints_[code] = std::move(endpoint);
}

const EgressEndpoint* EgressEndpoints::Find(
    const std::string& registry_code) const {
  auto it = endpoints_.find(registry_code);
  return it == endpoints_.end() ? nullptr : it->second.get();
}

std::vector<TransportProbe> EgressEndpoints::Probes() const {
  std::vector<TransportProbe> probes;
  for (const auto& [code, endpoint] : endpoints_) {
    const EgressEndpoint* e = endpoint.get();
    probes.push_back(TransportProbe{code, sild::v1::TRANSPORT_DIRECTION_EGRESS,
                                    e->transport_name(),
                                    [e] { return e->health(); }});
  }
  return probes;
}

}  // namespace sild::delivery
