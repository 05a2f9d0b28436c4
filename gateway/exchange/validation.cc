#include "gateway/exchange/validation.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/status_macros.h"

namespace sild::exchange {
namespace {

absl::Status CheckText(const std::string& text, const std::string& field) {
  if (text.size() > kMaxFreeTextBytes) {
    return InvalidField("TEXT_TOO_LONG", field,
                        absl::StrCat("at most ", kMaxFreeTextBytes,
                                     " bytes, got ", text.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckDate(const sild::v1::Date& date, const std::string& field) {
  if (date.year() == 0 && date.month() == 0 && date.day() == 0) {
    return absl::OkStatus();
  }
  absl::CivilDay day(date.year(), date.month(), date.day());
  if (day.year() != date.year() || day.month() != date.month() ||
      day.day() != date.day() || date.year() < 1900 || date.year() > 2200) {
    return InvalidField("INVALID_DATE", field, "not a calendar date");
  }
  return absl::OkStatus();
}

absl::Status CheckRepresentatives(
    const google::protobuf::RepeatedPtrField<sild::v1::Representative>& reps,
    const std::string& prefix) {
  for (int i = 0; i < reps.size(); ++i) {
    const auto& id = reps[i].person().id();
    if (id.scheme() == sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE) {
      auto code = ParsePersonalCode(
          id.value(),
          absl::StrCat(prefix, ".representatives[", i, "].person.id.value"));
      if (!code.ok()) return code.status();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateHeaderForSubmit(const sild::v1::MessageHeader& header,
                                     const std::string& field) {
  const std::string& key = header.idempotency_key();
  if (key.empty()) {
    return InvalidField("MISSING_IDEMPOTENCY_KEY",
                        absl::StrCat(field, ".idempotency_key"),
                        "is required: a retry with the same key returns the "
                        "first receipt");
  }
  if (key.size() > 200) {
    return InvalidField("INVALID_IDEMPOTENCY_KEY",
                        absl::StrCat(field, ".idempotency_key"),
                        "at most 200 characters");
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidField("INVALID_IDEMPOTENCY_KEY",
                          absl::StrCat(field, ".idempotency_key"),
                          "printable ASCII without spaces only");
    }
  }
  if (header.purpose() == sild::v1::PURPOSE_UNSPECIFIED ||
      !sild::v1::Purpose_IsValid(header.purpose())) {
    return InvalidField("INVALID_PURPOSE", absl::StrCat(field, ".purpose"),
                        "a purpose of use is required");
  }
  if (header.case_id().size() > 200) {
    return InvalidField("INVALID_CASE_ID", absl::StrCat(field, ".case_id"),
                        "at most 200 characters");
  }
  return absl::OkStatus();
}

absl::Status ValidateSubject(const sild::v1::Person& subject,
                             const std::string& field) {
  if (subject.id().scheme() != sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE) {
    return InvalidField("UNSUPPORTED_IDENTIFIER",
                        absl::StrCat(field, ".id.scheme"),
                        "the subject needs an Estonian personal code "
                        "(IDENTIFIER_SCHEME_EE_PERSONAL_CODE)");
  }
  auto code =
      ParsePersonalCode(subject.id().value(), absl::StrCat(field, ".id.value"));
  if (!code.ok()) return code.status();
  SILD_RETURN_IF_ERROR(
      CheckDate(subject.birth_date(), absl::StrCat(field, ".birth_date")));
  return absl::OkStatus();
}

absl::Status ValidateReferral(const sild::v1::Referral& referral) {
  SILD_RETURN_IF_ERROR(
      ValidateHeaderForSubmit(referral.header(), "referral.header"));
  SILD_RETURN_IF_ERROR(ValidateSubject(referral.subject(), "referral.subject"));
  SILD_RETURN_IF_ERROR(
      CheckRepresentatives(referral.representatives(), "referral"));
  if (referral.service() == sild::v1::SERVICE_TYPE_UNSPECIFIED ||
      !sild::v1::ServiceType_IsValid(referral.service())) {
    return InvalidField("INVALID_SERVICE", "referral.service",
                        "the requested service is required");
  }
  SILD_RETURN_IF_ERROR(CheckText(referral.summary(), "referral.summary"));
  SILD_RETURN_IF_ERROR(CheckDate(referral.respond_by(), "referral.respond_by"));
  for (int i = 0; i < referral.risk_indicators_size(); ++i) {
    const auto& indicator = referral.risk_indicators(i);
    std::string at = absl::StrCat("referral.risk_indicators[", i, "]");
    if (indicator.detail_case() == sild::v1::RiskIndicator::DETAIL_NOT_SET) {
      return InvalidField("EMPTY_RISK_INDICATOR", at,
                          "a risk indicator needs one of its details");
    }
    if (indicator.has_attendance()) {
      int q = indicator.attendance().quarter();
      if (q < 0 || q > 4) {
        return InvalidField("INVALID_VALUE",
                            absl::StrCat(at, ".attendance.quarter"),
                            "quarter is 1-4");
      }
      if (indicator.attendance().unexcused_absences() < 0 ||
          indicator.attendance().lessons() < 0) {
        return InvalidField("INVALID_VALUE", absl::StrCat(at, ".attendance"),
                            "counts must not be negative");
      }
    }
  }
  if (referral.extensions_size() > 64) {
    return InvalidField("TOO_MANY_EXTENSIONS", "referral.extensions",
                        "at most 64 extension attributes");
  }
  return absl::OkStatus();
}

absl::Status ValidateTransition(const sild::v1::Transition& transition) {
  SILD_RETURN_IF_ERROR(
      ValidateHeaderForSubmit(transition.header(), "transition.header"));
  SILD_RETURN_IF_ERROR(
      ValidateSubject(transition.subject(), "transition.subject"));
  SILD_RETURN_IF_ERROR(
      CheckRepresentatives(transition.representatives(), "transition"));
  SILD_RETURN_IF_ERROR(
      CheckDate(transition.effective_date(), "transition.effective_date"));
  if (transition.effective_date().year() == 0) {
    return InvalidField("MISSING_DATE", "transition.effective_date",
                        "the date the child leaves is required");
  }
  SILD_RETURN_IF_ERROR(CheckText(transition.summary(), "transition.summary"));
  return absl::OkStatus();
}

}  // namespace sild::exchange
