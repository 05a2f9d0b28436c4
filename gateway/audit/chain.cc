#include "gateway/audit/chain.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/audit/canonical.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"

namespace sild::audit {

using sild::v1::AuditRecord;

absl::StatusOr<RecordHasher> RecordHasher::Create() {
  SILD_ASSIGN_OR_RETURN(Sha256 sha, Sha256::Create());
  RecordHasher hasher(std::move(sha));
  hasher.canonical_.reserve(1024);
  return hasher;
}

bool RecordHasher::Hash(const AuditRecord& record, Digest& out) {
  canonical_.clear();
  AppendCanonicalRecord(record, canonical_);
  Digest leaf;
  return sha_.Begin() && sha_.Update(uint8_t{0x00}) &&
         sha_.Update(canonical_) && sha_.Finish(leaf) && sha_.Begin() &&
         sha_.Update(uint8_t{0x01}) && sha_.Update(record.previous_hash()) &&
         sha_.Update(AsBytes(leaf)) && sha_.Finish(out);
}

const std::string& GenesisHash() {
  static const std::string* const kGenesis = new std::string(kDigestSize, '\0');
  return *kGenesis;
}

bool IsPseudonymShape(absl::string_view pseudonym) {
  if (pseudonym.size() != 2 * kDigestSize) return false;
  for (char c : pseudonym) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<AuditChain> AuditChain::Create(std::string chain_id) {
  if (chain_id.empty()) {
    return InvalidField("MISSING_FIELD", "chain_id",
                        "an audit chain needs an id (the instance name)");
  }
  SILD_ASSIGN_OR_RETURN(RecordHasher hasher, RecordHasher::Create());
  return AuditChain(std::move(chain_id), 1, GenesisHash(), std::move(hasher));
}

absl::StatusOr<AuditChain> AuditChain::Restore(const AuditRecord& last) {
  if (last.chain_id().empty()) {
    return InvalidField("MISSING_FIELD", "chain_id",
                        "the last stored record has no chain id");
  }
  if (last.sequence() < 1) {
    return InvalidField(
        "INVALID_SEQUENCE", "sequence",
        absl::StrCat("the last stored record has sequence ", last.sequence()));
  }
  if (HasUnknownFields(last)) {
    return InvalidField("UNKNOWN_FIELDS", "",
                        "the last stored record holds fields this build "
                        "does not know");
  }
  SILD_ASSIGN_OR_RETURN(RecordHasher hasher, RecordHasher::Create());
  Digest digest;
  if (!hasher.Hash(last, digest)) {
    return absl::InternalError("SHA-256 failed");
  }
  if (last.record_hash() != AsBytes(digest)) {
    return MakeError(
        absl::StatusCode::kDataLoss, "RECORD_HASH_MISMATCH", "record_hash",
        absl::StrCat("record ", last.sequence(), " of chain ", last.chain_id(),
                     " does not hash to its stored record_hash; "
                     "the chain head is damaged"));
  }
  return AuditChain(last.chain_id(), last.sequence() + 1, last.record_hash(),
                    std::move(hasher));
}

absl::StatusOr<AuditRecord> AuditChain::Append(AuditRecord draft) {
  if (draft.sequence() != 0 && draft.sequence() != next_sequence_) {
    return InvalidField(
        "INVALID_SEQUENCE", "sequence",
        absl::StrCat("the draft asks for sequence ", draft.sequence(),
                     ", the chain is at ", next_sequence_));
  }
  if (!draft.chain_id().empty() && draft.chain_id() != chain_id_) {
    return InvalidField("FOREIGN_CHAIN", "chain_id",
                        absl::StrCat("the draft names chain ", draft.chain_id(),
                                     ", this chain is ", chain_id_));
  }
  if (!draft.previous_hash().empty() && draft.previous_hash() != head_hash_) {
    return InvalidField("CHAIN_LINK_BROKEN", "previous_hash",
                        "the draft's previous_hash is not the chain head");
  }
  if (!draft.record_hash().empty()) {
    return InvalidField("ALREADY_SEALED", "record_hash",
                        "the draft already carries a record_hash");
  }
  if (!draft.has_time()) {
    return InvalidField("MISSING_FIELD", "time",
                        "an audit record needs the time of the event");
  }
  if (!draft.subject_pseudonym().empty() &&
      !IsPseudonymShape(draft.subject_pseudonym())) {
    // Fail closed: whatever this is, it may be a raw personal code.
    return InvalidField("INVALID_PSEUDONYM", "subject_pseudonym",
                        "subject_pseudonym must be 64 lowercase hex digits "
                        "(Pseudonymizer::Pseudonym), never a raw code");
  }
  if (HasUnknownFields(draft)) {
    return InvalidField("UNKNOWN_FIELDS", "",
                        "the draft holds fields the record hash would not "
                        "cover");
  }
  draft.set_sequence(next_sequence_);
  draft.set_chain_id(chain_id_);
  draft.set_previous_hash(head_hash_);
  Digest digest;
  if (!hasher_.Hash(draft, digest)) {
    return absl::InternalError("SHA-256 failed");
  }
  draft.set_record_hash(AsBytes(digest).data(), kDigestSize);
  head_hash_ = draft.record_hash();
  ++next_sequence_;
  return draft;
}

}  // namespace sild::audit
