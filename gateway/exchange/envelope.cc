#include "gateway/exchange/envelope.h"

#include "absl/strings/strip.h"

namespace sild::exchange {

using sild::v1::Envelope;

sild::v1::MessageHeader* MutableHeader(Envelope& envelope) {
  switch (envelope.body_case()) {
    case Envelope::kReferral:
      return envelope.mutable_referral()->mutable_header();
    case Envelope::kStatusUpdate:
      return envelope.mutable_status_update()->mutable_header();
    case Envelope::kTransition:
      return envelope.mutable_transition()->mutable_header();
    case Envelope::kAssessment:
      return envelope.mutable_assessment()->mutable_header();
    case Envelope::kConsentWithdrawal:
      return envelope.mutable_consent_withdrawal()->mutable_header();
    case Envelope::kEscalation:
      return envelope.mutable_escalation()->mutable_header();
    case Envelope::BODY_NOT_SET:
      break;
  }
  return nullptr;
}

const sild::v1::MessageHeader& Header(const Envelope& envelope) {
  switch (envelope.body_case()) {
    case Envelope::kReferral:
      return envelope.referral().header();
    case Envelope::kStatusUpdate:
      return envelope.status_update().header();
    case Envelope::kTransition:
      return envelope.transition().header();
    case Envelope::kAssessment:
      return envelope.assessment().header();
    case Envelope::kConsentWithdrawal:
      return envelope.consent_withdrawal().header();
    case Envelope::kEscalation:
      return envelope.escalation().header();
    case Envelope::BODY_NOT_SET:
      break;
  }
  return sild::v1::MessageHeader::default_instance();
}

std::string SubjectPersonalCodeOf(const Envelope& envelope) {
  switch (envelope.body_case()) {
    case Envelope::kReferral:
      return envelope.referral().subject().id().value();
    case Envelope::kTransition:
      return envelope.transition().subject().id().value();
    case Envelope::kAssessment:
      return envelope.assessment().subject().id().value();
    case Envelope::kConsentWithdrawal:
      return envelope.consent_withdrawal().subject().value();
    case Envelope::kEscalation:
      return envelope.escalation().subject().value();
    case Envelope::kStatusUpdate:
    case Envelope::BODY_NOT_SET:
      break;
  }
  return "";
}

std::string KindName(sild::v1::MessageKind kind) {
  return std::string(
      absl::StripPrefix(sild::v1::MessageKind_Name(kind), "MESSAGE_KIND_"));
}

}  // namespace sild::exchange
