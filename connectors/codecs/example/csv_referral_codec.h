// The example connector's codec, "csv-referral": one text line per referral,
//
//   personal_code;service;performer_registry_code;summary;idempotency_key[;message_id]
//
//   39001010012;PSYCHOLOGIST;75001023;Sage puudumised\073 vajab tuge;key-1
//
// It is deliberately small: docs/connectors.md walks through it as the model
// for real connectors. Mapping to a sild.v1 Envelope of kind REFERRAL:
//   personal_code   -> referral.subject.id (EE_PERSONAL_CODE), validated
//   service         -> referral.service, the ServiceType name without its
//                      prefix ("PSYCHOLOGIST"), case-insensitive
//   performer       -> referral.performer.registry_code, validated; may be
//                      empty (the gateway routes by service)
//   summary         -> referral.summary; C-style escapes (\\, \n, \073 for
//                      the separator), UTF-8 kept as is
//   idempotency_key -> referral.header.idempotency_key, required
//   message_id      -> message_id and referral.header.message_id; written by
//                      sild on egress, optional on ingress
//   (config)        -> referral.header.purpose: CsvReferralCodecConfig.purpose,
//                      default SUPPORT_SERVICE (one export, one purpose)
// Anything else in the Envelope is not carried (the format has no place for
// it). A trailing "\n" or "\r\n" is accepted; a second line is not.
//
// Trust: the line comes from an agency's own system. Every field is
// validated; errors are INVALID_ARGUMENT with the column name as field
// ("personal_code", "service", ...). Limits: max_line_bytes (default 64 KiB);
// the format cannot nest.
//
// Thread safety: immutable, thread-safe.
#ifndef SILD_CONNECTORS_CODECS_EXAMPLE_CSV_REFERRAL_CODEC_H_
#define SILD_CONNECTORS_CODECS_EXAMPLE_CSV_REFERRAL_CODEC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "sild/connectors/v1/example.pb.h"

namespace sild::connectors {

class CsvReferralCodec final : public Codec {
 public:
  static constexpr char kName[] = "csv-referral";

  explicit CsvReferralCodec(
      const sild::connectors::v1::CsvReferralCodecConfig& config = {});

  // The checked way to make one: INVALID_ARGUMENT INVALID_CONNECTOR_CONFIG
  // at "separator" unless it is empty or one ASCII character that is neither
  // a backslash nor a newline.
  static absl::StatusOr<std::unique_ptr<CsvReferralCodec>> Create(
      const sild::connectors::v1::CsvReferralCodecConfig& config);

  std::string name() const override { return kName; }
  std::string content_type() const override { return "text/csv"; }
  std::vector<sild::v1::MessageKind> kinds() const override {
    return {sild::v1::MESSAGE_KIND_REFERRAL};
  }
  CodecLimits limits() const override { return limits_; }

  absl::StatusOr<sild::v1::Envelope> Decode(
      absl::string_view native) const override;
  absl::StatusOr<std::string> Encode(
      const sild::v1::Envelope& envelope) const override;

 private:
  char separator_;
  sild::v1::Purpose purpose_;
  CodecLimits limits_;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_CODECS_EXAMPLE_CSV_REFERRAL_CODEC_H_
