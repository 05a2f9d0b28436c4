// The schema evolution gate: the sild.v1 schema of this build must stay
// wire- and JSON-compatible with the committed baseline
// (proto/baseline/sild_v1_descriptor_set.binpb). Additions pass; a breaking
// change fails with what broke. After an intended, compatible release,
// proto/update-baseline.sh BUILD_DIR moves the baseline forward
// (docs/connectors.md).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/base/files.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace sild {
namespace {

using google::protobuf::DescriptorProto;
using google::protobuf::EnumDescriptorProto;
using google::protobuf::FieldDescriptorProto;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;
using google::protobuf::ServiceDescriptorProto;

constexpr char kPackage[] = "sild.v1";

struct Breaking {
  std::string kind;     // REMOVED_FIELD, CHANGED_TYPE, ...
  std::string element;  // fully qualified name
  std::string detail;
};

struct Schema {
  std::map<std::string, const DescriptorProto*> messages;
  std::map<std::string, const EnumDescriptorProto*> enums;
  std::map<std::string, const ServiceDescriptorProto*> services;
};

void IndexMessage(const std::string& scope, const DescriptorProto& message,
                  Schema* schema) {
  std::string name = absl::StrCat(scope, ".", message.name());
  schema->messages[name] = &message;
  for (const DescriptorProto& nested : message.nested_type()) {
    if (nested.options().map_entry()) continue;  // the map field carries it
    IndexMessage(name, nested, schema);
  }
  for (const EnumDescriptorProto& nested : message.enum_type()) {
    schema->enums[absl::StrCat(name, ".", nested.name())] = &nested;
  }
}

Schema Index(const FileDescriptorSet& set, const std::string& package) {
  Schema schema;
  for (const FileDescriptorProto& file : set.file()) {
    if (file.package() != package) continue;
    std::string scope = absl::StrCat(".", file.package());
    for (const DescriptorProto& message : file.message_type()) {
      IndexMessage(scope, message, &schema);
    }
    for (const EnumDescriptorProto& e : file.enum_type()) {
      schema.enums[absl::StrCat(scope, ".", e.name())] = &e;
    }
    for (const ServiceDescriptorProto& service : file.service()) {
      schema.services[absl::StrCat(scope, ".", service.name())] = &service;
    }
  }
  return schema;
}

bool NumberReserved(const DescriptorProto& message, int number) {
  for (const auto& range : message.reserved_range()) {
    if (number >= range.start() && number < range.end())
      return true;  // end exclusive
  }
  return false;
}

bool NumberReserved(const EnumDescriptorProto& e, int number) {
  for (const auto& range : e.reserved_range()) {
    if (number >= range.start() && number <= range.end())
      return true;  // end inclusive
  }
  return false;
}

template <typename T>
bool NameReserved(const T& descriptor, const std::string& name) {
  for (const std::string& reserved : descriptor.reserved_name()) {
    if (reserved == name) return true;
  }
  return false;
}

std::string TypeOf(const FieldDescriptorProto& field) {
  if (field.has_type_name()) return field.type_name();
  return FieldDescriptorProto::Type_Name(field.type());
}

void CompareMessage(const std::string& name, const DescriptorProto& before,
                    const DescriptorProto& after, std::vector<Breaking>* out) {
  std::map<int, const FieldDescriptorProto*> after_by_number;
  std::map<std::string, const FieldDescriptorProto*> after_by_name;
  for (const FieldDescriptorProto& field : after.field()) {
    after_by_number[field.number()] = &field;
    after_by_name[field.name()] = &field;
  }
  for (const FieldDescriptorProto& field : before.field()) {
    std::string element = absl::StrCat(name, ".", field.name());
    auto by_number = after_by_number.find(field.number());
    if (by_number == after_by_number.end()) {
      auto by_name = after_by_name.find(field.name());
      if (by_name != after_by_name.end()) {
        out->push_back(
            {"RENUMBERED_FIELD", element,
             absl::StrCat(field.number(), " -> ", by_name->second->number())});
      } else if (!NumberReserved(after, field.number()) ||
                 !NameReserved(after, field.name())) {
        out->push_back(
            {"REMOVED_FIELD", element,
             absl::StrCat("field ", field.number(),
                          " removed without `reserved ", field.number(),
                          "; reserved \"", field.name(), "\";`")});
      }
      continue;
    }
    const FieldDescriptorProto& now = *by_number->second;
    if (now.name() != field.name()) {
      out->push_back({"RENAMED_FIELD", element,
                      absl::StrCat("field ", field.number(), " is now \"",
                                   now.name(), "\" (breaks JSON clients)")});
    }
    if (TypeOf(now) != TypeOf(field)) {
      out->push_back({"CHANGED_TYPE", element,
                      absl::StrCat(TypeOf(field), " -> ", TypeOf(now))});
    }
    if (now.label() != field.label()) {
      out->push_back(
          {"CHANGED_LABEL", element,
           absl::StrCat(FieldDescriptorProto::Label_Name(field.label()), " -> ",
                        FieldDescriptorProto::Label_Name(now.label()))});
    }
  }
}

void CompareEnum(const std::string& name, const EnumDescriptorProto& before,
                 const EnumDescriptorProto& after, std::vector<Breaking>* out) {
  std::map<int, std::string> after_values;
  for (const auto& value : after.value())
    after_values[value.number()] = value.name();
  for (const auto& value : before.value()) {
    std::string element = absl::StrCat(name, ".", value.name());
    auto it = after_values.find(value.number());
    if (it == after_values.end()) {
      if (!NumberReserved(after, value.number()) ||
          !NameReserved(after, value.name())) {
        out->push_back({"REMOVED_ENUM_VALUE", element,
                        absl::StrCat("value ", value.number(),
                                     " removed without reserving it")});
      }
    } else if (it->second != value.name()) {
      out->push_back({"RENAMED_ENUM_VALUE", element,
                      absl::StrCat(value.number(), " is now ", it->second,
                                   " (breaks JSON clients)")});
    }
  }
}

void CompareService(const std::string& name,
                    const ServiceDescriptorProto& before,
                    const ServiceDescriptorProto& after,
                    std::vector<Breaking>* out) {
  std::map<std::string, const google::protobuf::MethodDescriptorProto*> methods;
  for (const auto& method : after.method()) methods[method.name()] = &method;
  for (const auto& method : before.method()) {
    std::string element = absl::StrCat(name, ".", method.name());
    auto it = methods.find(method.name());
    if (it == methods.end()) {
      out->push_back({"REMOVED_METHOD", element, "method removed"});
      continue;
    }
    if (it->second->input_type() != method.input_type()) {
      out->push_back({"CHANGED_INPUT_TYPE", element,
                      absl::StrCat(method.input_type(), " -> ",
                                   it->second->input_type())});
    }
    if (it->second->output_type() != method.output_type()) {
      out->push_back({"CHANGED_OUTPUT_TYPE", element,
                      absl::StrCat(method.output_type(), " -> ",
                                   it->second->output_type())});
    }
    if (it->second->client_streaming() != method.client_streaming() ||
        it->second->server_streaming() != method.server_streaming()) {
      out->push_back({"CHANGED_STREAMING", element, "streaming changed"});
    }
  }
}

// Breaking changes from `baseline` to `current` in `package`.
std::vector<Breaking> CompareSchemas(const FileDescriptorSet& baseline,
                                     const FileDescriptorSet& current,
                                     const std::string& package = kPackage) {
  Schema before = Index(baseline, package);
  Schema after = Index(current, package);
  std::vector<Breaking> out;
  for (const auto& [name, message] : before.messages) {
    auto it = after.messages.find(name);
    if (it == after.messages.end()) {
      out.push_back({"REMOVED_MESSAGE", name, "message removed"});
    } else {
      CompareMessage(name, *message, *it->second, &out);
    }
  }
  for (const auto& [name, e] : before.enums) {
    auto it = after.enums.find(name);
    if (it == after.enums.end()) {
      out.push_back({"REMOVED_ENUM", name, "enum removed"});
    } else {
      CompareEnum(name, *e, *it->second, &out);
    }
  }
  for (const auto& [name, service] : before.services) {
    auto it = after.services.find(name);
    if (it == after.services.end()) {
      out.push_back({"REMOVED_SERVICE", name, "service removed"});
    } else {
      CompareService(name, *service, *it->second, &out);
    }
  }
  return out;
}

std::string Describe(const std::vector<Breaking>& changes) {
  std::string out;
  for (const Breaking& change : changes) {
    absl::StrAppend(&out, "  ", change.kind, " ", change.element, ": ",
                    change.detail, "\n");
  }
  return out;
}

FileDescriptorSet LoadSet(const std::string& path) {
  FileDescriptorSet set;
  auto bytes = ReadFileToString(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  if (bytes.ok()) {
    EXPECT_TRUE(set.ParseFromString(*bytes)) << path;
  }
  return set;
}

TEST(SchemaEvolutionTest, CurrentSchemaIsCompatibleWithBaseline) {
  FileDescriptorSet baseline =
      LoadSet(std::string(SILD_SOURCE_DIR) +
              "/proto/baseline/sild_v1_descriptor_set.binpb");
  FileDescriptorSet current = LoadSet(SILD_DESCRIPTOR_SET);
  ASSERT_FALSE(Index(baseline, kPackage).messages.empty());
  ASSERT_FALSE(Index(current, kPackage).messages.empty());
  std::vector<Breaking> changes = CompareSchemas(baseline, current);
  EXPECT_TRUE(changes.empty())
      << "breaking changes to sild.v1 against the committed baseline:\n"
      << Describe(changes)
      << "Keep the old field/value (deprecate it) or reserve its number and "
         "name; never renumber or retype. See docs/connectors.md.";
}

// --- The comparer on hand-made schemas ------------------------------------

FileDescriptorSet Set(const std::string& text) {
  FileDescriptorSet set;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &set))
      << text;
  return set;
}

