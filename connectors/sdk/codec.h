// Codec: translates an agency's native format to and from the canonical
// sild.v1 messages. Start here when writing a connector (docs/connectors.md).
//
//   SILD_ASSIGN_OR_RETURN(sild::v1::Envelope canonical, codec.Decode(bytes));
//   SILD_ASSIGN_OR_RETURN(std::string native, codec.Encode(envelope));
//
// Contract for implementations:
//  - Decode validates as it parses: invalid input gives INVALID_ARGUMENT with
//    a stable reason code and the native path of the offending element
//    (JSON pointer "/subject/reference" or XPath "/opilane/isikukood") as the
//    error's field (gateway/base/errors.h), and produces nothing.
//  - Input over Limits().max_bytes or nested deeper than max_depth is
//    refused (RESOURCE_EXHAUSTED, reason INPUT_TOO_LARGE / INPUT_TOO_DEEP)
//    before it is parsed further.
//  - Round trip: Decode(Encode(m)) keeps every field of m that the native
//    format can carry (CanCarry() says which), including the header's
//    message id and idempotency key.
//  - Encode receives a message already minimised for the recipient: it must
//    not fail or invent data when fields are missing.
//  - Implementations are immutable after construction and thread-safe.
#ifndef SILD_CONNECTORS_SDK_CODEC_H_
#define SILD_CONNECTORS_SDK_CODEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sild/v1/exchange.pb.h"

namespace sild::connectors {

struct CodecLimits {
  size_t max_bytes = 4 * 1024 * 1024;
  int max_depth = 64;
};

class Codec {
 public:
  virtual ~Codec() = default;

  // The registry name, e.g. "fhir-r4".
  virtual std::string name() const = 0;
  // MIME type of the native bytes, e.g. "application/fhir+json".
  virtual std::string content_type() const = 0;
  // Message kinds this codec translates in both directions.
  virtual std::vector<sild::v1::MessageKind> kinds() const = 0;
  virtual CodecLimits limits() const { return CodecLimits(); }

  virtual absl::StatusOr<sild::v1::Envelope> Decode(
      absl::string_view native) const = 0;
  virtual absl::StatusOr<std::string> Encode(
      const sild::v1::Envelope& envelope) const = 0;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_SDK_CODEC_H_
