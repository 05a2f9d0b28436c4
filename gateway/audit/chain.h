// The audit hash chain: each record's hash commits to its own canonical
// bytes and to the hash of the record before it, so changing, removing,
// inserting or reordering any record changes every later hash.
//
// Hashing, domain-separated as in RFC 6962 (0x00 leaf, 0x01 node):
//   leaf        = SHA-256(0x00 || CanonicalRecord(record))
//   record_hash = SHA-256(0x01 || previous_hash || leaf)
// The first record (sequence 1) has previous_hash = 32 zero bytes.
//
//   SILD_ASSIGN_OR_RETURN(AuditChain chain, AuditChain::Create("sild-1"));
//   AuditRecord draft;  // content and time set by the caller
//   SILD_ASSIGN_OR_RETURN(AuditRecord sealed, chain.Append(std::move(draft)));
//   // store `sealed`; after a restart:
//   SILD_ASSIGN_OR_RETURN(chain, AuditChain::Restore(last_stored_record));
//
// Thread safety: not thread-safe. The store's single writer owns the chain
// and appends inside its transaction; if the transaction rolls back, the
// writer restores the chain from the last committed record.
// Errors: Append rejects a draft that would be sealed wrongly (sequence,
// chain id or hashes preset to other values, no time, unknown fields, a
// subject pseudonym that is not 64 lowercase hex digits) with
// InvalidArgument and a reason code (gateway/base/errors.h); the chain is
// then unchanged.
#ifndef SILD_GATEWAY_AUDIT_CHAIN_H_
#define SILD_GATEWAY_AUDIT_CHAIN_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/audit/digest.h"
#include "sild/v1/audit.pb.h"

namespace sild::audit {

// Computes record hashes, reusing its digest context and encoding buffer.
// One per thread.
class RecordHasher {
 public:
  static absl::StatusOr<RecordHasher> Create();

  // The hash `record` should carry given its previous_hash field (which is
  // part of both the canonical bytes and the node).
  [[nodiscard]] bool Hash(const sild::v1::AuditRecord& record, Digest& out);

 private:
  explicit RecordHasher(Sha256 sha) : sha_(std::move(sha)) {}

  Sha256 sha_;
  std::string canonical_;
};

class AuditChain {
 public:
  // An empty chain: the next record gets sequence 1.
  static absl::StatusOr<AuditChain> Create(std::string chain_id);

  // Continues after `last`, the chain's last stored record. Its hash is
  // recomputed and must match: a writer never extends a damaged head.
  static absl::StatusOr<AuditChain> Restore(const sild::v1::AuditRecord& last);

  // Seals `draft` as the next record: fills sequence, chain_id,
  // previous_hash and record_hash. The chain advances only on success.
  absl::StatusOr<sild::v1::AuditRecord> Append(sild::v1::AuditRecord draft);

  const std::string& chain_id() const { return chain_id_; }
  int64_t next_sequence() const { return next_sequence_; }
  // The last record's hash (32 zero bytes for an empty chain).
  const std::string& head_hash() const { return head_hash_; }

 private:
  AuditChain(std::string chain_id, int64_t next_sequence, std::string head_hash,
             RecordHasher hasher)
      : chain_id_(std::move(chain_id)),
        next_sequence_(next_sequence),
        head_hash_(std::move(head_hash)),
        hasher_(std::move(hasher)) {}

  std::string chain_id_;
  int64_t next_sequence_;
  std::string head_hash_;
  RecordHasher hasher_;
};

// previous_hash of the first record of every chain.
const std::string& GenesisHash();

// True if `pseudonym` has the shape Pseudonymizer produces.
bool IsPseudonymShape(absl::string_view pseudonym);

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_CHAIN_H_
