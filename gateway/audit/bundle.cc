#include "gateway/audit/bundle.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "gateway/audit/file_io.h"
#include "gateway/base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"

namespace sild::audit {

using sild::v1::AuditBundle;
using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

namespace {

void PutBigEndian(uint64_t value, int size, std::string& out) {
  for (int i = size - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

uint64_t GetBigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<uint8_t>(c);
  return value;
}

}  // namespace

absl::StatusOr<AuditBundle> AssembleBundle(
    std::vector<AuditRecord> records, std::vector<AuditCheckpoint> checkpoints,
    absl::string_view public_key_pem,
    const google::protobuf::Timestamp& exported_time) {
  if (records.empty()) {
    return absl::FailedPreconditionError("a bundle holds at least one record");
  }
  if (checkpoints.empty() ||
      checkpoints.back().sequence() != records.back().sequence()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a bundle must end at a checkpoint: the last record is ",
        records.back().sequence(), ", the last checkpoint ",
        checkpoints.empty() ? std::string("missing")
                            : absl::StrCat(checkpoints.back().sequence())));
  }
  AuditBundle bundle;
  bundle.set_chain_id(records.front().chain_id());
  bundle.set_first_sequence(records.front().sequence());
  bundle.set_last_sequence(records.back().sequence());
  bundle.set_anchor_previous_hash(records.front().previous_hash());
  bundle.mutable_records()->Reserve(static_cast<int>(records.size()));
  for (AuditRecord& record : records) {
    *bundle.add_records() = std::move(record);
  }
  for (AuditCheckpoint& checkpoint : checkpoints) {
    *bundle.add_checkpoints() = std::move(checkpoint);
  }
  bundle.set_public_key_pem(std::string(public_key_pem));
  *bundle.mutable_exported_time() = exported_time;
  return bundle;
}

absl::StatusOr<std::string> SerializeBundle(const AuditBundle& bundle) {
  const size_t size = bundle.ByteSizeLong();
  if (size > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the bundle is ", size,
        " bytes; protobuf caps a message at 2 GiB, export a shorter range"));
  }
  std::string out;
  out.reserve(kBundleHeaderSize + size);
  out.append(kBundleMagic.data(), kBundleMagic.size());
  PutBigEndian(kBundleFormatVersion, 4, out);
  PutBigEndian(size, 8, out);
  const size_t header = out.size();
  out.resize(header + size);
  if (!bundle.SerializeToArray(out.data() + header, static_cast<int>(size))) {
    return absl::InternalError("cannot serialise the bundle");
  }
  return out;
}

namespace {

// Checks the header and parses the payload into `bundle`.
absl::Status ParseInto(absl::string_view bytes, AuditBundle& bundle) {
  if (bytes.size() < kBundleMagic.size() ||
      bytes.substr(0, kBundleMagic.size()) != kBundleMagic) {
    return absl::InvalidArgumentError(
        "not a sild audit bundle (the file does not start with the "
        ".sildaudit magic)");
  }
  if (bytes.size() < kBundleHeaderSize) {
    return absl::DataLossError("the bundle file is cut off inside its header");
  }
  const uint64_t version = GetBigEndian(bytes.substr(8, 4));
  if (version != kBundleFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle format version ", version,
                     " is not supported (this sild-audit reads version ",
                     kBundleFormatVersion, ")"));
  }
  const uint64_t length = GetBigEndian(bytes.substr(12, 8));
  const absl::string_view payload = bytes.substr(kBundleHeaderSize);
  if (payload.size() != length) {
    return absl::DataLossError(absl::StrCat(
        "the bundle header announces ", length, " payload bytes, the file has ",
        payload.size(), payload.size() < length ? " (cut off)" : ""));
  }
  if (length > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return absl::DataLossError("the bundle payload exceeds 2 GiB");
  }
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(payload.data()),
      static_cast<int>(payload.size()));
  input.SetTotalBytesLimit(std::numeric_limits<int32_t>::max());
  if (!bundle.ParseFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
    return absl::DataLossError(
        "the bundle payload is not a valid sild.v1.AuditBundle (damaged)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AuditBundle> ParseBundle(absl::string_view bytes) {
  AuditBundle bundle;
  SILD_RETURN_IF_ERROR(ParseInto(bytes, bundle));
  return bundle;
}

absl::StatusOr<AuditBundle*> ParseBundle(absl::string_view bytes,
                                         google::protobuf::Arena& arena) {
  auto* bundle = google::protobuf::Arena::CreateMessage<AuditBundle>(&arena);
  SILD_RETURN_IF_ERROR(ParseInto(bytes, *bundle));
  return bundle;
}

absl::Status WriteBundleFile(const AuditBundle& bundle,
                             const std::string& path) {
  SILD_ASSIGN_OR_RETURN(std::string bytes, SerializeBundle(bundle));
  return WriteFileAtomically(path, bytes);
}

absl::StatusOr<AuditBundle> ReadBundleFile(const std::string& path) {
  SILD_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  absl::StatusOr<AuditBundle> bundle = ParseBundle(bytes);
  if (!bundle.ok()) {
    return absl::Status(bundle.status().code(),
                        absl::StrCat(path, ": ", bundle.status().message()));
  }
  return bundle;
}

}  // namespace sild::audit
