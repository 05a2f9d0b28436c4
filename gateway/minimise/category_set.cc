#include "gateway/minimise/category_set.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace sild {

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
    if (Contains(category)) out.push_back(static_cast<v1::DataCategory>(category));
  }
  return out;
}

std::string CategoryShortName(int category) {
  if (!CategorySet::IsValid(category)) return "UNSPECIFIED";
  const std::string& name =
      v1::DataCategory_Name(static_cast<v1::DataCategory>(category));
  constexpr absl::string_view kPrefix = "DATA_CATEGORY_";
  return name.substr(kPrefix.size());
}

std::string CategorySet::ToString() const {
  std::vector<std::string> names;
  for (v1::DataCategory category : ToVector()) {
    names.push_back(CategoryShortName(category));
  }
  return absl::StrCat("{", absl::StrJoin(names, ", "), "}");
}

std::string CategorySet::ToPhrase() const {
  std::vector<std::string> words;
  for (v1::DataCategory category : ToVector()) {
    words.push_back(absl::AsciiStrToLower(
        absl::StrReplaceAll(CategoryShortName(category), {{"_", " "}})));
  }
  if (words.empty()) return "no categories";
  if (words.size() == 1) return words[0];
  std::string last = words.back();
  words.pop_back();
  return absl::StrCat(absl::StrJoin(words, ", "), " and ", last);
}

}  // namespace sild
