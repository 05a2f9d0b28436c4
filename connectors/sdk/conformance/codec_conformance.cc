#include "connectors/sdk/conformance/codec_conformance.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "sild/v1/options.pb.h"

namespace sild::connectors::conformance {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::MessageDifferencer;

constexpr int kVeryDeep = 100000;

// A tree of path components: an empty child set means "keep everything".
struct PathTree {
  std::map<std::string, PathTree> children;
  bool whole = false;
};

absl::Status CheckTree(const PathTree& tree, const Descriptor* descriptor,
                       const std::string& prefix) {
  for (const auto& [name, child] : tree.children) {
    const FieldDescriptor* field = descriptor->FindFieldByName(name);
    std::string path = prefix.empty() ? name : absl::StrCat(prefix, ".", name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("carried path \"", path, "\": ", descriptor->full_name(),
                       " has no field \"", name, "\""));
    }
    if (child.whole) continue;
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        field->is_map()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "carried path \"", path, "\" descends into a scalar or map field"));
    }
    absl::Status status = CheckTree(child, field->message_type(), path);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void Trim(const PathTree& tree, Message* message) {
  const Reflection* reflection = message->GetReflection();
  const Descriptor* descriptor = message->GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    auto it = tree.children.find(field->name());
    if (it == tree.children.end()) {
      reflection->ClearField(message, field);
      continue;
    }
    if (it->second.whole) continue;
    if (field->is_repeated()) {
      for (int j = 0; j < reflection->FieldSize(*message, field); ++j) {
        Trim(it->second, reflection->MutableRepeatedMessage(message, field, j));
      }
    } else if (reflection->HasField(*message, field)) {
      Trim(it->second, reflection->MutableMessage(message, field));
    }
  }
  message->GetReflection()->MutableUnknownFields(message)->Clear();
}

uint32_t CategoryBit(int category) {
  return category > sild::v1::DATA_CATEGORY_UNSPECIFIED &&
                 category <= sild::v1::DataCategory_MAX
             ? uint32_t{1} << category
             : 0;
}

void DropUnknownFields(Message* message) {
  const Reflection* reflection = message->GetReflection();
  if (!reflection->GetUnknownFields(*message).empty()) {
    reflection->MutableUnknownFields(message)->Clear();
  }
}

// Minimises `message` for `permitted` (category bits), `inherited` being the
// effective category of the enclosing field; true if nothing is left.
bool Minimise(uint32_t permitted, uint32_t inherited, Message* message);

// The elements of a repeated message field (or the values of a map with
// message values), those left empty deleted; true if none is left.
bool MinimiseElements(uint32_t permitted, uint32_t effective,
                      const FieldDescriptor* field, Message* message) {
  const Reflection* reflection = message->GetReflection();
  const FieldDescriptor* map_value =
      field->is_map() ? field->message_type()->map_value() : nullptr;
  const int size = reflection->FieldSize(*message, field);
  int kept = 0;
  for (int i = 0; i < size; ++i) {
    Message* element = reflection->MutableRepeatedMessage(message, field, i);
    bool empty;
    if (map_value != nullptr) {
      DropUnknownFields(element);
      const Reflection* entry = element->GetReflection();
      empty = !entry->HasField(*element, map_value) ||
              Minimise(permitted, effective,
                       entry->MutableMessage(element, map_value));
    } else {
      empty = Minimise(permitted, effective, element);
    }
    if (empty) continue;
    if (kept != i) reflection->SwapElements(message, field, kept, i);
    ++kept;
  }
  for (int i = kept; i < size; ++i) reflection->RemoveLast(message, field);
  return kept == 0;
}

bool Minimise(uint32_t permitted, uint32_t inherited, Message* message) {
  const Reflection* reflection = message->GetReflection();
  DropUnknownFields(message);
  std::vector<const FieldDescriptor*> set;
  reflection->ListFields(*message, &set);
  bool empty = true;
  for (const FieldDescriptor* field : set) {
    const uint32_t own =
        CategoryBit(field->options().GetExtension(sild::v1::category));
    const uint32_t effective = own != 0 ? own : inherited;
    const bool allowed = (effective & permitted) != 0;
    const bool descends =
        field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        (!field->is_map() || field->message_type()->map_value()->cpp_type() ==
                                 FieldDescriptor::CPPTYPE_MESSAGE);
    if (!descends) {
      // A leaf, or a map with scalar values: its own category governs.
      if (allowed) {
        empty = false;
      } else {
        reflection->ClearField(message, field);
      }
      continue;
    }
    bool cleared;
    if (effective != 0 && !allowed) {
      cleared = true;
    } else if (field->is_repeated()) {
      cleared = MinimiseElements(permitted, effective, field, message);
    } else {
      cleared = Minimise(permitted, effective,
                         reflection->MutableMessage(message, field));
    }
    if (cleared) {
      reflection->ClearField(message, field);
    } else {
      empty = false;
    }
  }
  return empty;
}

