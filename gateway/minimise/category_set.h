// CategorySet: a small value set of sild.v1.DataCategory.
//
// Decisions, minimisation and the audit record speak of data categories as
// sets: the categories a message holds, those a consent or rule covers, those
// a recipient may receive. A CategorySet is a 32-bit mask, so copying and set
// algebra cost nothing.
//
//   CategorySet permitted = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_EDUCATION};
//   permitted |= CategorySet::AlwaysPermitted();
//   if (!requested.IsSubsetOf(permitted)) { ... requested - permitted ... }
//
// Always permitted: OPERATIONAL (message ids, status codes, agency registry
// codes, timestamps) and PROFESSIONAL (the acting professional's name, role
// and work contact). Without them the exchange cannot function: a recipient
// could not tell which message or case a copy belongs to, answer it, or
// acknowledge it. Neither is data about the child. The set itself does not
// add them; the Projector and the decision engine do (see
// AlwaysPermitted()).
//
// UNSPECIFIED and numbers outside the enum's range are never members: Add()
// ignores them, so an unknown category can never be "permitted".
//
// Thread safety: a value type; const methods are safe to call concurrently.
#ifndef SILD_GATEWAY_MINIMISE_CATEGORY_SET_H_
#define SILD_GATEWAY_MINIMISE_CATEGORY_SET_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "google/protobuf/repeated_field.h"
#include "sild/v1/options.pb.h"

namespace sild {

class CategorySet {
 public:
  constexpr CategorySet() = default;
  CategorySet(std::initializer_list<v1::DataCategory> categories) {
    for (v1::DataCategory category : categories) Add(category);
  }

  // OPERATIONAL and PROFESSIONAL; see the file comment for why.
  static CategorySet AlwaysPermitted() {
    return {v1::DATA_CATEGORY_OPERATIONAL, v1::DATA_CATEGORY_PROFESSIONAL};
  }
  // Every named category except UNSPECIFIED.
  static CategorySet All();
  // From a repeated enum field such as Consent.data_categories.
  static CategorySet FromRepeated(const google::protobuf::RepeatedField<int>&);
  static constexpr CategorySet FromBits(uint32_t bits) {
    return CategorySet(bits & kValidBits);
  }

  // True for a named category other than UNSPECIFIED.
  static constexpr bool IsValid(int category) {
    return category > v1::DATA_CATEGORY_UNSPECIFIED &&
           category <= v1::DataCategory_MAX;
  }
  // The mask bit of `category`, 0 for UNSPECIFIED or an unknown number.
  static constexpr uint32_t Bit(int category) {
    return IsValid(category) ? (uint32_t{1} << category) : 0;
  }

  void Add(int category) { bits_ |= Bit(category); }
  void Remove(int category) { bits_ &= ~Bit(category); }
  bool Contains(int category) const {
    return Bit(category) != 0 && (bits_ & Bit(category)) != 0;
  }

  bool empty() const { return bits_ == 0; }
  int size() const { return __builtin_popcount(bits_); }
  uint32_t bits() const { return bits_; }

  bool IsSubsetOf(CategorySet other) const {
    return (bits_ & ~other.bits_) == 0;
  }
  bool Intersects(CategorySet other) const {
    return (bits_ & other.bits_) != 0;
  }

  CategorySet& operator|=(CategorySet other) {
    bits_ |= other.bits_;
    return *this;
  }
  CategorySet& operator&=(CategorySet other) {
    bits_ &= other.bits_;
    return *this;
  }
  CategorySet& operator-=(CategorySet other) {
    bits_ &= ~other.bits_;
    return *this;
  }
  friend CategorySet operator|(CategorySet a, CategorySet b) { return a |= b; }
  friend CategorySet operator&(CategorySet a, CategorySet b) { return a &= b; }
  friend CategorySet operator-(CategorySet a, CategorySet b) { return a -= b; }
  friend bool operator==(CategorySet a, CategorySet b) {
    return a.bits_ == b.bits_;
  }

  // Members in ascending enum order (the order the audit record lists them).
  std::vector<v1::DataCategory> ToVector() const;
  // "{EDUCATION, HEALTH}": short names without the DATA_CATEGORY_ prefix.
  std::string ToString() const;
  // "education and health", for human sentences; "no categories" if empty.
  std::string ToPhrase() const;

 private:
  static constexpr uint32_t kValidBits =
      ((uint32_t{1} << (v1::DataCategory_MAX + 1)) - 1) & ~uint32_t{1};
  static_assert(v1::DataCategory_MAX < 32, "CategorySet is a 32-bit mask");

  explicit constexpr CategorySet(uint32_t bits) : bits_(bits) {}

  uint32_t bits_ = 0;
};

// "HEALTH" for DATA_CATEGORY_HEALTH; "UNSPECIFIED" for unknown numbers.
std::string CategoryShortName(int category);

}  // namespace sild

#endif  // SILD_GATEWAY_MINIMISE_CATEGORY_SET_H_
