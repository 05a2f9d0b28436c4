#include "gateway/minimise/projector.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "gateway/minimise/category_index.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "sild/v1/assessment.pb.h"
#include "sild/v1/audit_service.pb.h"
#include "sild/v1/consent_service.pb.h"
#include "sild/v1/delivery_service.pb.h"
#include "sild/v1/exchange.pb.h"
#include "sild/v1/inbox_service.pb.h"
#include "sild/v1/referral_service.pb.h"
#include "sild/v1/transition_service.pb.h"
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
  uint32_t own_bit;                  // CategorySet::Bit of the field's category
  const MessagePlan* message;        // plan of the (map value) message type
  const FieldDescriptor* map_value;  // kMapMessage: the entry's value field
};

// A real oneof: the walk asks once which member is set instead of asking
// every member.
struct OneofPlan {
  const google::protobuf::OneofDescriptor* oneof;
  std::vector<FieldPlan> members;  // by index_in_oneof()
};

struct MessagePlan {
  std::vector<OneofPlan> oneofs;
  // Fields outside real oneofs; message fields first, so that once one of
  // them is found non-empty the walk need not look for a set permitted leaf.
  std::vector<FieldPlan> fields;
  // The reflection every generated instance of the type shares, so the walk
  // need not ask each message (GetReflection runs a call_once check); null
  // for plans built for messages of other factories.
  const Reflection* reflection = nullptr;
};

inline bool IsMessageKind(FieldKind kind) {
  return kind == FieldKind::kMessage || kind == FieldKind::kRepeatedMessage ||
         kind == FieldKind::kMapMessage;
}

// Plans keyed by descriptor. Built completely before use, then read-only.
class PlanSet {
 public:
  // `generated`: the plans serve instances of the generated message classes,
  // whose reflection can be cached.
  explicit PlanSet(bool generated) : generated_(generated) {}

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
    if (generated_ && descriptor->file()->pool() ==
                          google::protobuf::DescriptorPool::generated_pool()) {
      const Message* prototype =
          google::protobuf::MessageFactory::generated_factory()->GetPrototype(
              descriptor);
      if (prototype != nullptr) plan->reflection = prototype->GetReflection();
    }
    // Real oneofs come first; synthetic ones (proto3 `optional`) follow and
    // are walked as plain fields.
    for (int i = 0; i < descriptor->real_oneof_decl_count(); ++i) {
      const google::protobuf::OneofDescriptor* oneof =
          descriptor->oneof_decl(i);
      OneofPlan op{oneof, {}};
      for (int j = 0; j < oneof->field_count(); ++j) {
        op.members.push_back(FieldPlanFor(oneof->field(j)));
      }
      plan->oneofs.push_back(std::move(op));
    }
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const FieldDescriptor* field = descriptor->field(i);
      if (field->real_containing_oneof() != nullptr) continue;
      plan->fields.push_back(FieldPlanFor(field));
    }
    std::stable_partition(
        plan->fields.begin(), plan->fields.end(),
        [](const FieldPlan& fp) { return IsMessageKind(fp.kind); });
    return plan;
  }

 private:
  FieldPlan FieldPlanFor(const FieldDescriptor* field) {
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
    return fp;
  }

  const bool generated_;
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
              ProjectMessage(
                  *fp.message, permitted, effective,
                  entry_reflection->MutableMessage(element, fp.map_value));
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

// Projects one field. `known_set`: the caller knows the field is set (the
// active member of a oneof). `*empty` is cleared when the field holds
// something afterwards; a permitted leaf is looked at only while `*empty`.
void ProjectField(const FieldPlan& fp, uint32_t permitted, uint32_t inherited,
                  const Reflection* reflection, Message* message,
                  bool known_set, bool* empty) {
  const uint32_t effective = fp.own_bit != 0 ? fp.own_bit : inherited;
  const bool allowed = (effective & permitted) != 0;
  switch (fp.kind) {
    case FieldKind::kScalar:
      if (allowed) {
        if (*empty && (known_set || reflection->HasField(*message, fp.field))) {
          *empty = false;
        }
      } else if (known_set || reflection->HasField(*message, fp.field)) {
        reflection->ClearField(message, fp.field);
      }
      break;
    case FieldKind::kRepeatedScalar:
      if (allowed) {
        if (*empty && reflection->FieldSize(*message, fp.field) > 0) {
          *empty = false;
        }
      } else if (reflection->FieldSize(*message, fp.field) > 0) {
        reflection->ClearField(message, fp.field);
      }
      break;
    case FieldKind::kMessage:
      if (!known_set && !reflection->HasField(*message, fp.field)) break;
      if ((effective != 0 && !allowed) ||
          ProjectMessage(*fp.message, permitted, effective,
                         reflection->MutableMessage(message, fp.field))) {
        reflection->ClearField(message, fp.field);
      } else {
        *empty = false;
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
        *empty = false;
      }
      break;
    }
  }
}

bool ProjectMessage(const MessagePlan& plan, uint32_t permitted,
                    uint32_t inherited, Message* message) {
  const Reflection* reflection =
      plan.reflection != nullptr ? plan.reflection : message->GetReflection();
  DropUnknownFields(reflection, message);
  bool empty = true;
  for (const OneofPlan& op : plan.oneofs) {
    const FieldDescriptor* active =
        reflection->GetOneofFieldDescriptor(*message, op.oneof);
    if (active == nullptr) continue;
    ProjectField(op.members[active->index_in_oneof()], permitted, inherited,
                 reflection, message, /*known_set=*/true, &empty);
  }
  for (const FieldPlan& fp : plan.fields) {
    ProjectField(fp, permitted, inherited, reflection, message,
                 /*known_set=*/false, &empty);
  }
  return empty;
}