std::unique_ptr<Codec> MakeCodec(const CodecConformanceParams& params) {
  auto codec = CreateCodec(params.codec_name, params.config, "codec_config");
  EXPECT_TRUE(codec.ok()) << codec.status();
  return codec.ok() ? std::move(*codec) : nullptr;
}

std::string Describe(const absl::Status& status) {
  return absl::StrCat(status.ToString(), " [reason=", ErrorReason(status),
                      " field=", ErrorField(status), "]");
}

const std::vector<std::string>& CarriedFor(const CodecSample& sample,
                                           const CodecConformanceParams& p) {
  return sample.carried.empty() ? p.carried : sample.carried;
}

// One random structural edit of `input`.
std::string Mutate(const std::string& input, std::mt19937& rng) {
  std::string out = input;
  auto pick = [&](size_t n) {
    return n == 0 ? size_t{0}
                  : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  static constexpr char kInteresting[] = "{}[]<>\"'\\;:,/&#\n\0-0123456789eE.";
  int edits = 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits; ++e) {
    switch (pick(7)) {
      case 0:  // flip a bit
        if (!out.empty()) out[pick(out.size())] ^= 1 << pick(8);
        break;
      case 1:  // random byte
        if (!out.empty()) out[pick(out.size())] = static_cast<char>(pick(256));
        break;
      case 2:  // insert a syntax character
        out.insert(out.begin() + pick(out.size() + 1),
                   kInteresting[pick(sizeof(kInteresting) - 1)]);
        break;
      case 3: {  // delete a range
        if (out.empty()) break;
        size_t at = pick(out.size());
        out.erase(at, 1 + pick(std::min<size_t>(16, out.size() - at)));
        break;
      }
      case 4: {  // duplicate a range
        if (out.empty()) break;
        size_t at = pick(out.size());
        std::string piece = out.substr(at, 1 + pick(32));
        out.insert(pick(out.size() + 1), piece);
        break;
      }
      case 5:  // truncate
        out.resize(pick(out.size() + 1));
        break;
      case 6: {  // swap two bytes
        if (out.size() < 2) break;
        std::swap(out[pick(out.size())], out[pick(out.size())]);
        break;
      }
    }
  }
  return out;
}

}  // namespace

// A binary may link the kit and instantiate only one of its suites.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CodecConformanceTest);

void PrintTo(const CodecConformanceParams& params, std::ostream* os) {
  *os << "CodecConformanceParams{" << params.codec_name << "}";
}

absl::Status KeepOnlyPaths(const std::vector<std::string>& paths,
                           Message* message) {
  PathTree tree;
  for (const std::string& path : paths) {
    PathTree* node = &tree;
    for (absl::string_view part : absl::StrSplit(path, '.')) {
      node = &node->children[std::string(part)];
    }
    node->whole = true;
  }
  absl::Status status = CheckTree(tree, message->GetDescriptor(), "");
  if (!status.ok()) return status;
  Trim(tree, message);
  return absl::OkStatus();
}

void MinimiseTo(const std::vector<sild::v1::DataCategory>& permitted,
                google::protobuf::Message* message) {
  uint32_t bits = 0;
  for (sild::v1::DataCategory category : permitted) {
    bits |= CategoryBit(category);
  }
  Minimise(bits, 0, message);
}

const sild::v1::MessageHeader* HeaderOf(const sild::v1::Envelope& envelope) {
  switch (envelope.body_case()) {
    case sild::v1::Envelope::kReferral:
      return &envelope.referral().header();
    case sild::v1::Envelope::kStatusUpdate:
      return &envelope.status_update().header();
    case sild::v1::Envelope::kTransition:
      return &envelope.transition().header();
    case sild::v1::Envelope::kAssessment:
      return &envelope.assessment().header();
    case sild::v1::Envelope::kConsentWithdrawal:
      return &envelope.consent_withdrawal().header();
    case sild::v1::Envelope::kEscalation:
      return &envelope.escalation().header();
    case sild::v1::Envelope::BODY_NOT_SET:
      return nullptr;
  }
  return nullptr;
}

