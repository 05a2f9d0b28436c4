#include "gateway/audit/verifier.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "gateway/audit/canonical.h"
#include "gateway/audit/checkpoint.h"
#include "gateway/base/status_macros.h"

namespace sild::audit {

using sild::v1::AuditBundle;
using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

namespace {

bool SameBytes(absl::string_view bytes, const Digest& digest) {
  return bytes.size() == kDigestSize &&
         std::memcmp(bytes.data(), digest.data(), kDigestSize) == 0;
}

// Short hex for messages: enough to compare by eye.
std::string ShortHex(absl::string_view bytes) {
  if (bytes.empty()) return "(empty)";
  return ToHex(bytes.substr(0, 8)) + "…";
}

}  // namespace

absl::string_view FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "OK";
    case FailureKind::kMalformedBundle:
      return "MALFORMED_BUNDLE";
    case FailureKind::kKeyMismatch:
      return "KEY_MISMATCH";
    case FailureKind::kUnknownFields:
      return "UNKNOWN_FIELDS";
    case FailureKind::kForeignChain:
      return "FOREIGN_CHAIN";
    case FailureKind::kSequenceGap:
      return "SEQUENCE_GAP";
    case FailureKind::kSequenceOrder:
      return "SEQUENCE_ORDER";
    case FailureKind::kChainLinkBroken:
      return "CHAIN_LINK_BROKEN";
    case FailureKind::kRecordHashMismatch:
      return "RECORD_HASH_MISMATCH";
    case FailureKind::kCheckpointSignatureInvalid:
      return "CHECKPOINT_SIGNATURE_INVALID";
    case FailureKind::kCheckpointLinkBroken:
      return "CHECKPOINT_LINK_BROKEN";
    case FailureKind::kCheckpointHeadMismatch:
      return "CHECKPOINT_HEAD_MISMATCH";
    case FailureKind::kTruncated:
      return "TRUNCATED";
    case FailureKind::kUnsignedTail:
      return "UNSIGNED_TAIL";
  }
  return "UNKNOWN";
}

std::string VerifyReport::Describe() const {
  if (ok()) return "intact";
  if (sequence == 0) return absl::StrCat(FailureKindName(kind), ": ", message);
  return absl::StrCat(FailureKindName(kind), " at sequence ", sequence, ": ",
                      message);
}

absl::StatusOr<RecordStreamVerifier> RecordStreamVerifier::Create(
    std::string chain_id, int64_t first_sequence,
    absl::string_view anchor_previous_hash) {
  if (chain_id.empty()) {
    return absl::InvalidArgumentError("the chain id is empty");
  }
  if (first_sequence < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequences start at 1, not ", first_sequence));
  }
  if (anchor_previous_hash.size() != kDigestSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the anchor hash has ", anchor_previous_hash.size(), " bytes, not 32"));
  }
  SILD_ASSIGN_OR_RETURN(RecordHasher hasher, RecordHasher::Create());
  Digest anchor;
  std::memcpy(anchor.data(), anchor_previous_hash.data(), kDigestSize);
  return RecordStreamVerifier(std::move(chain_id), first_sequence, anchor,
                              std::move(hasher));
}

bool RecordStreamVerifier::Fail(FailureKind kind, int64_t sequence,
                                std::string message) {
  report_.kind = kind;
  report_.sequence = sequence;
  report_.message = std::move(message);
  return false;
}

