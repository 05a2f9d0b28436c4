#include "connectors/codecs/example/csv_referral_codec.h"

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "sild/v1/referral.pb.h"

namespace sild::connectors {
namespace {

constexpr absl::string_view kServicePrefix = "SERVICE_TYPE_";
constexpr size_t kDefaultMaxLineBytes = 64 * 1024;
// Columns, in order; also the field paths of decode errors.
constexpr const char* kColumns[] = {"personal_code",   "service",
                                    "performer",       "summary",
                                    "idempotency_key", "message_id"};

// The separator as an octal escape, so an escaped field never contains it.
std::string OctalEscape(char c) {
  char buffer[8];
  snprintf(buffer, sizeof(buffer), "\\%03o", static_cast<unsigned char>(c));
  return buffer;
}

std::string EscapeField(absl::string_view value, char separator) {
  return absl::StrReplaceAll(
      absl::Utf8SafeCEscape(value),
      {{std::string(1, separator), OctalEscape(separator)}});
}

absl::StatusOr<std::string> UnescapeField(absl::string_view value,
                                          const char* column) {
  std::string out;
  std::string error;
  if (!absl::CUnescape(value, &out, &error)) {
    return InvalidField("INVALID_ESCAPE", column,
                        absl::StrCat("bad escape sequence: ", error));
  }
  return out;
}

}  // namespace

CsvReferralCodec::CsvReferralCodec(
    const sild::connectors::v1::CsvReferralCodecConfig& config)
    : separator_(config.separator().empty() ? ';' : config.separator()[0]),
      purpose_(config.purpose() == sild::v1::PURPOSE_UNSPECIFIED
                   ? sild::v1::PURPOSE_SUPPORT_SERVICE
                   : config.purpose()) {
  limits_.max_bytes = config.max_line_bytes() == 0 ? kDefaultMaxLineBytes
                                                   : config.max_line_bytes();
  limits_.max_depth = 1;
}

absl::StatusOr<sild::v1::Envelope> CsvReferralCodec::Decode(
    absl::string_view native) const {
  if (native.size() > limits_.max_bytes) {
    return MakeError(absl::StatusCode::kResourceExhausted, "INPUT_TOO_LARGE",
                     "",
                     absl::StrCat("line of ", native.size(), " bytes exceeds ",
                                  limits_.max_bytes));
  }
  absl::ConsumeSuffix(&native, "\n");
  absl::ConsumeSuffix(&native, "\r");
  if (absl::StrContains(native, '\n') || absl::StrContains(native, '\r')) {
    return InvalidField("MULTIPLE_LINES", "",
                        "one referral per line, one line per message");
  }
  std::vector<absl::string_view> columns = absl::StrSplit(native, separator_);
  if (columns.size() != 5 && columns.size() != 6) {
    return InvalidField(
        "WRONG_COLUMN_COUNT", "",
        absl::StrCat("expected 5 or 6 fields separated by '",
                     std::string(1, separator_), "', got ", columns.size()));
  }
  std::vector<std::string> fields;
  for (size_t i = 0; i < columns.size(); ++i) {
    auto field = UnescapeField(columns[i], kColumns[i]);
    if (!field.ok()) return field.status();
    fields.push_back(*std::move(field));
  }

  sild::v1::Envelope envelope;
  envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  sild::v1::Referral* referral = envelope.mutable_referral();
  sild::v1::MessageHeader* header = referral->mutable_header();
  header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  header->set_purpose(purpose_);

  if (fields[0].empty()) {
    return InvalidField("MISSING_FIELD", kColumns[0],
                        "the child's personal code is required");
  }
  auto code = ParsePersonalCode(fields[0], kColumns[0]);
  if (!code.ok()) return code.status();
  referral->mutable_subject()->mutable_id()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  referral->mutable_subject()->mutable_id()->set_value(fields[0]);

  sild::v1::ServiceType service;
  std::string service_name =
      absl::StrCat(kServicePrefix, absl::AsciiStrToUpper(fields[1]));
  if (fields[1].empty() ||
      !sild::v1::ServiceType_Parse(service_name, &service) ||
      service == sild::v1::SERVICE_TYPE_UNSPECIFIED) {
    return InvalidField("UNKNOWN_SERVICE", kColumns[1],
                        absl::StrCat("\"", fields[1],
                                     "\" is not a service type (e.g. "
                                     "PSYCHOLOGIST, SOCIAL_WORKER)"));
  }
  referral->set_service(service);

  if (!fields[2].empty()) {
    absl::Status status = ValidateRegistryCode(fields[2], kColumns[2]);
    if (!status.ok()) return status;
    referral->mutable_performer()->set_registry_code(fields[2]);
  }
  referral->set_summary(fields[3]);

  if (fields[4].empty()) {
    return InvalidField("MISSING_IDEMPOTENCY_KEY", kColumns[4],
                        "every line needs an idempotency key");
  }
  header->set_idempotency_key(fields[4]);
  if (fields.size() == 6 && !fields[5].empty()) {
    envelope.set_message_id(fields[5]);
    header->set_message_id(fields[5]);
  }
  return envelope;
}

absl::StatusOr<std::string> CsvReferralCodec::Encode(
    const sild::v1::Envelope& envelope) const {
  if (envelope.body_case() != sild::v1::Envelope::kReferral) {
    return InvalidField("UNSUPPORTED_KIND", "kind",
                        "csv-referral carries referrals only");
  }
  const sild::v1::Referral& referral = envelope.referral();
  std::string service;
  if (referral.service() != sild::v1::SERVICE_TYPE_UNSPECIFIED) {
    absl::string_view name = sild::v1::ServiceType_Name(referral.service());
    absl::ConsumePrefix(&name, kServicePrefix);
    service = std::string(name);
  }
  std::string message_id = envelope.message_id().empty()
                               ? referral.header().message_id()
                               : envelope.message_id();
  std::vector<std::string> fields = {
      referral.subject().id().value(),      service,
      referral.performer().registry_code(), referral.summary(),
      referral.header().idempotency_key(),  message_id};
  for (std::string& field : fields) field = EscapeField(field, separator_);
  return absl::StrCat(absl::StrJoin(fields, std::string(1, separator_)), "\n");
}

absl::StatusOr<std::unique_ptr<CsvReferralCodec>> CsvReferralCodec::Create(
    const sild::connectors::v1::CsvReferralCodecConfig& config) {
  if (config.separator().size() > 1 ||
      (!config.separator().empty() &&
       (config.separator()[0] == '\\' || config.separator()[0] == '\n' ||
        static_cast<unsigned char>(config.separator()[0]) >= 0x80))) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "separator",
                        "one ASCII character other than \\ and newline");
  }
  return std::make_unique<CsvReferralCodec>(config);
}

namespace {

using CsvReferralCodecFactory =
    TypedCodecFactory<CsvReferralCodec::kName,
                      sild::connectors::v1::CsvReferralCodecConfig,
                      CsvReferralCodec>;

SILD_REGISTER_CODEC_FACTORY(CsvReferralCodecFactory);

}  // namespace
}  // namespace sild::connectors