TEST_P(CodecConformanceTest, RegisteredAndCreatableWithEmptyConfig) {
  const CodecConformanceParams& params = GetParam();
  ASSERT_NE(Registry<CodecFactory>::Get().Find(params.codec_name), nullptr)
      << "no codec factory registered as \"" << params.codec_name
      << "\": SILD_REGISTER_CODEC_FACTORY missing, or the library not "
         "linked whole";
  auto empty = CreateCodec(params.codec_name, google::protobuf::Any(), "codec");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ((*empty)->name(), params.codec_name);
  EXPECT_FALSE((*empty)->content_type().empty());
  std::vector<sild::v1::MessageKind> kinds = (*empty)->kinds();
  EXPECT_FALSE(kinds.empty());
  std::unique_ptr<Codec> configured = MakeCodec(params);
  ASSERT_NE(configured, nullptr);
  EXPECT_EQ(configured->name(), params.codec_name);
  EXPECT_FALSE(params.samples.empty()) << "give at least one sample";
  for (const CodecSample& sample : params.samples) {
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), sample.canonical.kind()),
              kinds.end())
        << sample.name << ": kind "
        << sild::v1::MessageKind_Name(sample.canonical.kind())
        << " is not in kinds()";
  }
}

TEST_P(CodecConformanceTest, RoundTripKeepsCarriedFields) {
  const CodecConformanceParams& params = GetParam();
  std::unique_ptr<Codec> codec = MakeCodec(params);
  ASSERT_NE(codec, nullptr);
  for (const CodecSample& sample : params.samples) {
    SCOPED_TRACE(sample.name);
    auto native = codec->Encode(sample.canonical);
    ASSERT_TRUE(native.ok()) << Describe(native.status());
    auto decoded = codec->Decode(*native);
    ASSERT_TRUE(decoded.ok()) << Describe(decoded.status()) << "\nnative:\n"
                              << *native;
    sild::v1::Envelope expected;
    sild::v1::Envelope actual = *decoded;
    if (sample.expected_after_trip.has_value()) {
      expected = *sample.expected_after_trip;
    } else {
      const std::vector<std::string>& carried = CarriedFor(sample, params);
      ASSERT_FALSE(carried.empty())
          << "give carried paths or expected_after_trip";
      expected = sample.canonical;
      absl::Status status = KeepOnlyPaths(carried, &expected);
      ASSERT_TRUE(status.ok()) << status;
      ASSERT_TRUE(KeepOnlyPaths(carried, &actual).ok());
      EXPECT_GT(expected.ByteSizeLong(), 0u)
          << "the sample sets none of the carried fields";
    }
    MessageDifferencer differencer;
    std::string report;
    differencer.ReportDifferencesToString(&report);
    EXPECT_TRUE(differencer.Compare(expected, actual))
        << "round trip lost or changed carried fields:\n"
        << report << "native:\n"
        << *native;
  }
}

TEST_P(CodecConformanceTest, InvalidInputIsRefusedWithReasonAndPath) {
  const CodecConformanceParams& params = GetParam();
  std::unique_ptr<Codec> codec = MakeCodec(params);
  ASSERT_NE(codec, nullptr);
  for (const InvalidSample& invalid : params.invalid) {
    SCOPED_TRACE(invalid.name);
    auto decoded = codec->Decode(invalid.native);
    ASSERT_FALSE(decoded.ok()) << "decoded to:\n" << decoded->DebugString();
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << Describe(decoded.status());
    EXPECT_EQ(ErrorReason(decoded.status()), invalid.reason)
        << Describe(decoded.status());
    EXPECT_EQ(ErrorField(decoded.status()), invalid.field)
        << Describe(decoded.status());
  }
}

TEST_P(CodecConformanceTest, OversizedInputIsRefused) {
  const CodecConformanceParams& params = GetParam();
  std::unique_ptr<Codec> codec = MakeCodec(params);
  ASSERT_NE(codec, nullptr);
  const size_t max_bytes = codec->limits().max_bytes;
  std::string seed;
  if (!params.samples.empty()) {
    auto native = codec->Encode(params.samples.front().canonical);
    if (native.ok()) seed = *native;
  }
  std::string input = seed.substr(0, max_bytes);
  input.resize(max_bytes + 1, ' ');
  auto too_large = codec->Decode(input);
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.status().code(), absl::StatusCode::kResourceExhausted)
      << Describe(too_large.status());
  EXPECT_EQ(ErrorReason(too_large.status()), "INPUT_TOO_LARGE")
      << Describe(too_large.status());
  input.resize(max_bytes);
  auto at_limit = codec->Decode(input);
  EXPECT_NE(ErrorReason(at_limit.status()), "INPUT_TOO_LARGE")
      << "exactly max_bytes must be accepted for parsing";
}

