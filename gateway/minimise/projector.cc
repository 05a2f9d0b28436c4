#include "gateway/minimise/projector.h"

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "gateway/minimise/category_index.h"
#include "google/protobuf/unknown_field_set.h"
#include "sild/v1/assessment.pb.h"
#include "sild/v1/audit.pb.h"
#include "sild/v1/common.pb.h"
#include "sild/v1/consent.pb.h"
#include "sild/v1/gateway_service.pb.h"
#include "sild/v1/referral.pb.h"
#include "sild/v1/transition.pb.h"

namespace sild {
namespace minimise_internal {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

enum class FieldKind : uint8_t {
  kScalar,           // singular leaf, oneof members included
  kRepeatedScalar,   // repeated leaf, and maps with scalar values
  kMessage,          // singular message, oneof members included
  kRepeatedMessage,  // repeated message
  kMapMessage,       // map with message values
};

struct MessagePlan;

// What the walk needs to know about one field, resolved once.
struct FieldPlan {
  const FieldDescriptor* field;
  FieldKind kind;
  uint32_t own_bit;             // CategorySet::Bit of the field's category
  const MessagePlan* message;   // plan of the (map value) message type
  const FieldDescriptor* map_value;  // kMapMessage: the entry's value field
};

struct MessagePlan {
  std::vector<FieldPlan> fields;
};

// Plans keyed by descriptor. Built completely before use, then read-only.
class PlanSet {
 public:
  const MessagePlan* Get(const Descriptor* descriptor) const {
    auto it = plans_.find(descriptor);
    return it == plans_.end() ? nullptr : it->second.get();
  }

  const MessagePlan* Build(const Descriptor* descriptor) {
    if (const MessagePlan* existing = Get(descriptor)) return existing;
    // Registered before its fields so that recursive types terminate.
    MessagePlan* plan =
        plans_.emplace(descriptor, std::make_unique<MessagePlan>())
            .first->second.get();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const FieldDescriptor* field = descriptor->field(i);
      FieldPlan fp{field, FieldKind::kScalar,
                   CategorySet::Bit(FieldCategory(field)), nullptr, nullptr};
      if (field->is_map()) {
        const FieldDescriptor* value = field->message_type()->map_value();
        if (value->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          fp.kind = FieldKind::kMapMessage;
          fp.map_value = value;
          fp.message = Build(value->message_type());
        } else {
          fp.kind = FieldKind::kRepeatedScalar;
        }
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        fp.kind = field->is_repeated() ? FieldKind::kRepeatedMessage
                                       : FieldKind::kMessage;
        fp.message = Build(field->message_type());
      } else {
        fp.kind = field->is_repeated() ? FieldKind::kRepeatedScalar
                                       : FieldKind::kScalar;
      }
      plan->fields.push_back(fp);
    }
    return plan;
  }

