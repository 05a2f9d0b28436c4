// The "social-json" codec: what municipal social services (case management,
// child protection) exchange, in a JSON shape sild defines because no public
// schema exists. Published as docs/schemas/social-services.schema.json
// (JSON Schema draft 2020-12); docs/codecs.md has the mapping tables.
//
//   {"type": "referral", ...}          <-> Envelope.referral: a referral to
//       or from social services; after a needs assessment, its findings
//       (needsAssessment.findings) are the referral's risk indicators and the
//       case plan goal travels with it.
//   {"type": "referralDecision", ...}  <-> Envelope.status_update: accepting
//       or rejecting a referral (with a reason), progress and completion.
//
// The message id and idempotency key are top-level members ("messageId",
// "idempotencyKey"); the idempotency key is required.
//
// Trust: the document comes from a municipality's system through an
// authenticated transport; its content is validated, not believed: personal
// and registry codes, dates ("YYYY-MM-DD", real dates), RFC 3339 times,
// every enum token, whole numbers and their ranges. Members the schema does
// not define are refused (UNKNOWN_FIELD). Errors are INVALID_ARGUMENT with a
// stable reason code and the JSON pointer of the offending member
// ("/child/personalCode"); nothing is produced. Limits: max_bytes
// (INPUT_TOO_LARGE) before parsing, max_depth (INPUT_TOO_DEEP) while parsing.
//
// Thread safety: immutable after construction, thread-safe.
#ifndef SILD_CONNECTORS_CODECS_SOCIAL_SOCIAL_JSON_CODEC_H_
#define SILD_CONNECTORS_CODECS_SOCIAL_SOCIAL_JSON_CODEC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "sild/connectors/v1/social.pb.h"

namespace sild::connectors {

class SocialJsonCodec final : public Codec {
 public:
  static constexpr char kName[] = "social-json";

  explicit SocialJsonCodec(
      const sild::connectors::v1::SocialCodecConfig& config =
          sild::connectors::v1::SocialCodecConfig());

  // The checked way to make one: INVALID_ARGUMENT INVALID_CONNECTOR_CONFIG
  // at "max_depth" when it is over 1000.
  static absl::StatusOr<std::unique_ptr<SocialJsonCodec>> Create(
      const sild::connectors::v1::SocialCodecConfig& config);

  std::string name() const override { return kName; }
  std::string content_type() const override { return "application/json"; }
  std::vector<sild::v1::MessageKind> kinds() const override {
    return {sild::v1::MESSAGE_KIND_REFERRAL,
            sild::v1::MESSAGE_KIND_REFERRAL_STATUS};
  }
  CodecLimits limits() const override { return limits_; }

  absl::StatusOr<sild::v1::Envelope> Decode(
      absl::string_view native) const override;
  absl::StatusOr<std::string> Encode(
      const sild::v1::Envelope& envelope) const override;

 private:
  bool pretty_;
  CodecLimits limits_;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_CODECS_SOCIAL_SOCIAL_JSON_CODEC_H_
