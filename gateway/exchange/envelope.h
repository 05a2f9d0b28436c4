// What every stage asks of a sild.v1.Envelope, answered once: its header,
// its kind's name and the child it is about. Pure functions; thread-safe.
//
//   const sild::v1::MessageHeader& header = Header(envelope);
//   std::string code = SubjectPersonalCodeOf(envelope);   // "" when none
//   std::string kind = KindName(header.kind());          // "REFERRAL"
#ifndef SILD_GATEWAY_EXCHANGE_ENVELOPE_H_
#define SILD_GATEWAY_EXCHANGE_ENVELOPE_H_

#include <string>

#include "sild/v1/exchange.pb.h"

namespace sild::exchange {

// The body's header; nullptr (MutableHeader) or the default instance
// (Header) when the envelope has no body.
sild::v1::MessageHeader* MutableHeader(sild::v1::Envelope& envelope);
const sild::v1::MessageHeader& Header(const sild::v1::Envelope& envelope);

// The personal code of the child the body names: the subject of a referral,
// transition or assessment, the subject of a consent withdrawal notice or of
// an escalation. "" for a body that names none (a status update, whose child
// is the one of the message it replies to).
std::string SubjectPersonalCodeOf(const sild::v1::Envelope& envelope);

// "REFERRAL", "TRANSITION", ...: the kind without its MESSAGE_KIND_ prefix,
// as connectors see it.
std::string KindName(sild::v1::MessageKind kind);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_ENVELOPE_H_
