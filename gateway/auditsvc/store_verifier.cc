#include "gateway/auditsvc/store_verifier.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gateway/audit/digest.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"

namespace sild::auditsvc {
namespace {

using audit::FailureKind;
using audit::VerifyReport;
using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

std::string Short(absl::string_view bytes) {
  return absl::StrCat(audit::ToHex(bytes.substr(0, 8)), "…");
}

struct Failure {
  FailureKind kind = FailureKind::kNone;
  int64_t sequence = 0;
  std::string message;
};

// What one snapshot read says about a chain before its records are streamed.
struct ChainSnapshot {
  int64_t max_record = 0;                    // 0: no records
  std::vector<AuditCheckpoint> checkpoints;  // column order
  std::optional<Failure> unreadable_checkpoint;
  std::string anchor;  // previous hash of the first record to verify
  bool anchor_missing = false;
};

class ChainVerification {
 public:
  ChainVerification(Store& store, const audit::CheckpointVerifier& key,
                    std::string chain_id, const StoreVerifyRequest& request)
      : store_(store), key_(key), request_(request) {
    result_.chain_id = std::move(chain_id);
  }

  absl::StatusOr<ChainVerifyResult> Run() {
    const int64_t from = std::max<int64_t>(1, request_.from_sequence);
    SILD_ASSIGN_OR_RETURN(ChainSnapshot snap, ReadSnapshot(from));
    if (snap.max_record == 0 && snap.checkpoints.empty()) {
      return MakeError(absl::StatusCode::kNotFound, "UNKNOWN_CHAIN", "chain_id",
                       absl::StrCat("the store holds no audit chain \"",
                                    result_.chain_id, "\""));
    }
    const bool to_end =
        request_.to_sequence <= 0 || request_.to_sequence >= snap.max_record;
    const int64_t end = to_end ? snap.max_record : request_.to_sequence;
    result_.first_sequence = from;
    result_.last_sequence = end;
    if (snap.unreadable_checkpoint) {
      return Finish(*snap.unreadable_checkpoint);
    }
    if (snap.max_record == 0) {
      return Finish(
          {FailureKind::kTruncated, 1,
           absl::StrCat("checkpoints sign chain \"", result_.chain_id,
                        "\" but none of its records is in the store")});
    }
    if (from > end) {
      return MakeError(
          absl::StatusCode::kInvalidArgument, "INVALID_RANGE", "from_sequence",
          absl::StrCat("chain \"", result_.chain_id, "\" has records up to ",
                       snap.max_record, "; from_sequence ", from,
                       " lies beyond the range's end ", end));
    }
    if (snap.anchor_missing) {
      return Finish({FailureKind::kSequenceGap, from - 1,
                     absl::StrCat("record ", from - 1,
                                  " (before the range) is missing")});
    }

    // Checkpoints in the range, and the one before it for the first link.
    const AuditCheckpoint* before = nullptr;
    for (const AuditCheckpoint& cp : snap.checkpoints) {
      if (cp.sequence() < from - 1) {
        before = &cp;
      } else if (cp.sequence() <= end) {
        in_range_.push_back(&cp);
      }
    }
    previous_ = before;
    last_checkpoint_ =
        snap.checkpoints.empty() ? 0 : snap.checkpoints.back().sequence();
    if (to_end) {
      result_.unsigned_records =
          std::max<int64_t>(0, snap.max_record - last_checkpoint_);
    }

    // Failures known before streaming, at the sequence they concern.
    std::optional<Failure> known;
    auto consider = [&](Failure f) {
      if (!known || f.sequence < known->sequence) known = std::move(f);
    };
    if (to_end && last_checkpoint_ > snap.max_record) {
      consider({FailureKind::kTruncated, snap.max_record + 1,
                absl::StrCat("a checkpoint signs the chain up to ",
                             last_checkpoint_, " but its records end at ",
                             snap.max_record, ": records were cut off")});
    }
    for (const AuditCheckpoint& held : request_.held_checkpoints) {
      if (held.chain_id() != result_.chain_id) continue;
      if (held.sequence() > snap.max_record) {
        consider({FailureKind::kTruncated, snap.max_record + 1,
                  absl::StrCat("a checkpoint you hold signs the chain up to ",
                               held.sequence(), " but its records end at ",
                               snap.max_record, ": records were removed")});
        continue;
      }
      bool present = false;
      for (const AuditCheckpoint& cp : snap.checkpoints) {
        present |= cp.sequence() == held.sequence() &&
                   cp.signature() == held.signature();
      }
      if (!present) {
        consider({FailureKind::kCheckpointLinkBroken, held.sequence(),
                  absl::StrCat("the store no longer holds the checkpoint at ",
                               held.sequence(),
                               " that you hold: it was removed or replaced")});
      }
      if (held.sequence() >= from && held.sequence() <= end) {
        held_in_range_.push_back(&held);
      }
    }

    const int64_t stream_end = known ? std::min(end, known->sequence) : end;
    absl::StatusOr<audit::RecordStreamVerifier> stream =
        audit::RecordStreamVerifier::Create(
            result_.chain_id, from,
            from == 1 ? absl::string_view(audit::GenesisHash())
                      : absl::string_view(snap.anchor));
    if (!stream.ok()) {
      return Finish({FailureKind::kChainLinkBroken, from,
                     absl::StrCat("record ", from - 1,
                                  " before the range carries no usable hash: ",
                                  stream.status().message())});
    }
    // A checkpoint at from - 1 signs the anchor.
    SILD_ASSIGN_OR_RETURN(bool fine,
                          CheckpointsAt(from - 1, stream->head_hash()));
    if (!fine) return Finish(*failure_);
    SILD_ASSIGN_OR_RETURN(fine, Stream(*stream, from, stream_end));
    if (!fine) return Finish(*failure_);
    if (known) return Finish(*known);
    return Finish({});
  }