// Not R"pb(: clang-format would reflow it and the edits below match lines.
const char kBase[] = R"schema(
  file {
    name: "sild/v1/x.proto"
    package: "sild.v1"
    message_type {
      name: "Referral"
      field { name: "summary" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "tags" number: 2 type: TYPE_STRING label: LABEL_REPEATED }
      field { name: "status" number: 3 type: TYPE_ENUM type_name: ".sild.v1.Status" label: LABEL_OPTIONAL }
      nested_type { name: "Inner" field { name: "a" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL } }
    }
    message_type { name: "Receipt" }
    enum_type {
      name: "Status"
      value { name: "STATUS_UNSPECIFIED" number: 0 }
      value { name: "STATUS_OPEN" number: 1 }
    }
    service {
      name: "ReferralService"
      method { name: "Submit" input_type: ".sild.v1.Referral" output_type: ".sild.v1.Receipt" }
    }
  }
)schema";

// kBase with `from` replaced by `to` (must occur).
FileDescriptorSet Edited(const std::string& from, const std::string& to) {
  std::string text = kBase;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return Set(text);
}

std::set<std::string> Kinds(const std::vector<Breaking>& changes) {
  std::set<std::string> kinds;
  for (const Breaking& change : changes) kinds.insert(change.kind);
  return kinds;
}