bool CollectPresent(const MessagePlan& plan, uint32_t inherited,
                    const Message& message, uint32_t* present);

// Adds to `*present` what one field discloses; returns true if it holds a
// leaf that projection could keep.
bool CollectField(const FieldPlan& fp, uint32_t inherited,
                  const Reflection* reflection, const Message& message,
                  uint32_t* present) {
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
      holds =
          reflection->HasField(message, fp.field) &&
          CollectPresent(*fp.message, effective,
                         reflection->GetMessage(message, fp.field), present);
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
        } else if (CollectPresent(*fp.message, effective, element, present)) {
          holds = true;
        }
      }
      break;
    }
  }
  if (holds) *present |= effective;
  return holds;
}

// Adds to `*present` what `message` discloses; returns true if it holds a
// leaf that projection could keep.
bool CollectPresent(const MessagePlan& plan, uint32_t inherited,
                    const Message& message, uint32_t* present) {
  const Reflection* reflection =
      plan.reflection != nullptr ? plan.reflection : message.GetReflection();
  bool any = false;
  for (const OneofPlan& op : plan.oneofs) {
    const FieldDescriptor* active =
        reflection->GetOneofFieldDescriptor(message, op.oneof);
    if (active == nullptr) continue;
    any |= CollectField(op.members[active->index_in_oneof()], inherited,
                        reflection, message, present);
  }
  for (const FieldPlan& fp : plan.fields) {
    any |= CollectField(fp, inherited, reflection, message, present);
  }
  return any;
}

std::vector<const Descriptor*> SchemaRoots() {
  std::vector<const Descriptor*> roots;
  for (const google::protobuf::FileDescriptor* file : SildSchemaFiles()) {
    for (int i = 0; i < file->message_type_count(); ++i) {
      roots.push_back(file->message_type(i));
    }
  }
  return roots;
}

}  // namespace
}  // namespace minimise_internal

std::vector<const google::protobuf::FileDescriptor*> SildSchemaFiles() {
  // Naming one type of each file links the file in and finds it.
  return {v1::DataCategory_descriptor()->file(),
          v1::Date::descriptor()->file(),
          v1::Referral::descriptor()->file(),
          v1::Transition::descriptor()->file(),
          v1::Consent::descriptor()->file(),
          v1::Assessment::descriptor()->file(),
          v1::AuditRecord::descriptor()->file(),
          v1::Envelope::descriptor()->file(),
          v1::WhoAmIResponse::descriptor()->file(),
          v1::GrantConsentRequest::descriptor()->file(),
          v1::SubmitReferralRequest::descriptor()->file(),
          v1::SubmitTransitionRequest::descriptor()->file(),
          v1::SubscribeRequest::descriptor()->file(),
          v1::ListDeliveriesRequest::descriptor()->file(),
          v1::AuditQueryRequest::descriptor()->file()};
}

using minimise_internal::MessagePlan;
using minimise_internal::PlanSet;

Projector::Projector() : Projector(minimise_internal::SchemaRoots()) {}

Projector::Projector(
    const std::vector<const google::protobuf::Descriptor*>& roots)
    : plans_(std::make_unique<PlanSet>(/*generated=*/true)) {
  for (const google::protobuf::Descriptor* root : roots) plans_->Build(root);
}

Projector::~Projector() = default;

const Projector& Projector::Default() {
  static const Projector* const projector = new Projector();
  return *projector;
}

namespace {

// The cached plan for `message`, or null when it has none or when `message`
// is not an instance of the generated class (e.g. a DynamicMessage).
const MessagePlan* CachedPlan(const PlanSet& plans,
                              const google::protobuf::Message& message) {
  const MessagePlan* plan = plans.Get(message.GetDescriptor());
  if (plan == nullptr || plan->reflection != message.GetReflection()) {
    return nullptr;
  }
  return plan;
}

}  // namespace

void Projector::Project(const CategorySet& permitted,
                        google::protobuf::Message* message) const {
  const uint32_t bits = (permitted | CategorySet::AlwaysPermitted()).bits();
  if (const MessagePlan* plan = CachedPlan(*plans_, *message)) {
    minimise_internal::ProjectMessage(*plan, bits, 0, message);
    return;
  }
  PlanSet local(/*generated=*/false);  // correct, only not cached
  minimise_internal::ProjectMessage(*local.Build(message->GetDescriptor()),
                                    bits, 0, message);
}

void Projector::ProjectCopy(const CategorySet& permitted,
                            const google::protobuf::Message& source,
                            google::protobuf::Message* out) const {
  // Clear + MergeFrom rather than CopyFrom: Message::CopyFrom first walks the
  // destination by reflection to rule out aliasing.
  if (out != &source) {
    out->Clear();
    out->MergeFrom(source);
  }
  Project(permitted, out);
}

CategorySet Projector::CategoriesPresent(
    const google::protobuf::Message& message) const {
  uint32_t present = 0;
  if (const MessagePlan* plan = CachedPlan(*plans_, message)) {
    minimise_internal::CollectPresent(*plan, 0, message, &present);
  } else {
    PlanSet local(/*generated=*/false);
    minimise_internal::CollectPresent(*local.Build(message.GetDescriptor()), 0,
                                      message, &present);
  }
  return CategorySet::FromBits(present);
}

}  // namespace sild