 private:
  absl::StatusOr<ChainSnapshot> ReadSnapshot(int64_t from) {
    ChainSnapshot snap;
    const std::string& chain = result_.chain_id;
    SILD_RETURN_IF_ERROR(store_.Read([&](SqlConnection& sql) -> absl::Status {
      SILD_ASSIGN_OR_RETURN(
          auto max, sql.Query("SELECT MAX(sequence) FROM audit_records WHERE "
                              "chain_id = ?",
                              {chain}));
      if (!max.empty() && !max[0].IsNull(0)) snap.max_record = max[0].Int(0);
      SILD_ASSIGN_OR_RETURN(
          auto rows,
          sql.Query("SELECT sequence, checkpoint FROM audit_checkpoints WHERE "
                    "chain_id = ? ORDER BY sequence",
                    {chain}));
      snap.checkpoints.reserve(rows.size());
      for (const auto& row : rows) {
        AuditCheckpoint cp;
        if (!cp.ParseFromString(row.Bytes(1))) {
          if (!snap.unreadable_checkpoint) {
            snap.unreadable_checkpoint =
                Failure{FailureKind::kCheckpointSignatureInvalid, row.Int(0),
                        absl::StrCat("the checkpoint stored at ", row.Int(0),
                                     " cannot be parsed: it was changed")};
          }
          continue;
        }
        snap.checkpoints.push_back(std::move(cp));
      }
      if (from > 1) {
        SILD_ASSIGN_OR_RETURN(
            auto anchor,
            sql.Query("SELECT record FROM audit_records WHERE chain_id = ? "
                      "AND sequence = ?",
                      {chain, from - 1}));
        AuditRecord record;
        if (anchor.empty() || !record.ParseFromString(anchor[0].Bytes(0))) {
          snap.anchor_missing = true;
        } else {
          snap.anchor = record.record_hash();
        }
      }
      return absl::OkStatus();
    }));
    return snap;
  }

  bool Fail(FailureKind kind, int64_t sequence, std::string message) {
    failure_ = Failure{kind, sequence, std::move(message)};
    return false;
  }

