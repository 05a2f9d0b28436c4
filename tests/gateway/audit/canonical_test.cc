#include "gateway/audit/canonical.h"

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "gtest/gtest.h"

namespace sild::audit {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

// The record of docs/audit.md's worked example.
AuditRecord GoldenRecord() {
  AuditRecord r;
  r.set_sequence(7);
  r.mutable_time()->set_seconds(1767225600);
  r.mutable_time()->set_nanos(250000000);
  r.set_chain_id("sild-1");
  r.mutable_actor()->set_registry_code("75016705");
  r.mutable_actor()->set_professional_id("t-3");
  r.set_action(sild::v1::AUDIT_ACTION_DISCLOSURE);
  r.set_message_id("m-1");
  r.set_message_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  r.set_subject_pseudonym("5eed");
  r.set_purpose(sild::v1::PURPOSE_SUPPORT_SERVICE);
  r.mutable_basis()->mutable_consent()->set_consent_id("c-9");
  r.mutable_basis()->mutable_consent()->set_version(2);
  r.add_categories(sild::v1::DATA_CATEGORY_IDENTITY);
  r.add_categories(sild::v1::DATA_CATEGORY_EDUCATION);
  r.set_outcome(sild::v1::AUDIT_OUTCOME_ALLOW);
  r.set_reason_code("OK");
  r.set_counterparty("77000369");
  r.set_previous_hash(std::string(32, '\x11'));
  r.set_record_hash(std::string(32, '\x22'));
  r.set_detail("ok");
  return r;
}

// One element per line, as docs/audit.md lays it out. Changing any byte
// here changes every record hash ever written: never edit it, add a new
// format identifier instead.
constexpr const char* kGoldenRecordHex[] = {
    "00000000"
    "03"
    "00000015"
    "73696c642e76312e41756469745265636f72642f31",
    "00000001"
    "01"
    "00000008"
    "0000000000000007",
    "00000002"
    "05"
    "0000001e"
    "00000001"
    "01"
    "00000008"
    "000000006955b900"
    "00000002"
    "02"
    "00000004"
    "0ee6b280",
    "00000003"
    "03"
    "00000006"
    "73696c642d31",
    "00000004"
    "05"
    "0000001d"
    "00000001"
    "03"
    "00000008"
    "3735303136373035"
    "00000002"
    "03"
    "00000003"
    "742d33",
    "00000005"
    "02"
    "00000004"
    "00000002",
    "00000006"
    "03"
    "00000003"
    "6d2d31",
    "00000007"
    "02"
    "00000004"
    "00000001",
    "00000008"
    "03"
    "00000004"
    "35656564",
    "00000009"
    "02"
    "00000004"
    "00000001",
    "0000000a"
    "05"
    "00000026"
    "00000001"
    "05"
    "0000001d"
    "00000001"
    "03"
    "00000003"
    "632d39"
    "00000002"
    "01"
    "00000008"
    "0000000000000002",
    "0000000b"
    "06"
    "0000001a"
    "00000000"
    "02"
    "00000004"
    "00000002"
    "00000001"
    "02"
    "00000004"
    "00000004",
    "0000000c"
    "02"
    "00000004"
    "00000001",
    "0000000d"
    "03"
    "00000002"
    "4f4b",
    "0000000e"
    "03"
    "00000008"
    "3737303030333639",
    "0000000f"
    "04"
    "00000020"
    "1111111111111111111111111111111111111111111111111111111111111111",
    "00000011"
    "03"
    "00000002"
    "6f6b",
};

TEST(CanonicalTest, GoldenRecordBytesNeverChange) {
  const std::string expected = absl::StrJoin(kGoldenRecordHex, "");
  EXPECT_EQ(absl::BytesToHexString(CanonicalRecord(GoldenRecord())), expected);
}

TEST(CanonicalTest, GoldenCheckpointBytesNeverChange) {
  AuditCheckpoint cp;
  cp.set_chain_id("sild-1");
  cp.set_sequence(7);
  cp.set_head_hash(std::string(32, '\x22'));
  cp.mutable_time()->set_seconds(1767225601);
  cp.set_previous_checkpoint_hash(std::string(32, '\x33'));
  cp.set_signature("not signed");
  cp.set_key_id("not signed either");
  const std::string expected = absl::StrCat(
      "00000000"
      "03"
      "00000019"
      "73696c642e76312e4175646974436865636b706f696e742f31",
      "00000001"
      "03"
      "00000006"
      "73696c642d31",
      "00000002"
      "01"
      "00000008"
      "0000000000000007",
      "00000003"
      "04"
      "00000020",
      std::string(64, '2'),
      "00000004"
      "05"
      "00000011"
      "00000001"
      "01"
      "00000008"
      "000000006955b901",
      "00000005"
      "04"
      "00000020",
      std::string(64, '3'));
  EXPECT_EQ(absl::BytesToHexString(CanonicalCheckpoint(cp)), expected);
}

TEST(CanonicalTest, RecordHashIsNotPartOfTheBytes) {
  AuditRecord a = GoldenRecord();
  AuditRecord b = a;
  b.set_record_hash(std::string(32, '\x99'));
  EXPECT_EQ(CanonicalRecord(a), CanonicalRecord(b));
  b.clear_record_hash();
  EXPECT_EQ(CanonicalRecord(a), CanonicalRecord(b));
}

TEST(CanonicalTest, AppendsToTheCallersBuffer) {
  std::string buffer = "prefix";
  AppendCanonicalRecord(GoldenRecord(), buffer);
  EXPECT_EQ(buffer, "prefix" + CanonicalRecord(GoldenRecord()));
}

// Sets `field` of `message` to a value other than its default.
void SetNonDefault(Message& message, const FieldDescriptor* field) {
  const Reflection* r = message.GetReflection();
  if (field->is_repeated()) {
    ASSERT_EQ(field->cpp_type(), FieldDescriptor::CPPTYPE_ENUM)
        << "extend SetNonDefault for " << field->full_name();
    r->AddEnumValue(&message, field, 3);
    return;
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
      r->SetInt64(&message, field, 5);
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(&message, field, 5);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r->SetEnumValue(&message, field, 2);
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(&message, field, "x");
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      r->MutableMessage(&message, field);
      break;
    default:
      FAIL() << "extend SetNonDefault for " << field->full_name();
  }
}

// Every field of `root` (below `path`), recursively: setting it must change
// the canonical bytes. A field added to the schema but not to the encoder
// fails here, so no content can escape the hash.
void ExpectEveryFieldCovered(const AuditRecord& base, Message& target,
                             AuditRecord& root, const std::string& path) {
  const google::protobuf::Descriptor* d = target.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    const std::string name = path + field->name();
    if (name == "record_hash") continue;
    AuditRecord changed = root;
    // Find the same nested message inside the copy by walking the path.
    Message* nested = &changed;
    std::vector<std::string> parts;
    for (size_t start = 0, dot; start < path.size(); start = dot + 1) {
      dot = path.find('.', start);
      parts.push_back(path.substr(start, dot - start));
    }
    for (const std::string& part : parts) {
      const FieldDescriptor* f = nested->GetDescriptor()->FindFieldByName(part);
      nested = nested->GetReflection()->MutableMessage(nested, f);
    }
    SetNonDefault(*nested, field);
    EXPECT_NE(CanonicalRecord(changed), CanonicalRecord(base))
        << "field " << name << " is not covered by the canonical bytes";
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !field->is_repeated()) {
      Message* child = nested->GetReflection()->MutableMessage(nested, field);
      ExpectEveryFieldCovered(changed, *child, changed, name + ".");
    }
  }
}