TEST_P(CodecConformanceTest, DeepInputIsRefusedWithoutExhaustingTheStack) {
  const CodecConformanceParams& params = GetParam();
  if (!params.make_deep) {
    GTEST_SKIP() << params.codec_name << " declares a format that cannot nest";
  }
  std::unique_ptr<Codec> codec = MakeCodec(params);
  ASSERT_NE(codec, nullptr);
  const int max_depth = codec->limits().max_depth;
  for (int depth : {max_depth + 1, kVeryDeep}) {
    SCOPED_TRACE(absl::StrCat("depth ", depth));
    std::string input = params.make_deep(depth);
    ASSERT_LE(input.size(), codec->limits().max_bytes)
        << "make_deep output exceeds max_bytes; it must test depth alone";
    auto decoded = codec->Decode(input);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kResourceExhausted)
        << Describe(decoded.status());
    EXPECT_EQ(ErrorReason(decoded.status()), "INPUT_TOO_DEEP")
        << Describe(decoded.status());
  }
  auto shallow = codec->Decode(params.make_deep(max_depth / 2));
  EXPECT_NE(ErrorReason(shallow.status()), "INPUT_TOO_DEEP")
      << "depth " << max_depth / 2 << " is within max_depth " << max_depth;
}

TEST_P(CodecConformanceTest, MessageIdAndIdempotencyKeySurvive) {
  const CodecConformanceParams& params = GetParam();
  std::unique_ptr<Codec> codec = MakeCodec(params);
  ASSERT_NE(codec, nullptr);
  for (const CodecSample& sample : params.samples) {
    SCOPED_TRACE(sample.name);
    const sild::v1::MessageHeader* header = HeaderOf(sample.canonical);
    ASSERT_NE(header, nullptr) << "the sample has no body";
    EXPECT_FALSE(sample.canonical.message_id().empty() ||
                 header->idempotency_key().empty())
        << "the sample must set message_id and header.idempotency_key";
    auto native = codec->Encode(sample.canonical);
    ASSERT_TRUE(native.ok()) << Describe(native.status());
    auto decoded = codec->Decode(*native);
    ASSERT_TRUE(decoded.ok()) << Describe(decoded.status());
    EXPECT_EQ(decoded->message_id(), sample.canonical.message_id());
    const sild::v1::MessageHeader* decoded_header = HeaderOf(*decoded);
    ASSERT_NE(decoded_header, nullptr);
    EXPECT_EQ(decoded_header->idempotency_key(), header->idempotency_key());
  }
}

TEST_P(CodecConformanceTest, EncodesMinimisedMessage) {
  const CodecConformanceParams& params = GetParam();
  std::unique_ptr<Codec> codec = MakeCodec(params);
  ASSERT_NE(codec, nullptr);
  for (const CodecSample& sample : params.samples) {
    SCOPED_TRACE(sample.name);
    sild::v1::Envelope minimised = sample.canonical;
    MinimiseTo({sild::v1::DATA_CATEGORY_OPERATIONAL,
                sild::v1::DATA_CATEGORY_PROFESSIONAL},
               &minimised);
    auto native = codec->Encode(minimised);
    ASSERT_TRUE(native.ok()) << Describe(native.status()) << "\n"
                             << minimised.DebugString();
    auto decoded = codec->Decode(*native);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
          << Describe(decoded.status());
      EXPECT_FALSE(ErrorReason(decoded.status()).empty())
          << Describe(decoded.status());
    }
  }
}

TEST_P(CodecConformanceTest, RandomMutationsDecodeCleanly) {
  const CodecConformanceParams& params = GetParam();
  std::unique_ptr<Codec> codec = MakeCodec(params);
  ASSERT_NE(codec, nullptr);
  std::vector<std::string> seeds = params.native_seeds;
  for (const CodecSample& sample : params.samples) {
    auto native = codec->Encode(sample.canonical);
    ASSERT_TRUE(native.ok()) << Describe(native.status());
    seeds.push_back(*native);
  }
  std::mt19937 rng(params.fuzz_seed);
  int ok = 0;
  int refused = 0;
  for (const std::string& seed : seeds) {
    for (int i = 0; i < params.fuzz_mutations; ++i) {
      std::string mutated = Mutate(seed, rng);
      auto decoded = codec->Decode(mutated);
      if (decoded.ok()) {
        ++ok;
        continue;
      }
      ++refused;
      const absl::StatusCode code = decoded.status().code();
      EXPECT_TRUE(code == absl::StatusCode::kInvalidArgument ||
                  code == absl::StatusCode::kResourceExhausted)
          << Describe(decoded.status()) << "\ninput:\n"
          << mutated;
      EXPECT_FALSE(ErrorReason(decoded.status()).empty())
          << "a refusal must carry a reason code: "
          << Describe(decoded.status()) << "\ninput:\n"
          << mutated;
      if (HasFailure()) return;  // one clear report, not 500
    }
  }
  RecordProperty("decoded_ok", ok);
  RecordProperty("refused", refused);
}

}  // namespace sild::connectors::conformance