  // Checks the store's checkpoints at `sequence` (signature, key, link,
  // head) and the held ones there (head). False with failure_ set.
  absl::StatusOr<bool> CheckpointsAt(int64_t sequence, absl::string_view head) {
    while (next_checkpoint_ < in_range_.size() &&
           in_range_[next_checkpoint_]->sequence() <= sequence) {
      const AuditCheckpoint& cp = *in_range_[next_checkpoint_++];
      const int64_t seq = cp.sequence();
      if (cp.chain_id() != result_.chain_id) {
        return Fail(FailureKind::kForeignChain, seq,
                    absl::StrCat("checkpoint at ", seq, " belongs to chain \"",
                                 cp.chain_id(), "\""));
      }
      if (previous_ != nullptr && seq < previous_->sequence()) {
        return Fail(FailureKind::kCheckpointLinkBroken, seq,
                    absl::StrCat("checkpoint at ", seq,
                                 " is stored after the checkpoint at ",
                                 previous_->sequence()));
      }
      if (!key_.SignatureValid(cp, scratch_)) {
        std::string detail;
        if (cp.key_id() != key_.key_id()) {
          detail = absl::StrCat(" (it names key ", Short(cp.key_id()), ")");
        }
        return Fail(FailureKind::kCheckpointSignatureInvalid, seq,
                    absl::StrCat("checkpoint at ", seq,
                                 " carries no valid signature by the "
                                 "gateway's key ",
                                 Short(key_.key_id()), detail));
      }
      if (cp.key_id() != key_.key_id()) {
        return Fail(FailureKind::kKeyMismatch, seq,
                    absl::StrCat("checkpoint at ", seq, " names key ",
                                 Short(cp.key_id()),
                                 " but is signed by the gateway's key"));
      }
      const std::string expected_link = previous_ == nullptr
                                            ? std::string()
                                            : audit::CheckpointHash(*previous_);
      if (cp.previous_checkpoint_hash() != expected_link) {
        return Fail(
            FailureKind::kCheckpointLinkBroken, seq,
            previous_ == nullptr
                ? absl::StrCat("checkpoint at ", seq,
                               " links to an earlier checkpoint the store "
                               "does not hold: checkpoints were removed")
                : absl::StrCat("checkpoint at ", seq,
                               " does not link to the checkpoint before it "
                               "(at ",
                               previous_->sequence(),
                               "): a checkpoint was removed or replaced"));
      }
      if (seq == sequence && cp.head_hash() != head) {
        return Fail(FailureKind::kCheckpointHeadMismatch, seq,
                    absl::StrCat("the checkpoint at ", seq, " signed head ",
                                 Short(cp.head_hash()),
                                 " but the records hash to ", Short(head),
                                 ": records up to ", seq, " were rewritten"));
      }
      if (seq < sequence) {
        // The stream moved past it without stopping: its record is missing.
        return Fail(FailureKind::kTruncated, seq,
                    absl::StrCat("a checkpoint signs record ", seq,
                                 ", which is not in the store"));
      }
      previous_ = &cp;
      ++checkpoints_verified_;
    }
    for (const AuditCheckpoint* held : held_in_range_) {
      if (held->sequence() == sequence && held->head_hash() != head) {
        return Fail(FailureKind::kCheckpointHeadMismatch, sequence,
                    absl::StrCat("the checkpoint you hold at ", sequence,
                                 " signed head ", Short(held->head_hash()),
                                 " but the store's records hash to ",
                                 Short(head), ": the chain was rewritten"));
      }
    }
    return true;
  }

  // After a jump past `expected`: does a later row of the batch hold it?
  // Then the records were reordered rather than one deleted.
  static bool ExpectedLaterInBatch(const std::vector<SqlRow>& rows,
                                   const SqlRow* current, int64_t expected) {
    AuditRecord later;
    for (const SqlRow* row = current + 1; row != rows.data() + rows.size();
         ++row) {
      if (later.ParseFromString(row->Bytes(1)) &&
          later.sequence() == expected) {
        return true;
      }
    }
    return false;
  }

  // Streams records from..end in batches, checking checkpoints as their
  // sequences are reached.
  absl::StatusOr<bool> Stream(audit::RecordStreamVerifier& stream, int64_t from,
                              int64_t end) {
    int64_t next_row = from;
    const int64_t batch = std::max<int64_t>(1, request_.batch_size);
    while (next_row <= end) {
      std::vector<SqlRow> rows;
      SILD_RETURN_IF_ERROR(store_.Read([&](SqlConnection& sql) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(
            rows, sql.Query("SELECT sequence, record FROM audit_records WHERE "
                            "chain_id = ? AND sequence >= ? AND sequence <= ? "
                            "ORDER BY sequence LIMIT ?",
                            {result_.chain_id, next_row, end, batch}));
        return absl::OkStatus();
      }));
      if (rows.empty()) break;
      AuditRecord record;
      for (const SqlRow& row : rows) {
        const int64_t expected = stream.next_sequence();
        if (!record.ParseFromString(row.Bytes(1))) {
          records_verified_ = stream.report().records_verified;
          return Fail(FailureKind::kRecordHashMismatch, row.Int(0),
                      absl::StrCat("the record stored at ", row.Int(0),
                                   " cannot be parsed: it was changed"));
        }
        if (!stream.Add(record)) {
          records_verified_ = stream.report().records_verified;
          const VerifyReport& r = stream.report();
          if (r.kind == FailureKind::kSequenceGap &&
              ExpectedLaterInBatch(rows, &row, expected)) {
            return Fail(FailureKind::kSequenceOrder, expected,
                        absl::StrCat("record ", record.sequence(),
                                     " is stored before record ", expected,
                                     ": records were reordered"));
          }
          return Fail(r.kind, r.sequence, r.message);
        }
        records_verified_ = stream.report().records_verified;
        SILD_ASSIGN_OR_RETURN(bool fine,
                              CheckpointsAt(expected, stream.head_hash()));
        if (!fine) return false;
      }
      next_row = rows.back().Int(0) + 1;
    }
    const int64_t reached = stream.next_sequence() - 1;
    if (reached < end) {
      return Fail(FailureKind::kSequenceGap, reached + 1,
                  absl::StrCat("record ", reached + 1,
                               " is missing: the chain's records in the "
                               "store end at ",
                               reached));
    }
    return true;
  }

