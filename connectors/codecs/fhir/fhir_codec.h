// The "fhir-r4" codec: HL7 FHIR R4 JSON for health care (docs/fhir.md).
//
//   sild.v1 Referral            <-> ServiceRequest
//   sild.v1 ReferralStatusUpdate <-> Task (focus = the ServiceRequest)
//   sild.v1 Consent             <-> Consent (DecodeConsent/EncodeConsent)
//   sild.v1 AuditRecord          -> AuditEvent     (EncodeAuditEvent)
//
// Codec::Decode/Encode translate Envelopes (ServiceRequest and Task); the
// consent and audit mappings are extra methods because those messages are not
// Envelope bodies.
//
// Trust: FHIR input comes from hospital and school-health systems we do not
// control. Input over max_bytes or nested deeper than max_depth is refused
// before the document is built (a streaming pre-pass, no recursion). Unknown
// elements are ignored, as FHIR requires of readers; elements sild reads are
// type-checked and validated (personal codes, registry codes, codes of sild
// CodeSystems, dateTimes). Errors are INVALID_ARGUMENT with a stable reason
// and the JSON pointer of the offending element, e.g.
// MISSING_PERSONAL_CODE at /subject/identifier.
//
// Thread safety: immutable after construction; all methods are const and may
// be called concurrently.
#ifndef SILD_CONNECTORS_CODECS_FHIR_FHIR_CODEC_H_
#define SILD_CONNECTORS_CODECS_FHIR_FHIR_CODEC_H_

#include <string>
#include <vector>

#include "connectors/sdk/codec.h"
#include "sild/connectors/v1/fhir.pb.h"
#include "sild/v1/audit.pb.h"
#include "sild/v1/consent.pb.h"

namespace sild::connectors {

// Identifier systems and CodeSystem URLs (absolute URIs) the codec writes and
// reads; docs/fhir.md lists them.
namespace fhir {
inline constexpr char kPersonalCodeSystem[] = "https://fhir.ee/sid/pid/est/ni";
inline constexpr char kRegistryCodeSystem[] = "https://fhir.ee/sid/org/est/br";
inline constexpr char kMessageIdSystem[] =
    "https://sild.ee/fhir/sid/message-id";
inline constexpr char kIdempotencyKeySystem[] =
    "https://sild.ee/fhir/sid/idempotency-key";
inline constexpr char kCaseIdSystem[] = "https://sild.ee/fhir/sid/case-id";
inline constexpr char kConsentIdSystem[] =
    "https://sild.ee/fhir/sid/consent-id";
inline constexpr char kExternalReferenceSystem[] =
    "https://sild.ee/fhir/sid/consent-external-reference";
inline constexpr char kPseudonymSystem[] =
    "https://sild.ee/fhir/sid/subject-pseudonym";
inline constexpr char kServiceTypeSystem[] =
    "https://sild.ee/fhir/CodeSystem/service-type";
inline constexpr char kPurposeSystem[] =
    "https://sild.ee/fhir/CodeSystem/purpose";
inline constexpr char kRiskIndicatorSystem[] =
    "https://sild.ee/fhir/CodeSystem/risk-indicator";
inline constexpr char kReferralStatusSystem[] =
    "https://sild.ee/fhir/CodeSystem/referral-status";
inline constexpr char kRejectionReasonSystem[] =
    "https://sild.ee/fhir/CodeSystem/rejection-reason";
inline constexpr char kDataCategorySystem[] =
    "https://sild.ee/fhir/CodeSystem/data-category";
inline constexpr char kAgencyKindSystem[] =
    "https://sild.ee/fhir/CodeSystem/agency-kind";
inline constexpr char kAuditActionSystem[] =
    "https://sild.ee/fhir/CodeSystem/audit-action";
inline constexpr char kMessageKindSystem[] =
    "https://sild.ee/fhir/CodeSystem/message-kind";
inline constexpr char kConsentStatusExtension[] =
    "https://sild.ee/fhir/StructureDefinition/consent-status";
inline constexpr char kRelationExtension[] =
    "https://sild.ee/fhir/StructureDefinition/representative-relation";
inline constexpr char kIcd10System[] = "http://hl7.org/fhir/sid/icd-10";
}  // namespace fhir

class FhirCodec final : public Codec {
 public:
  static constexpr char kName[] = "fhir-r4";

  explicit FhirCodec(const sild::connectors::v1::FhirCodecConfig& config = {});

  std::string name() const override { return kName; }
  std::string content_type() const override { return "application/fhir+json"; }
  std::vector<sild::v1::MessageKind> kinds() const override {
    return {sild::v1::MESSAGE_KIND_REFERRAL,
            sild::v1::MESSAGE_KIND_REFERRAL_STATUS};
  }
  CodecLimits limits() const override { return limits_; }

  // ServiceRequest -> referral, Task -> status_update.
  absl::StatusOr<sild::v1::Envelope> Decode(
      absl::string_view native) const override;
  absl::StatusOr<std::string> Encode(
      const sild::v1::Envelope& envelope) const override;

  absl::StatusOr<sild::v1::Consent> DecodeConsent(
      absl::string_view native) const;
  absl::StatusOr<std::string> EncodeConsent(
      const sild::v1::Consent& consent) const;
  absl::StatusOr<std::string> EncodeAuditEvent(
      const sild::v1::AuditRecord& record) const;

  // Parses any FHIR JSON resource within the limits and returns its
  // resourceType (INVALID_ARGUMENT INVALID_JSON / MISSING_FIELD otherwise).
  absl::StatusOr<std::string> ResourceType(absl::string_view native) const;

 private:
  CodecLimits limits_;
  bool pretty_;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_CODECS_FHIR_FHIR_CODEC_H_
