// Estonian personal code (isikukood) validation: 11 digits GYYMMDDSSSC.
//
// G gives century and sex (1/2 = 1800s, 3/4 = 1900s, 5/6 = 2000s,
// 7/8 = 2100s; odd = male), YYMMDD must be a real date, C is the check digit
// (weights 1..9,1 over the first ten digits, sum mod 11; if 10, weights
// 3..9,1,2,3; if 10 again, 0).
//
//   absl::StatusOr<PersonalCode> code = ParsePersonalCode("51205280105");
//   if (code.ok()) AgeOn(*code, today);
//
// Errors are INVALID_ARGUMENT with reason INVALID_PERSONAL_CODE and a message
// saying which rule failed. Thread-safe; no state.
#ifndef SILD_GATEWAY_BASE_PERSONAL_CODE_H_
#define SILD_GATEWAY_BASE_PERSONAL_CODE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace sild {

enum class Sex { kMale, kFemale };

struct PersonalCode {
  std::string code;
  absl::CivilDay birth_date;
  Sex sex;
};

// The check digit for the first ten digits of a code (or the first seven of a
// registry code): the shared Estonian mod-11 scheme.
int EstonianCheckDigit(absl::string_view digits);

// Parses and validates a personal code. `field` names it in errors.
absl::StatusOr<PersonalCode> ParsePersonalCode(
    absl::string_view code, absl::string_view field = "personal_code");

// Full years of age on `day`.
int AgeOn(const PersonalCode& code, absl::CivilDay day);

}  // namespace sild

#endif  // SILD_GATEWAY_BASE_PERSONAL_CODE_H_
