// Codec conformance kit: the GoogleTest suite every sild codec must pass.
// A connector's test instantiates it with one macro:
//
//   #include "connectors/sdk/conformance/codec_conformance.h"
//   using sild::connectors::conformance::CodecConformanceParams;
//
//   CodecConformanceParams FhirParams() {
//     CodecConformanceParams params;
//     params.codec_name = "fhir-r4";
//     params.samples = {{.name = "referral", .canonical = MakeReferral()}};
//     params.carried = {"message_id", "kind", "referral.subject.id",
//                       "referral.service", "referral.header.idempotency_key"};
//     params.invalid = {{.name = "bad_personal_code",
//                        .native = R"({"resourceType": ...})",
//                        .reason = "INVALID_PERSONAL_CODE",
//                        .field = "/subject/identifier/0/value"}};
//     params.make_deep = [](int depth) { return NestedJson(depth); };
//     return params;
//   }
//   SILD_CODEC_CONFORMANCE(Fhir, FhirParams());
//
// Link the test with `sild_codec_conformance` and the codec's library (the
// kit finds the codec through the registry, by name). Tests run, per
// instantiation (test names CodecConformance/<Name>.<Check>/0):
//  RegisteredAndCreatableWithEmptyConfig  (g) the name is registered;
//      CreateCodec(name, empty Any) and CreateCodec(name, params.config)
//      succeed; name(), content_type() and kinds() are set; every sample's
//      kind is in kinds().
//  RoundTripKeepsCarriedFields  (a) for each sample: Encode, then Decode;
//      the result equals sample.expected_after_trip when given, else equals
//      the sample restricted to the carried paths (sample.carried, or
//      params.carried when the sample gives none). Paths are proto field
//      names from sild.v1.Envelope joined by '.', e.g. "referral.subject.id"
//      (a message path keeps the whole sub-message); a path through a
//      repeated message field applies to every element. Unknown paths fail.
//  InvalidInputIsRefusedWithReasonAndPath  (b) each params.invalid input
//      decodes to INVALID_ARGUMENT with exactly that reason code and field
//      path (gateway/base/errors.h), and no value.
//  OversizedInputIsRefused  (c) max_bytes + 1 bytes give RESOURCE_EXHAUSTED
//      INPUT_TOO_LARGE; exactly max_bytes bytes do not.
//  DeepInputIsRefusedWithoutExhaustingTheStack  (c) make_deep(max_depth + 1)
//      and make_deep(100000) give RESOURCE_EXHAUSTED INPUT_TOO_DEEP;
//      make_deep(max_depth / 2) does not. Skipped when make_deep is unset
//      (only for formats that cannot nest, such as one CSV line).
//  MessageIdAndIdempotencyKeySurvive  (d) Envelope.message_id and the body
//      header's idempotency_key are equal after Encode + Decode.
//  EncodesMinimisedMessage  (e) each sample minimised for a recipient
//      permitted only what is always permitted (OPERATIONAL and PROFESSIONAL;
//      MinimiseTo below, the gateway Projector's rules) encodes OK; decoding
//      that output gives OK or INVALID_ARGUMENT (a format may require an
//      identifier the recipient was not given), never another code.
//  RandomMutationsDecodeCleanly  (f) params.fuzz_mutations (default 500)
//      random mutations of each encoded sample and of each extra native
//      seed (params.native_seeds) decode to OK or to a status with a reason
//      code (INVALID_ARGUMENT / RESOURCE_EXHAUSTED); never a crash, a hang or
//      another code. Deterministic: seeded with params.fuzz_seed.
//
// Thread safety and ownership: the kit creates its own codec per test; params
// are copied into the test. Failures are reported through GoogleTest; the kit
// never throws.
#ifndef SILD_CONNECTORS_SDK_CONFORMANCE_CODEC_CONFORMANCE_H_
#define SILD_CONNECTORS_SDK_CONFORMANCE_CODEC_CONFORMANCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/any.pb.h"
#include "gtest/gtest.h"
#include "sild/v1/exchange.pb.h"
#include "sild/v1/options.pb.h"

namespace sild::connectors::conformance {

// A canonical message the codec must carry through Encode + Decode.
struct CodecSample {
  // Label in failure messages.
  std::string name = {};
  sild::v1::Envelope canonical = {};
  // The exact canonical expected after the trip; when set, `carried` is
  // not used for this sample.
  std::optional<sild::v1::Envelope> expected_after_trip = std::nullopt;
  // Carried field paths for this sample; empty: CodecConformanceParams.carried.
  std::vector<std::string> carried = {};
};

// Native bytes the codec must refuse.
struct InvalidSample {
  std::string name = {};
  std::string native = {};
  // Expected ErrorReason() and ErrorField() of the INVALID_ARGUMENT status.
  std::string reason = {};
  std::string field = {};
};

struct CodecConformanceParams {
  // Registry name of the codec under test.
  std::string codec_name;
  // Typed config (packed); an empty Any means the default config.
  google::protobuf::Any config;
  std::vector<CodecSample> samples;
  std::vector<InvalidSample> invalid;
  // Default carried field paths (see RoundTripKeepsCarriedFields).
  std::vector<std::string> carried;
  // Native bytes nested `depth` levels deep as the codec counts depth;
  // unset only for formats that cannot nest.
  std::function<std::string(int depth)> make_deep;
  // Extra valid native inputs used as mutation seeds (e.g. official examples).
  std::vector<std::string> native_seeds;
  int fuzz_mutations = 500;
  uint32_t fuzz_seed = 20240601;
};

// Prints only the codec name (GoogleTest prints parameters in failures).
void PrintTo(const CodecConformanceParams& params, std::ostream* os);

// Restricts `message` in place to `paths` (see RoundTripKeepsCarriedFields).
// INVALID_ARGUMENT naming the path when a path does not exist.
absl::Status KeepOnlyPaths(const std::vector<std::string>& paths,
                           google::protobuf::Message* message);

// Minimises `message` in place for a recipient permitted exactly `permitted`,
// by the rules of the gateway's Projector (gateway/minimise/projector.h),
// walked by reflection over the (sild.v1.category) field options: a field's
// effective category is its own or the nearest enclosing message field's; a
// leaf (or a map with scalar values) is kept only when its effective category
// is permitted, so a leaf without one is cleared; a message field whose
// category is not permitted is cleared whole; messages, elements and map
// entries left empty are removed; unknown fields are dropped. The kit stands
// on the SDK alone, so it does not link the Projector; a test of the SDK
// (tests/connectors/sdk/) checks that both give the same result. Unlike
// the Projector, nothing is added to `permitted`.
void MinimiseTo(const std::vector<sild::v1::DataCategory>& permitted,
                google::protobuf::Message* message);

// The MessageHeader of the envelope's body, or nullptr when it has none.
const sild::v1::MessageHeader* HeaderOf(const sild::v1::Envelope& envelope);

class CodecConformanceTest
    : public ::testing::TestWithParam<CodecConformanceParams> {};

}  // namespace sild::connectors::conformance

// Instantiates the codec conformance suite. `...` is an expression of type
// CodecConformanceParams (variadic so braced initialisers with commas work).
// Use it at namespace scope outside sild::connectors::conformance.
#define SILD_CODEC_CONFORMANCE(Name, ...)                    \
  using CodecConformanceTest =                               \
      ::sild::connectors::conformance::CodecConformanceTest; \
  INSTANTIATE_TEST_SUITE_P(Name, CodecConformanceTest,       \
                           ::testing::Values(__VA_ARGS__))

#endif  // SILD_CONNECTORS_SDK_CONFORMANCE_CODEC_CONFORMANCE_H_