  ChainVerifyResult Finish(const Failure& failure) {
    result_.report.kind = failure.kind;
    result_.report.sequence = failure.sequence;
    result_.report.message = failure.message;
    result_.report.records_verified = records_verified_;
    result_.report.checkpoints_verified = checkpoints_verified_;
    result_.report.key_id = key_.key_id();
    return std::move(result_);
  }

  Store& store_;
  const audit::CheckpointVerifier& key_;
  const StoreVerifyRequest& request_;
  ChainVerifyResult result_;
  std::vector<const AuditCheckpoint*> in_range_;
  std::vector<const AuditCheckpoint*> held_in_range_;
  size_t next_checkpoint_ = 0;
  const AuditCheckpoint* previous_ = nullptr;
  int64_t last_checkpoint_ = 0;
  int64_t records_verified_ = 0;
  int64_t checkpoints_verified_ = 0;
  std::optional<Failure> failure_;
  std::string scratch_;
};

// Chain ids in either table: a chain whose records were all deleted still
// has checkpoints that say so.
absl::StatusOr<std::vector<std::string>> AllChains(Store& store) {
  std::vector<std::string> ids;
  SILD_RETURN_IF_ERROR(store.Read([&](SqlConnection& sql) -> absl::Status {
    SILD_ASSIGN_OR_RETURN(auto rows,
                          sql.Query("SELECT chain_id FROM audit_records UNION "
                                    "SELECT chain_id FROM audit_checkpoints "
                                    "ORDER BY chain_id",
                                    {}));
    for (const auto& row : rows) ids.push_back(row.Text(0));
    return absl::OkStatus();
  }));
  return ids;
}

}  // namespace

bool StoreVerifyResult::ok() const { return FirstFailure() == nullptr; }

const ChainVerifyResult* StoreVerifyResult::FirstFailure() const {
  for (const auto& chain : chains) {
    if (!chain.report.ok()) return &chain;
  }
  return nullptr;
}

int64_t StoreVerifyResult::records_verified() const {
  int64_t n = 0;
  for (const auto& chain : chains) n += chain.report.records_verified;
  return n;
}

int64_t StoreVerifyResult::checkpoints_verified() const {
  int64_t n = 0;
  for (const auto& chain : chains) n += chain.report.checkpoints_verified;
  return n;
}

absl::StatusOr<StoreVerifyResult> VerifyStore(
    Store& store, const audit::CheckpointVerifier& key,
    const StoreVerifyRequest& request) {
  if (request.from_sequence < 0 || request.to_sequence < 0 ||
      (request.to_sequence > 0 &&
       request.to_sequence < request.from_sequence)) {
    return InvalidField("INVALID_RANGE", "to_sequence",
                        absl::StrCat("the range ", request.from_sequence, "..",
                                     request.to_sequence, " is impossible"));
  }
  for (const AuditCheckpoint& held : request.held_checkpoints) {
    if (!key.Verify(held).ok()) {
      return InvalidField(
          "HELD_CHECKPOINT_INVALID", "held_checkpoints",
          absl::StrCat("the held checkpoint of chain \"", held.chain_id(),
                       "\" at ", held.sequence(),
                       " is not signed by this gateway's key"));
    }
  }
  std::vector<std::string> chains;
  if (!request.chain_id.empty()) {
    chains.push_back(request.chain_id);
  } else {
    SILD_ASSIGN_OR_RETURN(chains, AllChains(store));
    for (const AuditCheckpoint& held : request.held_checkpoints) {
      if (std::find(chains.begin(), chains.end(), held.chain_id()) ==
          chains.end()) {
        ChainVerifyResult gone;
        gone.chain_id = held.chain_id();
        gone.report.kind = FailureKind::kTruncated;
        gone.report.sequence = 1;
        gone.report.message = absl::StrCat(
            "you hold a checkpoint of chain \"", held.chain_id(), "\" at ",
            held.sequence(), ", but the store holds nothing of that chain");
        gone.report.key_id = key.key_id();
        StoreVerifyResult result;
        result.chains.push_back(std::move(gone));
        return result;
      }
    }
  }
  StoreVerifyResult result;
  for (const std::string& chain : chains) {
    SILD_ASSIGN_OR_RETURN(ChainVerifyResult one,
                          ChainVerification(store, key, chain, request).Run());
    result.chains.push_back(std::move(one));
  }
  return result;
}

}  // namespace sild::auditsvc
