#include "gateway/base/personal_code.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"

namespace sild {
namespace {

constexpr absl::string_view kReason = "INVALID_PERSONAL_CODE";

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

int Digit(absl::string_view s, size_t i) { return s[i] - '0'; }

}  // namespace

int EstonianCheckDigit(absl::string_view digits) {
  auto weighted = [&](int first_weight) {
    int sum = 0;
    int weight = first_weight;
    for (size_t i = 0; i < digits.size(); ++i) {
      sum += Digit(digits, i) * weight;
      weight = weight == 9 ? 1 : weight + 1;
    }
    return sum % 11;
  };
  int check = weighted(1);
  if (check != 10) return check;
  check = weighted(3);
  return check == 10 ? 0 : check;
}

absl::StatusOr<PersonalCode> ParsePersonalCode(absl::string_view code,
                                               absl::string_view field) {
  if (code.size() != 11) {
    return InvalidField(kReason, field,
                        absl::StrCat("a personal code has 11 digits, got ",
                                     code.size(), " characters"));
  }
  if (!AllDigits(code)) {
    return InvalidField(kReason, field, "a personal code has only digits");
  }
  int g = Digit(code, 0);
  if (g < 1 || g > 8) {
    return InvalidField(
        kReason, field,
        absl::StrCat("century and sex digit must be 1-8, got ", g));
  }
  int century = 1800 + ((g - 1) / 2) * 100;
  int year = century + Digit(code, 1) * 10 + Digit(code, 2);
  int month = Digit(code, 3) * 10 + Digit(code, 4);
  int day = Digit(code, 5) * 10 + Digit(code, 6);
  absl::CivilDay date(year, month, day);
  if (date.year() != year || date.month() != month || date.day() != day) {
    return InvalidField(
        kReason, field,
        absl::StrCat("birth date ", year, "-",
                     absl::StrCat(month / 10, month % 10), "-",
                     absl::StrCat(day / 10, day % 10), " does not exist"));
  }
  int check = EstonianCheckDigit(code.substr(0, 10));
  if (check != Digit(code, 10)) {
    // The right digit is not told: the error would complete a guessed code.
    return InvalidField(kReason, field,
                        "the check digit does not match the other ten digits "
                        "(mistyped?)");
  }
  return PersonalCode{std::string(code), date,
                      g % 2 == 1 ? Sex::kMale : Sex::kFemale};
}

int AgeOn(const PersonalCode& code, absl::CivilDay day) {
  int age = static_cast<int>(day.year() - code.birth_date.year());
  if (day.month() < code.birth_date.month() ||
      (day.month() == code.birth_date.month() &&
       day.day() < code.birth_date.day())) {
    --age;
  }
  return age;
}

}  // namespace sild
