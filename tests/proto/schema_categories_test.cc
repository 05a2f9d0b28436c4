// The schema rule behind minimisation: every leaf field of every sild.v1
// message names its data category, so a new field is protected the day it is
// added.
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gateway/minimise/category_index.h"
#include "gateway/minimise/projector.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "sild/v1/assessment.pb.h"
#include "sild/v1/audit.pb.h"
#include "sild/v1/common.pb.h"
#include "sild/v1/consent.pb.h"
#include "sild/v1/consent_service.pb.h"
#include "sild/v1/gateway_service.pb.h"
#include "sild/v1/options.pb.h"
#include "sild/v1/referral.pb.h"
#include "sild/v1/transition.pb.h"

namespace sild {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;

std::vector<const FileDescriptor*> LinkedSchemaFiles() {
  return SildSchemaFiles();
}

int CountFields(const google::protobuf::Descriptor* message) {
  int count = message->field_count();
  for (int i = 0; i < message->nested_type_count(); ++i) {
    count += CountFields(message->nested_type(i));
  }
  return count;
}

TEST(SchemaCategoriesTest, EveryLeafOfEveryLinkedSildFileHasACategory) {
  std::vector<std::string> offending;
  int fields = 0;
  for (const FileDescriptor* file : LinkedSchemaFiles()) {
    ASSERT_EQ(file->package(), "sild.v1") << file->name();
    // The generated pool is what the gateway runs on; look the file up there.
    const FileDescriptor* pooled =
        DescriptorPool::generated_pool()->FindFileByName(file->name());
    ASSERT_EQ(pooled, file) << file->name();
    for (int i = 0; i < file->message_type_count(); ++i) {
      fields += CountFields(file->message_type(i));
    }
    for (std::string& name : FieldsMissingCategory(file)) {
      offending.push_back(std::move(name));
    }
  }
  EXPECT_GT(fields, 150) << "the walk saw too few fields to be the schema";
  EXPECT_TRUE(offending.empty()) << "fields without (sild.v1.category):\n  "
                                 << absl::StrJoin(offending, "\n  ");
}

// Every file of package sild.v1 in the descriptor set the build makes from
// proto/CMakeLists.txt: catches a new file that no code links in yet.
TEST(SchemaCategoriesTest, EverySildFileInTheDescriptorSetIsCheckedToo) {
  std::ifstream in(SILD_BINARY_DIR "/proto/sild_descriptor_set.binpb",
                   std::ios::binary);
  ASSERT_TRUE(in) << "descriptor set not built";
  FileDescriptorSet set;
  ASSERT_TRUE(set.ParseFromIstream(&in));
  DescriptorPool pool;
  std::set<std::string> linked;
  for (const FileDescriptor* file : LinkedSchemaFiles()) {
    linked.insert(file->name());
  }
  std::vector<std::string> offending;
  int sild_files = 0;
  for (const FileDescriptorProto& proto : set.file()) {
    const FileDescriptor* file = pool.BuildFile(proto);
    ASSERT_NE(file, nullptr) << proto.name();
    if (file->package() != "sild.v1") continue;
    ++sild_files;
    EXPECT_TRUE(linked.count(file->name()))
        << file->name() << " is not in SildSchemaFiles() "
        << "(gateway/minimise/projector.cc); add it there";
    for (std::string& name : FieldsMissingCategory(file)) {
      offending.push_back(std::move(name));
    }
  }
  EXPECT_EQ(sild_files, static_cast<int>(linked.size()));
  EXPECT_TRUE(offending.empty()) << "fields without (sild.v1.category):\n  "
                                 << absl::StrJoin(offending, "\n  ");
}

// The rule must be able to fail: a file made here breaks it on purpose.
constexpr char kBadFile[] = R"pb(
  name: "sild_test/bad.proto"
  package: "sild.v1test"
  dependency: "sild/v1/options.proto"
  dependency: "google/protobuf/timestamp.proto"
  syntax: "proto3"
  enum_type {
    name: "Colour"
    value { name: "COLOUR_UNSPECIFIED" number: 0 }
  }
  message_type {
    name: "Bad"
    field {
      name: "fine"
      number: 1
      label: LABEL_OPTIONAL
      type: TYPE_STRING
      options {
        [sild.v1.category]: DATA_CATEGORY_IDENTITY
      }
    }
    field { name: "missing" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
    field {
      name: "missing_repeated"
      number: 3
      label: LABEL_REPEATED
      type: TYPE_INT32
    }
    field {
      name: "missing_enum"
      number: 4
      label: LABEL_OPTIONAL
      type: TYPE_ENUM
      type_name: ".sild.v1test.Colour"
    }
    field {
      name: "missing_map"
      number: 5
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".sild.v1test.Bad.MissingMapEntry"
    }
    field {
      name: "inner"
      number: 6
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".sild.v1test.Bad.Inner"
    }
    field {
      name: "foreign"
      number: 7
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
    }
    field {
      name: "foreign_with_category"
      number: 8
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
      options {
        [sild.v1.category]: DATA_CATEGORY_OPERATIONAL
      }
    }
    field {
      name: "unspecified"
      number: 9
      label: LABEL_OPTIONAL
      type: TYPE_BOOL
      options {
        [sild.v1.category]: DATA_CATEGORY_UNSPECIFIED
      }
    }
    nested_type {
      name: "MissingMapEntry"
      options { map_entry: true }
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
      field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
    }
    nested_type {
      name: "Inner"
      field { name: "blob" number: 1 label: LABEL_OPTIONAL type: TYPE_BYTES }
      field {
        name: "kept"
        number: 2
        label: LABEL_OPTIONAL
        type: TYPE_BYTES
        options {
          [sild.v1.category]: DATA_CATEGORY_HEALTH
        }
      }
    }
  }
)pb";

TEST(SchemaCategoriesTest, TheCheckerReportsEveryFieldWithoutACategory) {
  FileDescriptorProto proto;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kBadFile, &proto));
  DescriptorPool pool(DescriptorPool::generated_pool());
  const FileDescriptor* file = pool.BuildFile(proto);
  ASSERT_NE(file, nullptr);
  // The option survived into the built pool (else every field would be
  // reported and the test would prove nothing).
  EXPECT_EQ(FieldCategory(
                file->FindMessageTypeByName("Bad")->FindFieldByName("fine")),
            v1::DATA_CATEGORY_IDENTITY);

  EXPECT_EQ(FieldsMissingCategory(file), (std::vector<std::string>{
                                             "sild.v1test.Bad.missing",
                                             "sild.v1test.Bad.missing_repeated",
                                             "sild.v1test.Bad.missing_enum",
                                             "sild.v1test.Bad.missing_map",
                                             "sild.v1test.Bad.foreign",
                                             "sild.v1test.Bad.unspecified",
                                             "sild.v1test.Bad.Inner.blob",
                                         }));
}

TEST(SchemaCategoriesTest, FieldCategoryReadsTheOption) {
  const auto* referral = v1::Referral::descriptor();
  EXPECT_EQ(FieldCategory(referral->FindFieldByName("summary")),
            v1::DATA_CATEGORY_FREE_TEXT);
  EXPECT_EQ(FieldCategory(referral->FindFieldByName("subject")),
            v1::DATA_CATEGORY_UNSPECIFIED);
  EXPECT_EQ(FieldCategory(v1::HealthIndicator::descriptor()->FindFieldByName(
                "icd10_code")),
            v1::DATA_CATEGORY_HEALTH);
}

}  // namespace
}  // namespace sild