bool RecordStreamVerifier::Add(const AuditRecord& record) {
  if (!report_.ok()) return false;
  const int64_t expected = next_sequence_;
  if (HasUnknownFields(record)) {
    return Fail(FailureKind::kUnknownFields, record.sequence(),
                "the record holds fields this verifier does not know, so its "
                "hash would not cover them (a newer sild, or tampering)");
  }
  if (record.chain_id() != chain_id_) {
    return Fail(FailureKind::kForeignChain, record.sequence(),
                absl::StrCat("record at position of sequence ", expected,
                             " belongs to chain \"", record.chain_id(),
                             "\", not \"", chain_id_, "\""));
  }
  if (record.sequence() > expected) {
    return Fail(FailureKind::kSequenceGap, expected,
                absl::StrCat("record ", expected,
                             " is missing: the next "
                             "record is ",
                             record.sequence()));
  }
  if (record.sequence() < expected) {
    return Fail(FailureKind::kSequenceOrder, expected,
                absl::StrCat("expected record ", expected, ", found record ",
                             record.sequence(), " again or out of order"));
  }
  if (!SameBytes(record.previous_hash(), head_)) {
    return Fail(FailureKind::kChainLinkBroken, expected,
                absl::StrCat("record ", expected, " links to previous hash ",
                             ShortHex(record.previous_hash()),
                             ", but the chain before it ends in ",
                             ShortHex(AsBytes(head_)),
                             expected == 1 ? " (the genesis hash)" : ""));
  }
  Digest computed;
  if (!hasher_.Hash(record, computed)) {
    return Fail(FailureKind::kRecordHashMismatch, expected,
                "SHA-256 failed inside OpenSSL");
  }
  if (!SameBytes(record.record_hash(), computed)) {
    return Fail(
        FailureKind::kRecordHashMismatch, expected,
        absl::StrCat("record ", expected, " hashes to ",
                     ShortHex(AsBytes(computed)), " but carries record_hash ",
                     ShortHex(record.record_hash()),
                     ": its content was changed after sealing"));
  }
  head_ = computed;
  ++next_sequence_;
  ++report_.records_verified;
  return true;
}

namespace {

// Verifies one bundle; members hold what the phases share.
class BundleVerification {
 public:
  BundleVerification(const AuditBundle& bundle, const VerifyOptions& options)
      : bundle_(bundle), options_(options) {}

  VerifyReport Run() {
    if (CheckBundle() && CheckCheckpoints() && CheckRecords()) {
      CheckCompleteness();
    }
    return std::move(report_);
  }

 private:
  bool Fail(FailureKind kind, int64_t sequence, std::string message) {
    report_.kind = kind;
    report_.sequence = sequence;
    report_.message = std::move(message);
    return false;
  }

  bool CheckBundle() {
    if (HasUnknownFields(bundle_)) {
      return Fail(FailureKind::kUnknownFields, 0,
                  "the bundle holds fields this verifier does not know");
    }
    if (bundle_.chain_id().empty()) {
      return Fail(FailureKind::kMalformedBundle, 0,
                  "the bundle names no chain");
    }
    if (bundle_.first_sequence() < 1 ||
        bundle_.last_sequence() < bundle_.first_sequence() - 1) {
      return Fail(FailureKind::kMalformedBundle, 0,
                  absl::StrCat("the bundle claims the impossible range ",
                               bundle_.first_sequence(), "..",
                               bundle_.last_sequence()));
    }
    if (bundle_.anchor_previous_hash().size() != kDigestSize) {
      return Fail(FailureKind::kMalformedBundle, 0,
                  "the bundle's anchor_previous_hash is not 32 bytes");
    }
    if (bundle_.first_sequence() == 1 &&
        bundle_.anchor_previous_hash() != GenesisHash()) {
      return Fail(FailureKind::kChainLinkBroken, 1,
                  "the bundle starts at record 1, whose previous hash must "
                  "be 32 zero bytes, but its anchor is not");
    }
    absl::StatusOr<CheckpointVerifier> key =
        CheckpointVerifier::FromPublicKeyPem(bundle_.public_key_pem());
    if (!key.ok()) {
      return Fail(FailureKind::kMalformedBundle, 0,
                  absl::StrCat("the embedded public key is unusable: ",
                               key.status().message()));
    }
    if (key->public_key_pem() != bundle_.public_key_pem()) {
      return Fail(FailureKind::kMalformedBundle, 0,
                  "the embedded public key is not in the PEM form sild "
                  "writes (it was edited)");
    }
    report_.key_id = key->key_id();
    if (!options_.pinned_key_id.empty() &&
        options_.pinned_key_id != key->key_id()) {
      return Fail(FailureKind::kKeyMismatch, 0,
                  absl::StrCat("the bundle is signed by key ",
                               ToHex(key->key_id()), ", not by the pinned key ",
                               ToHex(options_.pinned_key_id)));
    }
    key_.emplace(*std::move(key));
    return true;
  }

