// Canonical bytes of audit records and checkpoints: the exact bytes that are
// hashed into the chain and signed in checkpoints.
//
// Protobuf's wire format is not canonical (field order, packed or unpacked
// repeated fields and unknown fields may vary between writers), so sild
// hashes its own encoding instead: a sequence of elements
//
//   field (u32, big-endian) | type (u8) | length (u32, big-endian) | value
//
// in ascending field-number order, led by a format identifier in field 0.
// Fields at their proto3 default are omitted, so adding a field to the schema
// leaves the bytes of existing records unchanged. docs/audit.md specifies the
// format byte by byte; it must never change for an existing identifier.
//
//   std::string buffer;
//   AppendCanonicalRecord(record, buffer);   // appends, reuse `buffer`
//
// Thread safety: pure functions. Errors: none; the record's record_hash,
// checkpoint signature and key_id are never part of the bytes. Unknown
// fields are not encoded: callers reject messages that carry them
// (HasUnknownFields) because their content would not be covered.
#ifndef SILD_GATEWAY_AUDIT_CANONICAL_H_
#define SILD_GATEWAY_AUDIT_CANONICAL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "sild/v1/audit.pb.h"

namespace sild::audit {

// Format identifiers, the value of field 0 of each encoding.
inline constexpr absl::string_view kRecordFormat = "sild.v1.AuditRecord/1";
inline constexpr absl::string_view kCheckpointFormat =
    "sild.v1.AuditCheckpoint/1";

// Element types (the u8 after the field number).
enum class CanonicalType : uint8_t {
  kAbsent = 0x00,   // reserved; not written by format 1
  kInt64 = 0x01,    // 8 bytes, two's complement, big-endian
  kInt32 = 0x02,    // 4 bytes, two's complement, big-endian (enums, nanos)
  kString = 0x03,   // UTF-8 bytes
  kBytes = 0x04,    // raw bytes
  kMessage = 0x05,  // nested elements
  kList = 0x06,     // elements whose field numbers are the indexes 0, 1, ...
};

// Appends the canonical bytes of every field of `record` except
// record_hash.
void AppendCanonicalRecord(const sild::v1::AuditRecord& record,
                           std::string& out);
std::string CanonicalRecord(const sild::v1::AuditRecord& record);

// Appends the canonical bytes of fields 1-5 of `checkpoint` (chain_id,
// sequence, head_hash, time, previous_checkpoint_hash): what is signed.
void AppendCanonicalCheckpoint(const sild::v1::AuditCheckpoint& checkpoint,
                               std::string& out);
std::string CanonicalCheckpoint(const sild::v1::AuditCheckpoint& checkpoint);

// True if `record` (or a message inside it) holds fields this build does not
// know, which the canonical bytes could not cover.
bool HasUnknownFields(const sild::v1::AuditRecord& record);
bool HasUnknownFields(const sild::v1::AuditCheckpoint& checkpoint);
// The bundle's own fields (records and checkpoints are checked one by one).
bool HasUnknownFields(const sild::v1::AuditBundle& bundle);

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_CANONICAL_H_