 private:
  absl::flat_hash_map<const Descriptor*, std::unique_ptr<MessagePlan>> plans_;
};

namespace {

constexpr uint32_t kOperationalBit =
    CategorySet::Bit(v1::DATA_CATEGORY_OPERATIONAL);

void DropUnknownFields(const Reflection* reflection, Message* message) {
  // GetUnknownFields first: MutableUnknownFields would allocate a container
  // for every message that has none.
  if (!reflection->GetUnknownFields(*message).empty()) {
    reflection->MutableUnknownFields(message)->Clear();
  }
}

// Projects `message`; returns true if it holds nothing afterwards.
bool ProjectMessage(const MessagePlan& plan, uint32_t permitted,
                    uint32_t inherited, Message* message);

// Projects the elements of a repeated message field (or the values of a map
// with message values) and deletes those left empty. Returns true if none is
// left.
bool ProjectElements(const FieldPlan& fp, uint32_t permitted,
                     uint32_t effective, const Reflection* reflection,
                     Message* message, int size) {
  int kept = 0;
  for (int i = 0; i < size; ++i) {
    Message* element = reflection->MutableRepeatedMessage(message, fp.field, i);
    bool empty;
    if (fp.kind == FieldKind::kMapMessage) {
      const Reflection* entry_reflection = element->GetReflection();
      DropUnknownFields(entry_reflection, element);
      empty = !entry_reflection->HasField(*element, fp.map_value) ||
              ProjectMessage(*fp.message, permitted, effective,
                             entry_reflection->MutableMessage(element,
                                                              fp.map_value));
    } else {
      empty = ProjectMessage(*fp.message, permitted, effective, element);
    }
    if (empty) continue;
    if (kept != i) reflection->SwapElements(message, fp.field, kept, i);
    ++kept;
  }
  for (int i = kept; i < size; ++i) reflection->RemoveLast(message, fp.field);
  return kept == 0;
}

bool ProjectMessage(const MessagePlan& plan, uint32_t permitted,
                    uint32_t inherited, Message* message) {
  const Reflection* reflection = message->GetReflection();
  DropUnknownFields(reflection, message);
  bool empty = true;
  for (const FieldPlan& fp : plan.fields) {
    const uint32_t effective = fp.own_bit != 0 ? fp.own_bit : inherited;
    const bool allowed = (effective & permitted) != 0;
    switch (fp.kind) {
      case FieldKind::kScalar:
        if (!reflection->HasField(*message, fp.field)) break;
        if (allowed) {
          empty = false;
        } else {
          reflection->ClearField(message, fp.field);
        }
        break;
      case FieldKind::kRepeatedScalar:
        if (reflection->FieldSize(*message, fp.field) == 0) break;
        if (allowed) {
          empty = false;
        } else {
          reflection->ClearField(message, fp.field);
        }
        break;
      case FieldKind::kMessage:
        if (!reflection->HasField(*message, fp.field)) break;
        if ((effective != 0 && !allowed) ||
            ProjectMessage(*fp.message, permitted, effective,
                           reflection->MutableMessage(message, fp.field))) {
          reflection->ClearField(message, fp.field);
        } else {
          empty = false;
        }
        break;
      case FieldKind::kRepeatedMessage:
      case FieldKind::kMapMessage: {
        const int size = reflection->FieldSize(*message, fp.field);
        if (size == 0) break;
        if ((effective != 0 && !allowed) ||
            ProjectElements(fp, permitted, effective, reflection, message,
                            size)) {
          reflection->ClearField(message, fp.field);
        } else {
          empty = false;
        }
        break;
      }
    }
  }
  return empty;
}

// Adds to `*present` what `message` discloses; returns true if it holds a
// leaf that projection could keep.
bool CollectPresent(const MessagePlan& plan, uint32_t inherited,
                    const Message& message, uint32_t* present) {
  const Reflection* reflection = message.GetReflection();
  bool any = false;
  for (const FieldPlan& fp : plan.fields) {
    const uint32_t effective = fp.own_bit != 0 ? fp.own_bit : inherited;
    bool holds = false;
    switch (fp.kind) {
      case FieldKind::kScalar:
        holds = effective != 0 && reflection->HasField(message, fp.field);
        break;
      case FieldKind::kRepeatedScalar:
        holds = effective != 0 && reflection->FieldSize(message, fp.field) > 0;
        break;
      case FieldKind::kMessage:
        holds = reflection->HasField(message, fp.field) &&
                CollectPresent(*fp.message, effective,
                               reflection->GetMessage(message, fp.field),
                               present);
        break;
      case FieldKind::kRepeatedMessage:
      case FieldKind::kMapMessage: {
        const int size = reflection->FieldSize(message, fp.field);
        for (int i = 0; i < size; ++i) {
          const Message& element =
              reflection->GetRepeatedMessage(message, fp.field, i);
          if (fp.kind == FieldKind::kMapMessage) {
            const Reflection* entry_reflection = element.GetReflection();
            if (!entry_reflection->HasField(element, fp.map_value)) continue;
            if (CollectPresent(
                    *fp.message, effective,
                    entry_reflection->GetMessage(element, fp.map_value),
                    present)) {
              holds = true;
              // The keys: governed by the map's category, else structural.
              *present |= effective != 0 ? effective : kOperationalBit;
            }
          } else if (CollectPresent(*fp.message, effective, element,
                                    present)) {
            holds = true;
          }
        }
        break;
      }
    }
    if (holds) {
      *present |= effective;
      any = true;
    }
  }
  return any;
}

std::vector<const Descriptor*> SchemaRoots() {
  std::vector<const Descriptor*> roots;
  // Naming one message of each file links the file in and finds it.
  for (const google::protobuf::FileDescriptor* file :
       {v1::Date::descriptor()->file(), v1::Referral::descriptor()->file(),
        v1::Transition::descriptor()->file(),
        v1::Consent::descriptor()->file(),
        v1::Assessment::descriptor()->file(),
        v1::AuditRecord::descriptor()->file(),
        v1::WhoAmIResponse::descriptor()->file()}) {
    for (int i = 0; i < file->message_type_count(); ++i) {
      roots.push_back(file->message_type(i));
    }
  }
  return roots;
}

}  // namespace
}  // namespace minimise_internal

using minimise_internal::MessagePlan;
using minimise_internal::PlanSet;

Projector::Projector() : Projector(minimise_internal::SchemaRoots()) {}

Projector::Projector(
    const std::vector<const google::protobuf::Descriptor*>& roots)
    : plans_(std::make_unique<PlanSet>()) {
  for (const google::protobuf::Descriptor* root : roots) plans_->Build(root);
}

Projector::~Projector() = default;

const Projector& Projector::Default() {
  static const Projector* const projector = new Projector();
  return *projector;
}

void Projector::Project(const CategorySet& permitted,
                        google::protobuf::Message* message) const {
  const uint32_t bits = (permitted | CategorySet::AlwaysPermitted()).bits();
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  if (const MessagePlan* plan = plans_->Get(descriptor)) {
    minimise_internal::ProjectMessage(*plan, bits, 0, message);
    return;
  }
  PlanSet local;  // a type outside the roots: correct, only not cached
  minimise_internal::ProjectMessage(*local.Build(descriptor), bits, 0,
                                    message);
}

void Projector::ProjectCopy(const CategorySet& permitted,
                            const google::protobuf::Message& source,
                            google::protobuf::Message* out) const {
  out->CopyFrom(source);
  Project(permitted, out);
}

CategorySet Projector::CategoriesPresent(
    const google::protobuf::Message& message) const {
  uint32_t present = 0;
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  if (const MessagePlan* plan = plans_->Get(descriptor)) {
    minimise_internal::CollectPresent(*plan, 0, message, &present);
  } else {
    PlanSet local;
    minimise_internal::CollectPresent(*local.Build(descriptor), 0, message,
                                      &present);
  }
  return CategorySet::FromBits(present);
}

}  // namespace sild