  bool CheckCheckpoints() {
    const auto& checkpoints = bundle_.checkpoints();
    const int64_t first = bundle_.first_sequence();
    std::string scratch;
    scratch.reserve(256);
    for (int i = 0; i < checkpoints.size(); ++i) {
      const AuditCheckpoint& cp = checkpoints[i];
      const int64_t seq = cp.sequence();
      if (HasUnknownFields(cp)) {
        return Fail(FailureKind::kUnknownFields, seq,
                    "a checkpoint holds fields this verifier does not know");
      }
      if (cp.chain_id() != bundle_.chain_id()) {
        return Fail(FailureKind::kForeignChain, seq,
                    absl::StrCat("checkpoint at ", seq, " belongs to chain \"",
                                 cp.chain_id(), "\", not \"",
                                 bundle_.chain_id(), "\""));
      }
      if (i > 0 && seq < checkpoints[i - 1].sequence()) {
        return Fail(
            FailureKind::kCheckpointLinkBroken, seq,
            absl::StrCat("checkpoint at ", seq, " follows the checkpoint at ",
                         checkpoints[i - 1].sequence()));
      }
      if (!key_->SignatureValid(cp, scratch)) {
        std::string detail;
        if (cp.key_id() != key_->key_id()) {
          detail = absl::StrCat(" (it names key ", ShortHex(cp.key_id()),
                                ", the bundle's key is ",
                                ShortHex(key_->key_id()), ")");
        }
        return Fail(FailureKind::kCheckpointSignatureInvalid, seq,
                    absl::StrCat("checkpoint at ", seq,
                                 " carries no valid signature by the "
                                 "bundle's key",
                                 detail));
      }
      if (cp.key_id() != key_->key_id()) {
        return Fail(FailureKind::kKeyMismatch, seq,
                    absl::StrCat("checkpoint at ", seq, " names key ",
                                 ShortHex(cp.key_id()),
                                 " but is signed by the bundle's key ",
                                 ShortHex(key_->key_id())));
      }
      if (i == 0) {
        if (first == 1 && !cp.previous_checkpoint_hash().empty()) {
          return Fail(FailureKind::kCheckpointLinkBroken, seq,
                      absl::StrCat("checkpoint at ", seq,
                                   " links to an earlier checkpoint, but "
                                   "the bundle starts at record 1: "
                                   "checkpoints were removed"));
        }
      } else if (cp.previous_checkpoint_hash() !=
                 CheckpointHash(checkpoints[i - 1])) {
        return Fail(FailureKind::kCheckpointLinkBroken, seq,
                    absl::StrCat("checkpoint at ", seq,
                                 " does not link to the checkpoint before it "
                                 "(at ",
                                 checkpoints[i - 1].sequence(),
                                 "): a checkpoint was removed or replaced"));
      }
      if (seq == first - 1 &&
          cp.head_hash() != bundle_.anchor_previous_hash()) {
        return Fail(FailureKind::kCheckpointHeadMismatch, seq,
                    absl::StrCat("checkpoint at ", seq,
                                 " signs a head other than the bundle's "
                                 "anchor"));
      }
      ++report_.checkpoints_verified;
    }
    return true;
  }

  // Called when the record at `position` jumps past `expected`: a later
  // record with the expected number means records were reordered.
  bool ReorderedLater(int position, int64_t expected) const {
    const auto& records = bundle_.records();
    for (int k = position + 1; k < records.size(); ++k) {
      if (records[k].sequence() == expected) return true;
    }
    return false;
  }