TEST(SchemaComparerTest, IdenticalAndAdditionsPass) {
  EXPECT_TRUE(CompareSchemas(Set(kBase), Set(kBase)).empty());
  FileDescriptorSet more = Edited(R"(value { name: "STATUS_OPEN" number: 1 })",
                                  R"(value { name: "STATUS_OPEN" number: 1 }
                                     value { name: "STATUS_CLOSED" number: 2 })");
  EXPECT_TRUE(CompareSchemas(Set(kBase), more).empty());
  FileDescriptorSet with_field = Edited(
      R"(message_type { name: "Receipt" })",
      R"(message_type { name: "Receipt" field { name: "id" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL } }
         message_type { name: "NewThing" })");
  EXPECT_TRUE(CompareSchemas(Set(kBase), with_field).empty());
}

TEST(SchemaComparerTest, RemovedFieldWithoutReservedFails) {
  auto changes = CompareSchemas(
      Set(kBase),
      Edited(
          R"(field { name: "tags" number: 2 type: TYPE_STRING label: LABEL_REPEATED })",
          ""));
  EXPECT_EQ(Kinds(changes), std::set<std::string>{"REMOVED_FIELD"});
  EXPECT_EQ(changes[0].element, ".sild.v1.Referral.tags");
}

TEST(SchemaComparerTest, RemovedFieldWithReservedPasses) {
  auto changes = CompareSchemas(
      Set(kBase),
      Edited(
          R"(field { name: "tags" number: 2 type: TYPE_STRING label: LABEL_REPEATED })",
          R"(reserved_range { start: 2 end: 3 } reserved_name: "tags")"));
  EXPECT_TRUE(changes.empty()) << Describe(changes);
  // The number alone is not enough: JSON clients still send the name.
  changes = CompareSchemas(
      Set(kBase),
      Edited(
          R"(field { name: "tags" number: 2 type: TYPE_STRING label: LABEL_REPEATED })",
          R"(reserved_range { start: 2 end: 3 })"));
  EXPECT_EQ(Kinds(changes), std::set<std::string>{"REMOVED_FIELD"});
}

