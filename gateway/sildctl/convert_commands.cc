// sildctl convert: translates a message between connector formats locally,
// with the same codecs the gateway runs, and without a gateway. For
// connector developers and for support ("why was this file rejected?").
#include <fstream>
#include <iostream>
#include <iterator>
#include <ostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "connectors/codecs/fhir/fhir_codec.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/status_macros.h"
#include "gateway/sildctl/cli.h"
#include "google/protobuf/util/json_util.h"

namespace sild::ctl {
namespace {

constexpr char kCanonical[] = "canonical";

absl::StatusOr<std::unique_ptr<connectors::Codec>> CodecNamed(
    const std::string& name, const std::string& flag) {
  auto codec = connectors::CreateCodec(name, google::protobuf::Any(), flag);
  if (!codec.ok() && ErrorReason(codec.status()) == "UNKNOWN_CONNECTOR") {
    return UsageError(absl::StrCat(
        "--", flag, ": no codec \"", name, "\"; known: ", kCanonical, ", ",
        absl::StrJoin(
            connectors::Registry<connectors::CodecFactory>::Get().Names(),
            ", ")));
  }
  return codec;
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin),
                       std::istreambuf_iterator<char>());
  }
  return ReadFileToString(path);
}

std::string CanonicalJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  // Cannot fail for a generated message with valid enums.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

// A FHIR Consent is not an Envelope: the fhir-r4 codec translates it with
// its consent methods, canonical meaning sild.v1.Consent JSON.
absl::Status ConvertFhirConsent(CommandContext& ctx,
                                const connectors::FhirCodec& fhir,
                                const std::string& native,
                                const std::string& to) {
  SILD_ASSIGN_OR_RETURN(sild::v1::Consent consent, fhir.DecodeConsent(native));
  if (to == kCanonical) {
    ctx.out << CanonicalJson(consent);
    return absl::OkStatus();
  }
  if (to != connectors::FhirCodec::kName) {
    return UsageError(absl::StrCat("a FHIR Consent converts only to ",
                                   kCanonical, " or ",
                                   connectors::FhirCodec::kName));
  }
  SILD_ASSIGN_OR_RETURN(std::string encoded, fhir.EncodeConsent(consent));
  ctx.out << encoded << "\n";
  return absl::OkStatus();
}

absl::Status RunConvert(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({"from", "to"}));
  SILD_ASSIGN_OR_RETURN(std::string from, ctx.args.Require("from"));
  SILD_ASSIGN_OR_RETURN(std::string to, ctx.args.Require("to"));
  if (ctx.args.positionals().size() != 1) {
    return UsageError("give exactly one FILE (- for standard input)");
  }
  std::unique_ptr<connectors::Codec> decoder;
  std::unique_ptr<connectors::Codec> encoder;
  if (from != kCanonical) {
    SILD_ASSIGN_OR_RETURN(decoder, CodecNamed(from, "from"));
  }
  if (to != kCanonical) {
    SILD_ASSIGN_OR_RETURN(encoder, CodecNamed(to, "to"));
  }
  SILD_ASSIGN_OR_RETURN(std::string input,
                        ReadInput(ctx.args.positionals()[0]));

  sild::v1::Envelope envelope;
  if (decoder == nullptr) {
    google::protobuf::util::JsonParseOptions options;
    auto parsed =
        google::protobuf::util::JsonStringToMessage(input, &envelope, options);
    if (!parsed.ok()) {
      return InvalidField(
          "INVALID_JSON", "",
          absl::StrCat("not a sild.v1.Envelope in JSON: ", parsed.ToString()));
    }
  } else {
    const auto* fhir =
        dynamic_cast<const connectors::FhirCodec*>(decoder.get());
    if (fhir != nullptr) {
      auto type = fhir->ResourceType(input);
      if (type.ok() && *type == "Consent") {
        return ConvertFhirConsent(ctx, *fhir, input, to);
      }
    }
    SILD_ASSIGN_OR_RETURN(envelope, decoder->Decode(input));
  }
  if (encoder == nullptr) {
    ctx.out << CanonicalJson(envelope);
    return absl::OkStatus();
  }
  SILD_ASSIGN_OR_RETURN(std::string output, encoder->Encode(envelope));
  ctx.out << output;
  if (!output.empty() && output.back() != '\n') ctx.out << "\n";
  return absl::OkStatus();
}

SILD_REGISTER_COMMAND(
    "convert", "translate a message between connector formats, locally",
    "sildctl convert --from CODEC --to CODEC FILE\n"
    "  CODEC: a registered codec (csv-referral, fhir-r4, ...) or canonical\n"
    "  (a sild.v1.Envelope as JSON). FILE - reads standard input.\n"
    "  Prints the translation; on a decode error prints its reason and field\n"
    "  and exits 1. No gateway is contacted.",
    RunConvert);

}  // namespace
}  // namespace sild::ctl
