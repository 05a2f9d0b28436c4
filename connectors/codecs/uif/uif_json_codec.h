// The "uif-json" codec: the Unemployment Insurance Fund's (Töötukassa)
// youth-guarantee documents, JSON with dd.mm.yyyy dates:
//
//   {"documentType": "YOUTH_GUARANTEE_REFERRAL", ...}  <-> Envelope.referral
//       (service YOUTH_GUARANTEE or CAREER_COUNSELLING): a young person, the
//       contact, the reason, the last institution, the latest study period,
//       desired occupations as ESCO URIs.
//   {"documentType": "STUDY_HISTORY", ...}             <-> Envelope.transition
//       to the Fund: the young person left education (the latest study
//       period's end date and leaving reason) with no next place.
//
// Study levels map to sild.v1.EducationLevel and ISCED 2011; institution
// registry codes and ESCO occupation URIs
// (http://data.europa.eu/esco/occupation/<uuid>) are validated. The message
// id and idempotency key are top-level members ("messageId",
// "idempotencyKey"; the key is required). Shape and mapping tables:
// docs/codecs.md.
//
// Trust: the document comes from the Fund's system (or is made for it)
// through an authenticated transport; its content is validated, not
// believed: personal and registry codes, dates (real dates, a period's start
// not after its end), enum tokens, ISCED levels consistent with the study
// level, ESCO URIs. Members the format does not define are refused
// (UNKNOWN_FIELD). Errors are INVALID_ARGUMENT with a stable reason code and
// the JSON pointer of the offending member ("/studyPeriods/0/endDate");
// nothing is produced. Limits: max_bytes (INPUT_TOO_LARGE) before parsing,
// max_depth (INPUT_TOO_DEEP) while parsing.
//
// Thread safety: immutable after construction, thread-safe.
#ifndef SILD_CONNECTORS_CODECS_UIF_UIF_JSON_CODEC_H_
#define SILD_CONNECTORS_CODECS_UIF_UIF_JSON_CODEC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "sild/connectors/v1/uif.pb.h"

namespace sild::connectors {

class UifJsonCodec final : public Codec {
 public:
  static constexpr char kName[] = "uif-json";

  explicit UifJsonCodec(const sild::connectors::v1::UifCodecConfig& config =
                            sild::connectors::v1::UifCodecConfig());

  // The checked way to make one: INVALID_ARGUMENT INVALID_CONNECTOR_CONFIG
  // at "max_depth" when it is over 1000, at "fund_registry_code" when it is
  // set and not a valid registry code.
  static absl::StatusOr<std::unique_ptr<UifJsonCodec>> Create(
      const sild::connectors::v1::UifCodecConfig& config);

  std::string name() const override { return kName; }
  std::string content_type() const override { return "application/json"; }
  std::vector<sild::v1::MessageKind> kinds() const override {
    return {sild::v1::MESSAGE_KIND_REFERRAL, sild::v1::MESSAGE_KIND_TRANSITION};
  }
  CodecLimits limits() const override { return limits_; }

  absl::StatusOr<sild::v1::Envelope> Decode(
      absl::string_view native) const override;
  absl::StatusOr<std::string> Encode(
      const sild::v1::Envelope& envelope) const override;

 private:
  bool pretty_;
  std::string fund_registry_code_;
  CodecLimits limits_;
};

// True for http://data.europa.eu/esco/occupation/<uuid> with a lowercase
// 8-4-4-4-12 hexadecimal UUID.
bool IsEscoOccupationUri(absl::string_view uri);

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_CODECS_UIF_UIF_JSON_CODEC_H_