TEST(SchemaComparerTest, RenumberedFieldFails) {
  auto changes = CompareSchemas(
      Set(kBase),
      Edited(R"(name: "tags" number: 2)", R"(name: "tags" number: 7)"));
  EXPECT_EQ(Kinds(changes), std::set<std::string>{"RENUMBERED_FIELD"});
}

TEST(SchemaComparerTest, ChangedTypeOrLabelFails) {
  EXPECT_EQ(
      Kinds(CompareSchemas(
          Set(kBase), Edited(R"(name: "summary" number: 1 type: TYPE_STRING)",
                             R"(name: "summary" number: 1 type: TYPE_BYTES)"))),
      std::set<std::string>{"CHANGED_TYPE"});
  EXPECT_EQ(Kinds(CompareSchemas(Set(kBase),
                                 Edited(R"(type_name: ".sild.v1.Status")",
                                        R"(type_name: ".sild.v1.Other")"))),
            std::set<std::string>{"CHANGED_TYPE"});
  EXPECT_EQ(
      Kinds(CompareSchemas(
          Set(kBase),
          Edited(R"(number: 2 type: TYPE_STRING label: LABEL_REPEATED)",
                 R"(number: 2 type: TYPE_STRING label: LABEL_OPTIONAL)"))),
      std::set<std::string>{"CHANGED_LABEL"});
}

TEST(SchemaComparerTest, NestedMessageFieldChangesAreSeen) {
  auto changes = CompareSchemas(
      Set(kBase), Edited(R"(name: "a" number: 1 type: TYPE_INT32)",
                         R"(name: "a" number: 1 type: TYPE_INT64)"));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].element, ".sild.v1.Referral.Inner.a");
}

TEST(SchemaComparerTest, RemovedEnumValueFailsUnlessReserved) {
  EXPECT_EQ(Kinds(CompareSchemas(
                Set(kBase),
                Edited(R"(value { name: "STATUS_OPEN" number: 1 })", ""))),
            std::set<std::string>{"REMOVED_ENUM_VALUE"});
  EXPECT_TRUE(
      CompareSchemas(Set(kBase),
                     Edited(R"(value { name: "STATUS_OPEN" number: 1 })",
                            R"(reserved_range { start: 1 end: 1 }
                                       reserved_name: "STATUS_OPEN")"))
          .empty());
}

TEST(SchemaComparerTest, RemovedMessageEnumServiceMethodFail) {
  EXPECT_EQ(Kinds(CompareSchemas(
                Set(kBase), Edited(R"(message_type { name: "Receipt" })", ""))),
            std::set<std::string>{"REMOVED_MESSAGE"});
  FileDescriptorSet no_enum = Edited(R"(enum_type {
      name: "Status")",
                                     R"(enum_type {
      name: "State")");
  EXPECT_EQ(Kinds(CompareSchemas(Set(kBase), no_enum)),
            std::set<std::string>{"REMOVED_ENUM"});
  EXPECT_EQ(
      Kinds(CompareSchemas(Set(kBase), Edited(R"(name: "ReferralService")",
                                              R"(name: "ReferralApi")"))),
      std::set<std::string>{"REMOVED_SERVICE"});
  EXPECT_EQ(Kinds(CompareSchemas(
                Set(kBase), Edited(R"(name: "Submit")", R"(name: "Send")"))),
            std::set<std::string>{"REMOVED_METHOD"});
}

TEST(SchemaComparerTest, ChangedMethodTypesFail) {
  EXPECT_EQ(Kinds(CompareSchemas(Set(kBase),
                                 Edited(R"(input_type: ".sild.v1.Referral")",
                                        R"(input_type: ".sild.v1.Receipt")"))),
            std::set<std::string>{"CHANGED_INPUT_TYPE"});
  EXPECT_EQ(Kinds(CompareSchemas(
                Set(kBase), Edited(R"(output_type: ".sild.v1.Receipt")",
                                   R"(output_type: ".sild.v1.Referral")"))),
            std::set<std::string>{"CHANGED_OUTPUT_TYPE"});
}

TEST(SchemaComparerTest, OtherPackagesAreIgnored) {
  std::string other = kBase;
  other.replace(other.find(R"(package: "sild.v1")"), 18,
                R"(package: "sild.x1")");
  EXPECT_TRUE(CompareSchemas(Set(other), Set("")).empty());
}

}  // namespace
}  // namespace sild