TEST(CanonicalTest, EveryFieldExceptRecordHashIsCovered) {
  AuditRecord empty;
  ExpectEveryFieldCovered(empty, empty, empty, "");
}

TEST(CanonicalTest, RepeatedOrderAndOneofPresenceMatter) {
  AuditRecord a;
  a.add_categories(sild::v1::DATA_CATEGORY_IDENTITY);
  a.add_categories(sild::v1::DATA_CATEGORY_HEALTH);
  AuditRecord b;
  b.add_categories(sild::v1::DATA_CATEGORY_HEALTH);
  b.add_categories(sild::v1::DATA_CATEGORY_IDENTITY);
  EXPECT_NE(CanonicalRecord(a), CanonicalRecord(b));

  AuditRecord rule_set_empty;
  rule_set_empty.mutable_basis()->set_rule_id("");
  AuditRecord basis_empty;
  basis_empty.mutable_basis();
  EXPECT_NE(CanonicalRecord(rule_set_empty), CanonicalRecord(basis_empty));
  EXPECT_NE(CanonicalRecord(basis_empty), CanonicalRecord(AuditRecord()));
}

TEST(CanonicalTest, StringsCannotBleedIntoTheNextField) {
  // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
  AuditRecord a;
  a.set_reason_code("ab");
  a.set_counterparty("c");
  AuditRecord b;
  b.set_reason_code("a");
  b.set_counterparty("bc");
  EXPECT_NE(CanonicalRecord(a), CanonicalRecord(b));
}

TEST(CanonicalTest, UnknownFieldsAreFlagged) {
  AuditRecord record = GoldenRecord();
  EXPECT_FALSE(HasUnknownFields(record));
  // Field 99, varint 1: what a newer schema (or a forger) might add.
  AuditRecord parsed;
  ASSERT_TRUE(parsed.ParseFromString(record.SerializeAsString() +
                                     std::string("\x98\x06\x01", 3)));
  EXPECT_TRUE(HasUnknownFields(parsed));
  EXPECT_EQ(CanonicalRecord(parsed), CanonicalRecord(record));
}

}  // namespace
}  // namespace sild::audit