  bool CheckRecords() {
    absl::StatusOr<RecordStreamVerifier> stream = RecordStreamVerifier::Create(
        bundle_.chain_id(), bundle_.first_sequence(),
        bundle_.anchor_previous_hash());
    if (!stream.ok()) {
      return Fail(FailureKind::kMalformedBundle, 0,
                  std::string(stream.status().message()));
    }
    const auto& records = bundle_.records();
    const auto& checkpoints = bundle_.checkpoints();
    const int64_t total = records.size();
    int next_checkpoint = 0;
    while (next_checkpoint < checkpoints.size() &&
           checkpoints[next_checkpoint].sequence() < bundle_.first_sequence()) {
      ++next_checkpoint;
    }
    const bool report_progress =
        options_.progress && options_.progress_every > 0;
    int64_t until_progress = options_.progress_every;
    for (int i = 0; i < records.size(); ++i) {
      const AuditRecord& record = records[i];
      const int64_t expected = stream->next_sequence();
      if (record.sequence() > expected &&
          record.chain_id() == bundle_.chain_id() &&
          ReorderedLater(i, expected)) {
        report_.records_verified = stream->report().records_verified;
        return Fail(FailureKind::kSequenceOrder, expected,
                    absl::StrCat("record ", record.sequence(),
                                 " appears before record ", expected,
                                 ": records were reordered"));
      }
      if (record.sequence() == expected && expected > bundle_.last_sequence()) {
        report_.records_verified = stream->report().records_verified;
        return Fail(FailureKind::kMalformedBundle, expected,
                    absl::StrCat("record ", expected,
                                 " lies beyond the bundle's last_sequence ",
                                 bundle_.last_sequence()));
      }
      if (!stream->Add(record)) {
        const VerifyReport& failed = stream->report();
        report_.records_verified = failed.records_verified;
        return Fail(failed.kind, failed.sequence, failed.message);
      }
      while (next_checkpoint < checkpoints.size() &&
             checkpoints[next_checkpoint].sequence() == expected) {
        if (checkpoints[next_checkpoint].head_hash() != stream->head_hash()) {
          report_.records_verified = stream->report().records_verified;
          return Fail(
              FailureKind::kCheckpointHeadMismatch, expected,
              absl::StrCat("the checkpoint at ", expected, " signed head ",
                           ShortHex(checkpoints[next_checkpoint].head_hash()),
                           " but the records hash to ",
                           ShortHex(stream->head_hash()), ": records up to ",
                           expected, " were rewritten"));
        }
        ++next_checkpoint;
      }
      if (report_progress && --until_progress == 0) {
        options_.progress(i + 1, total);
        until_progress = options_.progress_every;
      }
    }
    report_.records_verified = stream->report().records_verified;
    last_record_ = stream->next_sequence() - 1;
    return true;
  }

  void CheckCompleteness() {
    const int64_t last = bundle_.last_sequence();
    if (last_record_ < last) {
      Fail(FailureKind::kTruncated, last_record_ + 1,
           absl::StrCat("the bundle claims records up to ", last,
                        " but they end at ", last_record_,
                        ": records were cut off"));
      return;
    }
    const auto& checkpoints = bundle_.checkpoints();
    if (!checkpoints.empty() &&
        checkpoints[checkpoints.size() - 1].sequence() > last) {
      const int64_t signed_up_to =
          checkpoints[checkpoints.size() - 1].sequence();
      Fail(FailureKind::kTruncated, last + 1,
           absl::StrCat("a checkpoint signs the chain up to ", signed_up_to,
                        " but the bundle's records end at ", last,
                        ": records were cut off"));
      return;
    }
    const int64_t last_signed =
        checkpoints.empty() ? 0
                            : checkpoints[checkpoints.size() - 1].sequence();
    if (last_signed < last) {
      Fail(FailureKind::kUnsignedTail,
           std::max(last_signed + 1, bundle_.first_sequence()),
           absl::StrCat("records ",
                        std::max(last_signed + 1, bundle_.first_sequence()),
                        "..", last,
                        " are covered by no signed checkpoint (an export "
                        "always ends with one): the tail may be forged or "
                        "its final checkpoint removed"));
    }
  }

  const AuditBundle& bundle_;
  const VerifyOptions& options_;
  absl::optional<CheckpointVerifier> key_;
  int64_t last_record_ = 0;
  VerifyReport report_;
};

}  // namespace

VerifyReport Verify(const AuditBundle& bundle, const VerifyOptions& options) {
  return BundleVerification(bundle, options).Run();
}

}  // namespace sild::audit
