#include "gateway/minimise/category_set.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace sild {
namespace {

// Names computed once: decisions make sentences on every call, and the
// generated DataCategory_Name looks the value up in the descriptor.
struct Names {
  std::array<std::string, 32> short_names;  // "SOCIAL_WELFARE"
  std::array<std::string, 32> words;        // "social welfare"
};

const Names& CategoryNames() {
  static const Names* const names = [] {
    auto* n = new Names();
    for (int category = 0; category < 32; ++category) {
      if (!CategorySet::IsValid(category)) {
        n->short_names[category] = "UNSPECIFIED";
        continue;
      }
      const std::string& full =
          v1::DataCategory_Name(static_cast<v1::DataCategory>(category));
      constexpr absl::string_view kPrefix = "DATA_CATEGORY_";
      n->short_names[category] = full.substr(kPrefix.size());
      n->words[category] = absl::AsciiStrToLower(
          absl::StrReplaceAll(n->short_names[category], {{"_", " "}}));
    }
    return n;
  }();
  return *names;
}

}  // namespace

CategorySet CategorySet::All() { return CategorySet(kValidBits); }

CategorySet CategorySet::FromRepeated(
    const google::protobuf::RepeatedField<int>& categories) {
  CategorySet set;
  for (int category : categories) set.Add(category);
  return set;
}

std::vector<v1::DataCategory> CategorySet::ToVector() const {
  std::vector<v1::DataCategory> out;
  for (int category = 1; category <= v1::DataCategory_MAX; ++category) {
    if (Contains(category)) {
      out.push_back(static_cast<v1::DataCategory>(category));
    }
  }
  return out;
}

std::string CategoryShortName(int category) {
  if (!CategorySet::IsValid(category)) return "UNSPECIFIED";
  return CategoryNames().short_names[category];
}

std::string CategorySet::ToString() const {
  const Names& names = CategoryNames();
  std::string out = "{";
  for (int category = 1; category <= v1::DataCategory_MAX; ++category) {
    if (!Contains(category)) continue;
    if (out.size() > 1) out += ", ";
    out += names.short_names[category];
  }
  out += "}";
  return out;
}

std::string CategorySet::ToPhrase() const {
  const Names& names = CategoryNames();
  const int count = size();
  if (count == 0) return "no categories";
  std::string out;
  int seen = 0;
  for (int category = 1; category <= v1::DataCategory_MAX; ++category) {
    if (!Contains(category)) continue;
    if (seen > 0) out += seen == count - 1 ? " and " : ", ";
    out += names.words[category];
    ++seen;
  }
  return out;
}

}  // namespace sild
