#include "gateway/base/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace sild {

absl::Status MakeError(absl::StatusCode code, absl::string_view reason,
                       absl::string_view field, absl::string_view message) {
  std::string text = field.empty()
                         ? absl::StrCat(reason, ": ", message)
                         : absl::StrCat(reason, ": ", field, ": ", message);
  absl::Status status(code, text);
  status.SetPayload(kReasonPayloadUrl, absl::Cord(reason));
  if (!field.empty()) status.SetPayload(kFieldPayloadUrl, absl::Cord(field));
  return status;
}

namespace {
std::string Payload(const absl::Status& status, absl::string_view url) {
  auto payload = status.GetPayload(url);
  return payload ? std::string(*payload) : std::string();
}
}  // namespace

std::string ErrorReason(const absl::Status& status) {
  return Payload(status, kReasonPayloadUrl);
}

std::string ErrorField(const absl::Status& status) {
  return Payload(status, kFieldPayloadUrl);
}

absl::Status PrefixErrorField(const absl::Status& status,
                              absl::string_view prefix) {
  if (status.ok()) return status;
  std::string field = ErrorField(status);
  std::string reason = ErrorReason(status);
  if (reason.empty()) return status;
  std::string full =
      field.empty() ? std::string(prefix) : absl::StrCat(prefix, ".", field);
  // Recover the human part of the message: it follows "REASON: field: ".
  absl::string_view message = status.message();
  std::string head = field.empty() ? absl::StrCat(reason, ": ")
                                   : absl::StrCat(reason, ": ", field, ": ");
  if (message.substr(0, head.size()) == head)
    message.remove_prefix(head.size());
  return MakeError(status.code(), reason, full, message);
}

}  // namespace sild
