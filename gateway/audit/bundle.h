// Audit bundles: an exported range of one chain with the checkpoints that
// sign it, in a `.sildaudit` file an auditor verifies offline.
//
// File layout (all integers big-endian):
//   offset 0   8 bytes  magic 89 53 49 4C 44 0D 0A 1A  ("\x89SILD\r\n\x1a")
//   offset 8   4 bytes  format version, 1
//   offset 12  8 bytes  payload length N
//   offset 20  N bytes  sild.v1.AuditBundle, binary protobuf
// The magic's high-bit byte, CR LF and ^Z catch files mangled by text-mode
// transfers, as PNG's does. Nothing may follow the payload.
//
// Export rule: a bundle ends at a checkpoint. Exporting up to the head cuts
// a fresh checkpoint first; a range ending earlier is extended to the next
// existing checkpoint. It carries every checkpoint of the chain whose
// sequence lies in [first_sequence - 1, last_sequence].
//
// Thread safety: free functions. Errors: ReadBundleFile returns NotFound or
// Unavailable when the file cannot be read, InvalidArgument when it is not a
// sild bundle (wrong magic, unknown version), and DataLoss when it is one
// but damaged (length mismatch, payload does not parse): a verifier reports
// DataLoss as "not intact", the others as unusable input.
#ifndef SILD_GATEWAY_AUDIT_BUNDLE_H_
#define SILD_GATEWAY_AUDIT_BUNDLE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/arena.h"
#include "sild/v1/audit.pb.h"

namespace sild::audit {

inline constexpr absl::string_view kBundleExtension = ".sildaudit";
inline constexpr absl::string_view kBundleMagic = "\x89SILD\r\n\x1a";
inline constexpr uint32_t kBundleFormatVersion = 1;
inline constexpr size_t kBundleHeaderSize = 20;

// Builds a bundle of consecutive `records` (at least one) with
// `checkpoints` (in order; the last must sign the last record) and the
// signer's public key. FailedPrecondition if the bundle would not end at a
// checkpoint; Verify() checks everything else.
absl::StatusOr<sild::v1::AuditBundle> AssembleBundle(
    std::vector<sild::v1::AuditRecord> records,
    std::vector<sild::v1::AuditCheckpoint> checkpoints,
    absl::string_view public_key_pem,
    const google::protobuf::Timestamp& exported_time);

// The file bytes of `bundle`; InvalidArgument above protobuf's 2 GiB limit.
absl::StatusOr<std::string> SerializeBundle(
    const sild::v1::AuditBundle& bundle);
absl::StatusOr<sild::v1::AuditBundle> ParseBundle(absl::string_view bytes);
// The same, allocating the bundle on `arena` (owned by the caller, which
// must outlive the result): for large bundles about twice as fast to parse
// and free.
absl::StatusOr<sild::v1::AuditBundle*> ParseBundle(
    absl::string_view bytes, google::protobuf::Arena& arena);

absl::Status WriteBundleFile(const sild::v1::AuditBundle& bundle,
                             const std::string& path);
absl::StatusOr<sild::v1::AuditBundle> ReadBundleFile(const std::string& path);

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_BUNDLE_H_
