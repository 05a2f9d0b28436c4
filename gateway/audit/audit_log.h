// AuditLog: the audit trail in the store. Every decision, disclosure,
// delivery, consent change and administrative action is appended here,
// inside the same transaction as the state it records: if the record cannot
// be written, the transaction (and so the disclosure) does not happen.
//
//   SILD_ASSIGN_OR_RETURN(auto log, AuditLog::Open(store, options));
//   store->writer().AddParticipant(log.get());
//   ... inside a write request:
//   SILD_ASSIGN_OR_RETURN(AuditRecord sealed, log->Append(txn, draft));
//
// The log owns this instance's hash chain (chain id = instance name) and
// cuts signed checkpoints every N records or T milliseconds, whichever comes
// first, inside a commit. It keeps its in-memory chain head in step with the
// database through the GroupCommitter's participant hooks.
//
// Drafts carry subject pseudonyms (Pseudonym()), never personal codes; a
// professional id that is a personal code is pseudonymised on append.
// Append must run on the writer thread; readers are thread-safe.
#ifndef SILD_GATEWAY_AUDIT_AUDIT_LOG_H_
#define SILD_GATEWAY_AUDIT_AUDIT_LOG_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/audit/chain.h"
#include "gateway/audit/checkpoint.h"
#include "gateway/audit/pseudonym.h"
#include "gateway/store/store.h"
#include "sild/v1/audit.pb.h"

namespace sild {

class AuditLog final : public TxnParticipant {
 public:
  struct Options {
    std::string chain_id;
    std::string signing_key_file;
    std::string pseudonym_key_file;
    int64_t checkpoint_every_records = 1000;
    absl::Duration checkpoint_every = absl::Seconds(5);
  };

  // The log's tables (schema version 3).
  static Migration Schema();

  // Loads the keys and restores the chain head from the store (the last
  // record's hash is recomputed; a damaged head refuses to start).
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(Store* store,
                                                        Options options);

  // Seals `draft` as the chain's next record and stores it in `txn`. The
  // caller sets the content; time defaults to txn.now().
  absl::StatusOr<sild::v1::AuditRecord> Append(WriteTxn& txn,
                                               sild::v1::AuditRecord draft);

  // Commits a checkpoint of the current head now (export uses it so a
  // bundle ends at a signed checkpoint). A no-op if the head is already
  // checkpointed.
  absl::Status CheckpointNow();

  std::string Pseudonym(absl::string_view personal_code) const {
    return pseudonymizer_.Pseudonym(personal_code);
  }
  const audit::CheckpointSigner& signer() const { return signer_; }
  const std::string& chain_id() const { return options_.chain_id; }

  // Reads (any thread, through Store::Read).
  // Records of `chain_id` with from <= sequence <= to (to = 0: to the end).
  static absl::StatusOr<std::vector<sild::v1::AuditRecord>> ReadRecords(
      SqlConnection& sql, absl::string_view chain_id, int64_t from,
      int64_t to);
  static absl::StatusOr<std::vector<sild::v1::AuditCheckpoint>>
  ReadCheckpoints(SqlConnection& sql, absl::string_view chain_id,
                  int64_t from, int64_t to);
  // Chain ids present in the store (one per gateway instance).
  static absl::StatusOr<std::vector<std::string>> ChainIds(SqlConnection& sql);

  // TxnParticipant.
  void BeginRequest() override;
  void AbortRequest() override;
  absl::Status BeforeCommit(WriteTxn& txn) override;
  void AfterCommit() override;
  void AfterRollback() override;
  bool WantsIdleCommit(absl::Time now) override;

 private:
  struct Head {
    std::optional<sild::v1::AuditRecord> last_record;
    std::optional<sild::v1::AuditCheckpoint> last_checkpoint;
    int64_t records_since_checkpoint = 0;
  };

  AuditLog(Store* store, Options options, audit::AuditChain chain,
           audit::CheckpointSigner signer, audit::Pseudonymizer pseudonymizer,
           audit::CheckpointPolicy policy);
  void RestoreHead(const Head& head);
  absl::Time LastCheckpointTime() const;

  Store* store_;
  Options options_;
  audit::AuditChain chain_;
  audit::CheckpointSigner signer_;
  audit::Pseudonymizer pseudonymizer_;
  audit::CheckpointPolicy policy_;
  // Writer-thread state: the committed head, the head at the start of the
  // current request, and the live head.
  Head committed_;
  Head request_start_;
  Head live_;
  bool force_checkpoint_ = false;
  std::atomic<int64_t> pending_since_checkpoint_{0};
  std::atomic<int64_t> last_checkpoint_unix_ms_{0};
};

}  // namespace sild

#endif  // SILD_GATEWAY_AUDIT_AUDIT_LOG_H_
