// The conformance kit's MinimiseTo (which stands on the SDK alone) against
// the gateway's Projector: the same result for every permitted set, on the
// codecs' golden canonical messages and on envelopes of every body kind with
// every field of the schema set.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "connectors/sdk/conformance/codec_conformance.h"
#include "gateway/minimise/category_set.h"
#include "gateway/minimise/projector.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "sild/v1/exchange.pb.h"

namespace sild::connectors::conformance {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Sets every field of `message` (`variant` picks oneof members and thins out
// repeated elements), down to `depth` levels; a message left at the bottom is
// empty, so projection must remove it.
void Fill(Message* message, int variant, int depth) {
  if (depth == 0) return;
  const Reflection* reflection = message->GetReflection();
  const Descriptor* descriptor = message->GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (const auto* oneof = field->real_containing_oneof()) {
      if (field->index_in_oneof() != variant % oneof->field_count()) continue;
    } else if ((variant + i) % 7 == 6) {
      continue;  // some fields stay unset
    }
    // Two elements at most; one map entry unless the keys can differ.
    const bool two =
        field->is_repeated() &&
        (!field->is_map() || field->message_type()->map_key()->cpp_type() ==
                                 FieldDescriptor::CPPTYPE_STRING);
    const int count = two ? 1 + (variant + i) % 2 : 1;
    for (int n = 0; n < count; ++n) {
      const bool repeated = field->is_repeated();
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          Message* child = repeated
                               ? reflection->AddMessage(message, field)
                               : reflection->MutableMessage(message, field);
          Fill(child, variant + n, n == 1 ? depth - 2 : depth - 1);
          if (field->is_map()) {
            // Distinct keys (Fill above set every key to "s").
            const FieldDescriptor* key = field->message_type()->map_key();
            const Reflection* entry = child->GetReflection();
            if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
              entry->SetString(child, key, "k" + std::to_string(n));
            }
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING:
          repeated ? reflection->AddString(message, field, "s")
                   : reflection->SetString(message, field, "s");
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          repeated ? reflection->AddBool(message, field, true)
                   : reflection->SetBool(message, field, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* type = field->enum_type();
          const int number =
              type->value(type->value_count() > 1 ? 1 : 0)->number();
          repeated ? reflection->AddEnumValue(message, field, number)
                   : reflection->SetEnumValue(message, field, number);
          break;
        }
        case FieldDescriptor::CPPTYPE_INT32:
          repeated ? reflection->AddInt32(message, field, 7)
                   : reflection->SetInt32(message, field, 7);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          repeated ? reflection->AddInt64(message, field, 7)
                   : reflection->SetInt64(message, field, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          repeated ? reflection->AddUInt32(message, field, 7)
                   : reflection->SetUInt32(message, field, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          repeated ? reflection->AddUInt64(message, field, 7)
                   : reflection->SetUInt64(message, field, 7);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          repeated ? reflection->AddDouble(message, field, 0.5)
                   : reflection->SetDouble(message, field, 0.5);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          repeated ? reflection->AddFloat(message, field, 0.5f)
                   : reflection->SetFloat(message, field, 0.5f);
          break;
      }
    }
  }
  reflection->MutableUnknownFields(message)->AddVarint(9999, 1);
}

std::vector<sild::v1::Envelope> FilledEnvelopes() {
  std::vector<sild::v1::Envelope> out;
  const int bodies =
      sild::v1::Envelope::descriptor()->FindOneofByName("body")->field_count();
  for (int variant = 0; variant < 4 * bodies; ++variant) {
    sild::v1::Envelope envelope;
    Fill(&envelope, variant, 8);
    out.push_back(std::move(envelope));
  }
  return out;
}

std::vector<sild::v1::Envelope> GoldenEnvelopes() {
  std::vector<sild::v1::Envelope> out;
  const std::filesystem::path root =
      std::filesystem::path(SILD_SOURCE_DIR) / "tests/connectors/codecs";
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(root)) {
    const std::string path = entry.path().string();
    if (!absl::EndsWith(path, ".canonical.json")) continue;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    sild::v1::Envelope envelope;
    // Canonical files of other types (fhir's Consent) are left out.
    if (google::protobuf::util::JsonStringToMessage(text.str(), &envelope)
            .ok()) {
      out.push_back(std::move(envelope));
    }
  }
  return out;
}

// Each category alone, none, and all of them (always permitted added).
std::vector<std::vector<sild::v1::DataCategory>> PermittedSets() {
  std::vector<std::vector<sild::v1::DataCategory>> sets = {{}};
  std::vector<sild::v1::DataCategory> all;
  for (int c = sild::v1::DataCategory_MIN; c <= sild::v1::DataCategory_MAX;
       ++c) {
    if (!sild::v1::DataCategory_IsValid(c)) continue;
    const auto category = static_cast<sild::v1::DataCategory>(c);
    sets.push_back({category});
    all.push_back(category);
  }
  sets.push_back(all);
  return sets;
}

void ExpectSameAsProjector(const std::vector<sild::v1::Envelope>& messages) {
  for (const auto& permitted : PermittedSets()) {
    CategorySet set;
    for (sild::v1::DataCategory category : permitted) set.Add(category);
    std::vector<sild::v1::DataCategory> with_always = permitted;
    with_always.push_back(sild::v1::DATA_CATEGORY_OPERATIONAL);
    with_always.push_back(sild::v1::DATA_CATEGORY_PROFESSIONAL);
    for (size_t i = 0; i < messages.size(); ++i) {
      SCOPED_TRACE(::testing::Message()
                   << "message " << i << ", categories " << set.bits());
      sild::v1::Envelope expected;
      Projector::Default().ProjectCopy(set, messages[i], &expected);
      sild::v1::Envelope actual = messages[i];
      MinimiseTo(with_always, &actual);
      std::string report;
      google::protobuf::util::MessageDifferencer differencer;
      differencer.ReportDifferencesToString(&report);
      EXPECT_TRUE(differencer.Compare(expected, actual)) << report;
    }
  }
}

TEST(ConformanceMinimise, SameAsProjectorOnGoldenMessages) {
  std::vector<sild::v1::Envelope> golden = GoldenEnvelopes();
  ASSERT_GE(golden.size(), 10u);
  ExpectSameAsProjector(golden);
}

TEST(ConformanceMinimise, SameAsProjectorWithEveryFieldSet) {
  std::vector<sild::v1::Envelope> filled = FilledEnvelopes();
  for (const sild::v1::Envelope& envelope : filled) {
    ASSERT_NE(envelope.body_case(), sild::v1::Envelope::BODY_NOT_SET);
  }
  ExpectSameAsProjector(filled);
}

TEST(ConformanceMinimise, AlwaysPermittedKeepsOnlyOperationalAndProfessional) {
  sild::v1::Envelope envelope;
  envelope.set_message_id("m-1");
  sild::v1::Referral* referral = envelope.mutable_referral();
  referral->mutable_header()->set_idempotency_key("k-1");
  referral->mutable_subject()->set_given_name("Mart");
  referral->set_summary("free text");
  MinimiseTo({sild::v1::DATA_CATEGORY_OPERATIONAL,
              sild::v1::DATA_CATEGORY_PROFESSIONAL},
             &envelope);
  EXPECT_EQ(envelope.message_id(), "m-1");
  EXPECT_EQ(envelope.referral().header().idempotency_key(), "k-1");
  EXPECT_FALSE(envelope.referral().has_subject());
  EXPECT_EQ(envelope.referral().summary(), "");
}

}  // namespace
}  // namespace sild::connectors::conformance
