#include "gateway/policy/wording.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace sild {

std::string EnumWords(const google::protobuf::EnumDescriptor* type,
                      int number) {
  const google::protobuf::EnumValueDescriptor* value =
      type->FindValueByNumber(number);
  if (value == nullptr) return absl::StrCat("unknown (", number, ")");
  absl::string_view name = value->name();
  // Every sild enum's zero value is <PREFIX>_UNSPECIFIED.
  absl::string_view zero = type->value(0)->name();
  if (absl::EndsWith(zero, "UNSPECIFIED")) {
    absl::string_view prefix = zero.substr(0, zero.size() - 11);
    if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  }
  return absl::AsciiStrToLower(absl::StrReplaceAll(name, {{"_", " "}}));
}

std::string JoinWords(const std::vector<std::string>& words,
                      const char* conjunction) {
  if (words.empty()) return "";
  if (words.size() == 1) return words[0];
  std::vector<std::string> head(words.begin(), words.end() - 1);
  return absl::StrCat(absl::StrJoin(head, ", "), " ", conjunction, " ",
                      words.back());
}

EnumWordTable::EnumWordTable(const google::protobuf::EnumDescriptor* type)
    : type_(type) {
  int max = 0;
  for (int i = 0; i < type->value_count(); ++i) {
    max = std::max(max, type->value(i)->number());
  }
  for (int number = 0; number <= max; ++number) {
    words_.push_back(EnumWords(type, number));
  }
}

const std::string& EnumWordTable::operator[](int number) const {
  if (number >= 0 && number < static_cast<int>(words_.size())) {
    return words_[number];
  }
  // Rare (a number this build does not know); not cached, so not shared.
  thread_local std::string unknown;
  unknown = EnumWords(type_, number);
  return unknown;
}

}  // namespace sild
