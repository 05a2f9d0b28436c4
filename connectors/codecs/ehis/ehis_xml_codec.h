// The "ehis-xml" codec: the pupil record a school information system sends
// the Education Information System (EHIS), as XML with EHIS's Estonian
// element names. One document, one <opilane>, one sild.v1 message:
//
//   <opilane>
//     <sonum><id>..</id><idempotentsusvoti>..</idempotentsusvoti>
//            <liik>LAHKUMINE|HINDAMINE|SUUNAMINE</liik></sonum>
//     <isikukood>51205280105</isikukood>
//     <oppeasutus><registrikood>75001017</registrikood></oppeasutus>
//     <pohjusetaPuudumised><pohjusetaPuudumine><aasta>2023</aasta>
//       <veerand>2</veerand><tunnid>220</tunnid><puudumised>31</puudumised>
//     </pohjusetaPuudumine></pohjusetaPuudumised>
//     <lahkumine><kuupaev>31.01.2024</kuupaev><pohjus>KATKESTANUD</pohjus>
//     </lahkumine>
//   </opilane>
//
//   LAHKUMINE (leaving the school)        -> Envelope.transition
//   HINDAMINE (early-warning indicators)  -> Envelope.assessment, with the
//                                            ABC points and tier (abc_score.h)
//   SUUNAMINE (support team's referral)   -> Envelope.referral
//
// The full shape, every element's mapping and what the format cannot carry
// are in docs/codecs.md.
//
// Trust: the document comes from a school's own system, through a transport
// that authenticated the school; its content is validated, not believed.
// Personal and registry codes, dates (dd.mm.yyyy, real calendar dates),
// numbers and every classifier value are checked; unknown and duplicated
// elements are refused. Errors are INVALID_ARGUMENT with a stable reason
// code and the XPath of the offending element ("/opilane/isikukood",
// "/opilane/pohjusetaPuudumised/pohjusetaPuudumine[2]/veerand"); nothing is
// produced. Before parsing, input over max_bytes is refused
// (INPUT_TOO_LARGE), and so is any DOCTYPE (DOCTYPE_NOT_ALLOWED: no DTD,
// so no entity is ever defined or expanded, no external resource read) and
// anything that is not UTF-8 without NUL (INVALID_ENCODING). Nesting beyond
// max_depth is INPUT_TOO_DEEP. The parser (pugixml) does not recurse on
// nesting, so deep input cannot exhaust the stack.
//
// Thread safety: immutable after construction, thread-safe.
#ifndef SILD_CONNECTORS_CODECS_EHIS_EHIS_XML_CODEC_H_
#define SILD_CONNECTORS_CODECS_EHIS_EHIS_XML_CODEC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "sild/connectors/v1/ehis.pb.h"

namespace sild::connectors {

class EhisXmlCodec final : public Codec {
 public:
  static constexpr char kName[] = "ehis-xml";

  explicit EhisXmlCodec(const sild::connectors::v1::EhisCodecConfig& config =
                            sild::connectors::v1::EhisCodecConfig());

  // The checked way to make one: INVALID_ARGUMENT INVALID_CONNECTOR_CONFIG
  // at "max_depth" when it is over 1000.
  static absl::StatusOr<std::unique_ptr<EhisXmlCodec>> Create(
      const sild::connectors::v1::EhisCodecConfig& config);

  std::string name() const override { return kName; }
  std::string content_type() const override { return "application/xml"; }
  std::vector<sild::v1::MessageKind> kinds() const override {
    return {sild::v1::MESSAGE_KIND_TRANSITION,
            sild::v1::MESSAGE_KIND_ASSESSMENT, sild::v1::MESSAGE_KIND_REFERRAL};
  }
  CodecLimits limits() const override { return limits_; }

  absl::StatusOr<sild::v1::Envelope> Decode(
      absl::string_view native) const override;
  absl::StatusOr<std::string> Encode(
      const sild::v1::Envelope& envelope) const override;

 private:
  bool compact_;
  CodecLimits limits_;
};

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_CODECS_EHIS_EHIS_XML_CODEC_H_
