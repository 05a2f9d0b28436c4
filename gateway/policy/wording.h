// Words for enum values in the human sentences of decisions and rule
// explanations: AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES -> "municipal social
// services". Internal to gateway/policy.
//
// Thread-safe; EnumWordTable is immutable after construction.
#ifndef SILD_GATEWAY_POLICY_WORDING_H_
#define SILD_GATEWAY_POLICY_WORDING_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"

namespace sild {

// The value's name without the enum's prefix, lower case, spaces for
// underscores; "unknown (7)" for a number the enum does not define.
std::string EnumWords(const google::protobuf::EnumDescriptor* type, int number);

// "a", "a or b", "a, b or c" (conjunction "or" or "and").
std::string JoinWords(const std::vector<std::string>& words,
                      const char* conjunction);

// EnumWords for every number of a small enum, computed once, so that making
// a sentence does no descriptor lookups.
class EnumWordTable {
 public:
  explicit EnumWordTable(const google::protobuf::EnumDescriptor* type);
  const std::string& operator[](int number) const;

 private:
  const google::protobuf::EnumDescriptor* type_;
  std::vector<std::string> words_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_POLICY_WORDING_H_
