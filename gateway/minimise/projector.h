// Projector: removes from a message every field whose data category the
// recipient may not receive. Start here for minimisation.
//
//   const Projector& projector = Projector::Default();
//   CategorySet held = projector.CategoriesPresent(referral);  // for Decide()
//   ...
//   sild::v1::Referral copy;
//   projector.ProjectCopy(decision.permitted, referral, &copy);  // per
//   recipient
//
// Semantics (walk by reflection, categories from the schema, see
// category_index.h). Let P = `permitted` plus CategorySet::AlwaysPermitted().
//  - A field's effective category is its own `(sild.v1.category)`, or else the
//    nearest enclosing message field's (so the seconds of a Timestamp whose
//    field is OPERATIONAL are OPERATIONAL).
//  - A scalar, string, bytes or enum field (repeated or not, oneof member or
//    not) is cleared unless its effective category is in P. A leaf with no
//    effective category at all is cleared: fail closed.
//  - A message field (singular, repeated or map) whose own category is not in
//    P is cleared whole. Otherwise the projector descends and the categories
//    inside apply too: keeping a representative's phone needs IDENTITY (the
//    Representative.person field) and CONTACT (Person.contact).
//  - A map field's own category governs its keys and scalar values. Maps with
//    message values descend into each value; their keys are structural and
//    count as OPERATIONAL when the map field has no category.
//  - A message that holds nothing after projection is removed: a singular or
//    oneof field is cleared, an empty element of a repeated field or an entry
//    with an empty value is deleted (a RiskIndicator whose only member was
//    `health` disappears, instead of revealing that a health concern existed).
//  - Unknown fields are dropped at every level, whatever P is.
//
// Thread safety: immutable after construction; every method is const and may
// be called concurrently. Field plans are built once in the constructor for
// the root types and every type reachable from them; a message of any other
// type is still projected correctly, through plans built for that call.
// The projector borrows descriptors; generated descriptors live forever.
#ifndef SILD_GATEWAY_MINIMISE_PROJECTOR_H_
#define SILD_GATEWAY_MINIMISE_PROJECTOR_H_

#include <memory>
#include <vector>

#include "gateway/minimise/category_set.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace sild {

namespace minimise_internal {
class PlanSet;
}  // namespace minimise_internal

// Every file of the sild.v1 schema, linked into the binary. A new .proto
// file is added here (the schema test fails until it is), so the default
// projector caches plans for all of its messages.
std::vector<const google::protobuf::FileDescriptor*> SildSchemaFiles();

class Projector {
 public:
  // Plans for every message type of the sild.v1 schema.
  Projector();
  // Plans for `roots` and every message type reachable from them.
  explicit Projector(
      const std::vector<const google::protobuf::Descriptor*>& roots);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // A process-wide projector for the sild.v1 schema (built on first use).
  static const Projector& Default();

  // Minimises `message` in place for a recipient permitted `permitted`.
  void Project(const CategorySet& permitted,
               google::protobuf::Message* message) const;

  // Writes into `out` (same type as `source`, contents replaced) the projection
  // of `source`; `source` is not changed. Reusing `out` saves allocations.
  void ProjectCopy(const CategorySet& permitted,
                   const google::protobuf::Message& source,
                   google::protobuf::Message* out) const;

  // Categories `message` would disclose: for every set leaf, its effective
  // category and the categories of all message fields enclosing it. Empty
  // messages and uncategorised leaves (which Project always removes) add
  // nothing. Project(CategoriesPresent(m), &m) keeps every leaf of m.
  CategorySet CategoriesPresent(const google::protobuf::Message& message) const;

 private:
  std::unique_ptr<minimise_internal::PlanSet> plans_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_MINIMISE_PROJECTOR_H_
