#include "gateway/minimise/category_index.h"

namespace sild {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

bool IsMessage(const FieldDescriptor* field) {
  return field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
}

// A field that must carry a category because nothing below it can.
bool NeedsOwnCategory(const FieldDescriptor* field) {
  const FieldDescriptor* value = field;
  if (field->is_map()) value = field->message_type()->map_value();
  if (!IsMessage(value)) return true;
  return value->message_type()->file()->package() !=
         field->containing_type()->file()->package();
}

void CheckMessage(const Descriptor* message, std::vector<std::string>* out) {
  if (message->options().map_entry()) return;  // judged via the map field
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* field = message->field(i);
    if (NeedsOwnCategory(field) &&
        FieldCategory(field) == v1::DATA_CATEGORY_UNSPECIFIED) {
      out->push_back(field->full_name());
    }
  }
  for (int i = 0; i < message->nested_type_count(); ++i) {
    CheckMessage(message->nested_type(i), out);
  }
}

}  // namespace

v1::DataCategory FieldCategory(const FieldDescriptor* field) {
  return field->options().GetExtension(v1::category);
}

std::vector<std::string> FieldsMissingCategory(
    const google::protobuf::FileDescriptor* file) {
  std::vector<std::string> out;
  for (int i = 0; i < file->message_type_count(); ++i) {
    CheckMessage(file->message_type(i), &out);
  }
  return out;
}

}  // namespace sild
