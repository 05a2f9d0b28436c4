// Offline verification of audit bundles, and of record streams for the
// store. Trusts nothing but the public key: every hash is recomputed from
// the canonical bytes, every link and signature checked.
//
//   sild::audit::VerifyOptions options;
//   options.pinned_key_id = published_key.key_id();   // recommended
//   VerifyReport report = sild::audit::Verify(bundle, options);
//   if (!report.ok()) std::cout << report.Describe();  // the FIRST failure
//
// Order of checks, so "first failure" is well defined:
//   1. the bundle itself: fields, embedded key, pinned key;
//   2. the checkpoints in bundle order: chain id, order, signature, key id,
//      link to the previous checkpoint (and the anchor when one sits at
//      first_sequence - 1);
//   3. the records in order: chain id, sequence, link to the previous
//      record, record hash; after record S, the head of every checkpoint
//      at S;
//   4. completeness: records up to last_sequence, no checkpoint beyond the
//      records, the last checkpoint at last_sequence.
// docs/audit.md says what this detects and what it cannot.
//
// Thread safety: Verify is a pure function (it may run on many threads at
// once, each on its own bundle). RecordStreamVerifier is not thread-safe.
// Errors are reported, never thrown or aborted on.
#ifndef SILD_GATEWAY_AUDIT_VERIFIER_H_
#define SILD_GATEWAY_AUDIT_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/audit/chain.h"
#include "gateway/audit/digest.h"
#include "sild/v1/audit.pb.h"

namespace sild::audit {

// Stable failure codes; their names (FailureKindName) never change meaning.
enum class FailureKind {
  kNone,
  kMalformedBundle,             // MALFORMED_BUNDLE
  kKeyMismatch,                 // KEY_MISMATCH
  kUnknownFields,               // UNKNOWN_FIELDS
  kForeignChain,                // FOREIGN_CHAIN
  kSequenceGap,                 // SEQUENCE_GAP
  kSequenceOrder,               // SEQUENCE_ORDER
  kChainLinkBroken,             // CHAIN_LINK_BROKEN
  kRecordHashMismatch,          // RECORD_HASH_MISMATCH
  kCheckpointSignatureInvalid,  // CHECKPOINT_SIGNATURE_INVALID
  kCheckpointLinkBroken,        // CHECKPOINT_LINK_BROKEN
  kCheckpointHeadMismatch,      // CHECKPOINT_HEAD_MISMATCH
  kTruncated,                   // TRUNCATED
  kUnsignedTail,                // UNSIGNED_TAIL
};

// "RECORD_HASH_MISMATCH" etc.; "OK" for kNone.
absl::string_view FailureKindName(FailureKind kind);

struct VerifyReport {
  FailureKind kind = FailureKind::kNone;
  // The record or checkpoint sequence the failure concerns; 0 for the
  // bundle as a whole.
  int64_t sequence = 0;
  // One sentence for a person.
  std::string message;

  // Up to the first failure.
  int64_t records_verified = 0;
  int64_t checkpoints_verified = 0;
  // Of the key the checkpoints were checked against (32 raw bytes).
  std::string key_id;

  bool ok() const { return kind == FailureKind::kNone; }
  // "RECORD_HASH_MISMATCH at sequence 57: <message>" or "intact".
  std::string Describe() const;
};

struct VerifyOptions {
  // If set (32 bytes, CheckpointVerifier::key_id of the gateway's published
  // key), the bundle's embedded key must be this key, else KEY_MISMATCH.
  std::string pinned_key_id;
  // Called with (records verified, records in bundle) every
  // `progress_every` records, when both are set.
  std::function<void(int64_t, int64_t)> progress;
  int64_t progress_every = 0;
};

VerifyReport Verify(const sild::v1::AuditBundle& bundle,
                    const VerifyOptions& options = {});

// Verifies records one at a time as the store reads them: chain id,
// sequence continuity, links and hashes (no signatures: checkpoints are
// compared by the caller against head_hash()).
class RecordStreamVerifier {
 public:
  // Records will start at `first_sequence` (>= 1), the first linking to
  // `anchor_previous_hash` (32 bytes; GenesisHash() for sequence 1).
  static absl::StatusOr<RecordStreamVerifier> Create(
      std::string chain_id, int64_t first_sequence,
      absl::string_view anchor_previous_hash);

  // Checks the next record. Returns false if it, or any earlier one,
  // failed; report() then names the first failure and later calls do
  // nothing.
  bool Add(const sild::v1::AuditRecord& record);

  const VerifyReport& report() const { return report_; }
  int64_t next_sequence() const { return next_sequence_; }
  // The last verified record's hash (the anchor before any).
  absl::string_view head_hash() const { return AsBytes(head_); }

 private:
  RecordStreamVerifier(std::string chain_id, int64_t first_sequence,
                       const Digest& anchor, RecordHasher hasher)
      : chain_id_(std::move(chain_id)),
        next_sequence_(first_sequence),
        head_(anchor),
        hasher_(std::move(hasher)) {}

  bool Fail(FailureKind kind, int64_t sequence, std::string message);

  std::string chain_id_;
  int64_t next_sequence_;
  Digest head_;
  RecordHasher hasher_;
  VerifyReport report_;
};

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_VERIFIER_H_
