#include "gateway/base/registry_code.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"

namespace sild {

absl::Status ValidateRegistryCode(absl::string_view code,
                                  absl::string_view field) {
  constexpr absl::string_view kReason = "INVALID_REGISTRY_CODE";
  if (code.size() != 8) {
    return InvalidField(kReason, field,
                        absl::StrCat("a registry code has 8 digits, got ",
                                     code.size(), " characters"));
  }
  for (char c : code) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return InvalidField(kReason, field, "a registry code has only digits");
    }
  }
  int check = EstonianCheckDigit(code.substr(0, 7));
  if (check != code[7] - '0') {
    return InvalidField(
        kReason, field,
        absl::StrCat("check digit is ", code[7] - '0', ", expected ", check));
  }
  return absl::OkStatus();
}

}  // namespace sild
