// The data category the schema gives each field, and the schema rule that
// every leaf must have one.
//
// Every scalar, string, bytes or enum field of a sild.v1 message carries
// `[(sild.v1.category) = ...]`. A message-typed field may carry one for its
// whole subtree; without one, minimisation descends and the leaves decide.
//
//   v1::DataCategory c =
//   FieldCategory(Referral::descriptor()->FindFieldByName("summary"));
//   std::vector<std::string> bad =
//   FieldsMissingCategory(Referral::descriptor()->file());
//
// Thread-safe; no state. Descriptors are borrowed, never owned.
#ifndef SILD_GATEWAY_MINIMISE_CATEGORY_INDEX_H_
#define SILD_GATEWAY_MINIMISE_CATEGORY_INDEX_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "sild/v1/options.pb.h"

namespace sild {

// The field's `(sild.v1.category)` option, or DATA_CATEGORY_UNSPECIFIED.
v1::DataCategory FieldCategory(const google::protobuf::FieldDescriptor* field);

// Full names of the fields in `file` (nested messages included, map entries
// judged through their map field) that break the category rule:
//  - a scalar, string, bytes or enum field (repeated or not) without a
//    category;
//  - a map field whose values are not messages, without a category (the map
//    field's category governs keys and values);
//  - a message-typed field (or map with message values) without a category
//    whose type comes from another package (e.g. google.protobuf.Timestamp):
//    such types cannot carry the option, so minimisation would have nothing
//    to go by inside them.
// Empty when the file conforms. Order: declaration order.
std::vector<std::string> FieldsMissingCategory(
    const google::protobuf::FileDescriptor* file);

}  // namespace sild

#endif  // SILD_GATEWAY_MINIMISE_CATEGORY_INDEX_H_
