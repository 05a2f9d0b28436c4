#include "gateway/audit/audit_log.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"

namespace sild {
namespace {

using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

}  // namespace

Migration AuditLog::Schema() {
  return Migration{3, "audit", R"sql(
    CREATE TABLE audit_records (
      chain_id TEXT NOT NULL,
      sequence BIGINT NOT NULL,
      time_ms BIGINT NOT NULL,
      actor TEXT NOT NULL,
      action INTEGER NOT NULL,
      message_id TEXT NOT NULL,
      subject TEXT NOT NULL,
      purpose INTEGER NOT NULL,
      outcome INTEGER NOT NULL,
      counterparty TEXT NOT NULL,
      record BLOB NOT NULL,
      record_hash BLOB NOT NULL,
      PRIMARY KEY (chain_id, sequence));
    CREATE INDEX audit_records_by_subject ON audit_records (subject, time_ms);
    CREATE INDEX audit_records_by_message ON audit_records (message_id);
    CREATE INDEX audit_records_by_time ON audit_records (time_ms);
    CREATE TABLE audit_checkpoints (
      chain_id TEXT NOT NULL,
      sequence BIGINT NOT NULL,
      time_ms BIGINT NOT NULL,
      checkpoint BLOB NOT NULL,
      PRIMARY KEY (chain_id, sequence));
  )sql"};
}

AuditLog::AuditLog(Store* store, Options options, audit::AuditChain chain,
                   audit::CheckpointSigner signer,
                   audit::Pseudonymizer pseudonymizer,
                   audit::CheckpointPolicy policy)
    : store_(store),
      options_(std::move(options)),
      chain_(std::move(chain)),
      signer_(std::move(signer)),
      pseudonymizer_(std::move(pseudonymizer)),
      policy_(policy) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(Store* store,
                                                         Options options) {
  SILD_ASSIGN_OR_RETURN(auto signer, audit::CheckpointSigner::FromPemFile(
                                         options.signing_key_file));
  SILD_ASSIGN_OR_RETURN(auto pseudonymizer, audit::Pseudonymizer::FromKeyFile(
                                                options.pseudonym_key_file));
  SILD_ASSIGN_OR_RETURN(auto policy, audit::CheckpointPolicy::Create(
                                         options.checkpoint_every_records,
                                         options.checkpoint_every));
  Head head;
  SILD_RETURN_IF_ERROR(store->Read([&](SqlConnection& sql) -> absl::Status {
    SILD_ASSIGN_OR_RETURN(
        auto rows,
        sql.Query("SELECT record FROM audit_records WHERE chain_id = ? "
                  "ORDER BY sequence DESC LIMIT 1",
                  {options.chain_id}));
    if (!rows.empty()) {
      AuditRecord last;
      if (!last.ParseFromString(rows[0].Bytes(0))) {
        return MakeError(absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
                         "the last audit record cannot be parsed");
      }
      head.last_record = std::move(last);
    }
    SILD_ASSIGN_OR_RETURN(
        auto checkpoints,
        sql.Query("SELECT checkpoint FROM audit_checkpoints WHERE chain_id = ? "
                  "ORDER BY sequence DESC LIMIT 1",
                  {options.chain_id}));
    if (!checkpoints.empty()) {
      AuditCheckpoint cp;
      if (!cp.ParseFromString(checkpoints[0].Bytes(0))) {
        return MakeError(absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
                         "the last audit checkpoint cannot be parsed");
      }
      head.last_checkpoint = std::move(cp);
    }
    // The last checkpoint must sign a record the store still holds:
    // continuing a chain cut below its checkpoint would reuse signed
    // sequence numbers for other records (a fork).
    if (head.last_checkpoint) {
      const AuditCheckpoint& cp = *head.last_checkpoint;
      const int64_t last = head.last_record ? head.last_record->sequence() : 0;
      if (cp.sequence() > last) {
        return MakeError(absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
                         absl::StrCat("audit chain \"", options.chain_id,
                                      "\": a checkpoint signs records up to ",
                                      cp.sequence(), " but the records end at ",
                                      last, ": records were removed"));
      }
      SILD_ASSIGN_OR_RETURN(
          auto signed_row,
          sql.Query("SELECT record_hash FROM audit_records WHERE chain_id = ? "
                    "AND sequence = ?",
                    {options.chain_id, cp.sequence()}));
      if (signed_row.empty() || signed_row[0].Bytes(0) != cp.head_hash()) {
        return MakeError(
            absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
            absl::StrCat("audit chain \"", options.chain_id,
                         "\": the record at the last checkpoint (",
                         cp.sequence(), ") is not the one it signed"));
      }
    }
    return absl::OkStatus();
  }));
  absl::StatusOr<audit::AuditChain> chain =
      head.last_record ? audit::AuditChain::Restore(*head.last_record)
                       : audit::AuditChain::Create(options.chain_id);
  if (!chain.ok()) {
    return MakeError(absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
                     absl::StrCat("cannot continue the audit chain: ",
                                  chain.status().message()));
  }
  if (head.last_record) {
    int64_t checkpointed =
        head.last_checkpoint ? head.last_checkpoint->sequence() : 0;
    head.records_since_checkpoint = head.last_record->sequence() - checkpointed;
  }
  std::unique_ptr<AuditLog> log(
      new AuditLog(store, std::move(options), std::move(*chain),
                   std::move(signer), std::move(pseudonymizer), policy));
  log->committed_ = head;
  log->live_ = head;
  log->request_start_ = head;
  log->pending_since_checkpoint_ = head.records_since_checkpoint;
  log->last_checkpoint_unix_ms_ =
      head.last_checkpoint ? ProtoTimeMillis(head.last_checkpoint->time())
                           : absl::ToUnixMillis(store->clock()->Now());
  LogInfo("audit chain restored",
          {{"chain", log->chain_id()},
           {"next_sequence", absl::StrCat(log->chain_.next_sequence())}});
  return log;
}

absl::StatusOr<AuditRecord> AuditLog::Append(WriteTxn& txn, AuditRecord draft) {
  if (!draft.has_time()) *draft.mutable_time() = ToProtoTime(txn.now());
  // Registers keep the official's personal code; the log keeps only its
  // pseudonym.
  if (draft.has_actor() &&
      ParsePersonalCode(draft.actor().professional_id()).ok()) {
    draft.mutable_actor()->set_professional_id(
        absl::StrCat("pseudonym:", Pseudonym(draft.actor().professional_id())));
  }
  SILD_ASSIGN_OR_RETURN(AuditRecord sealed, chain_.Append(std::move(draft)));
  absl::StatusOr<int64_t> inserted = txn.sql().Exec(
      "INSERT INTO audit_records (chain_id, sequence, time_ms, actor, action,"
      " message_id, subject, purpose, outcome, counterparty, record,"
      " record_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {sealed.chain_id(), sealed.sequence(), ProtoTimeMillis(sealed.time()),
       sealed.actor().registry_code(), int64_t{sealed.action()},
       sealed.message_id(), sealed.subject_pseudonym(),
       int64_t{sealed.purpose()}, int64_t{sealed.outcome()},
       sealed.counterparty(), SqlBlob{sealed.SerializeAsString()},
       SqlBlob{sealed.record_hash()}});
  if (!inserted.ok()) {
    // Fail closed: the chain goes back to where it was.
    RestoreHead(live_);
    return inserted.status();
  }
  live_.last_record = sealed;
  ++live_.records_since_checkpoint;
  return sealed;
}

absl::Status AuditLog::CheckpointNow() {
  return store_->writer().Run([this](WriteTxn&) {
    force_checkpoint_ = true;
    return absl::OkStatus();
  });
}

void AuditLog::RestoreHead(const Head& head) {
  absl::StatusOr<audit::AuditChain> chain =
      head.last_record ? audit::AuditChain::Restore(*head.last_record)
                       : audit::AuditChain::Create(options_.chain_id);
  if (!chain.ok()) {
    // The in-memory head cannot be rebuilt from a record this process
    // sealed: continuing would write a broken chain.
    LogError("audit chain cannot be restored",
             {{"detail", std::string(chain.status().message())}});
    std::abort();
  }
  chain_ = std::move(*chain);
  live_ = head;
}

void AuditLog::BeginRequest() { request_start_ = live_; }

void AuditLog::AbortRequest() {
  bool changed =
      live_.records_since_checkpoint !=
          request_start_.records_since_checkpoint ||
      live_.last_record.has_value() != request_start_.last_record.has_value() ||
      (live_.last_record &&
       live_.last_record->sequence() != request_start_.last_record->sequence());
  if (changed) RestoreHead(request_start_);
}

absl::Time AuditLog::LastCheckpointTime() const {
  return absl::FromUnixMillis(last_checkpoint_unix_ms_.load());
}

absl::Status AuditLog::BeforeCommit(WriteTxn& txn) {
  bool force = force_checkpoint_;
  force_checkpoint_ = false;
  if (!live_.last_record) return absl::OkStatus();
  int64_t checkpointed =
      live_.last_checkpoint ? live_.last_checkpoint->sequence() : 0;
  if (checkpointed >= live_.last_record->sequence()) return absl::OkStatus();
  if (!force && !policy_.ShouldCut(live_.records_since_checkpoint,
                                   LastCheckpointTime(), txn.now())) {
    return absl::OkStatus();
  }
  SILD_ASSIGN_OR_RETURN(
      AuditCheckpoint checkpoint,
      signer_.SignHead(
          chain_, ToProtoTime(txn.now()),
          live_.last_checkpoint ? &*live_.last_checkpoint : nullptr));
  SILD_RETURN_IF_ERROR(
      txn.sql()
          .Exec("INSERT INTO audit_checkpoints (chain_id, sequence, time_ms,"
                " checkpoint) VALUES (?, ?, ?, ?)",
                {checkpoint.chain_id(), checkpoint.sequence(),
                 ProtoTimeMillis(checkpoint.time()),
                 SqlBlob{checkpoint.SerializeAsString()}})
          .status());
  live_.last_checkpoint = std::move(checkpoint);
  live_.records_since_checkpoint = 0;
  return absl::OkStatus();
}

void AuditLog::AfterCommit() {
  committed_ = live_;
  pending_since_checkpoint_ = committed_.records_since_checkpoint;
  if (committed_.last_checkpoint) {
    last_checkpoint_unix_ms_ =
        ProtoTimeMillis(committed_.last_checkpoint->time());
  }
}

void AuditLog::AfterRollback() {
  force_checkpoint_ = false;
  RestoreHead(committed_);
}

bool AuditLog::WantsIdleCommit(absl::Time now) {
  int64_t pending = pending_since_checkpoint_.load();
  return pending > 0 && policy_.ShouldCut(pending, LastCheckpointTime(), now);
}

absl::StatusOr<std::vector<AuditRecord>> AuditLog::ReadRecords(
    SqlConnection& sql, absl::string_view chain_id, int64_t from, int64_t to) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT record FROM audit_records WHERE chain_id = ? AND "
                "sequence >= ? AND sequence <= ? ORDER BY sequence",
                {std::string(chain_id), from,
                 to > 0 ? to : std::numeric_limits<int64_t>::max()}));
  std::vector<AuditRecord> records;
  records.reserve(rows.size());
  for (const auto& row : rows) {
    AuditRecord record;
    if (!record.ParseFromString(row.Bytes(0))) {
      return MakeError(absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
                       "an audit record in the store cannot be parsed");
    }
    records.push_back(std::move(record));
  }
  return records;
}

absl::StatusOr<std::vector<AuditCheckpoint>> AuditLog::ReadCheckpoints(
    SqlConnection& sql, absl::string_view chain_id, int64_t from, int64_t to) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT checkpoint FROM audit_checkpoints WHERE chain_id = ? "
                "AND sequence >= ? AND sequence <= ? ORDER BY sequence",
                {std::string(chain_id), from,
                 to > 0 ? to : std::numeric_limits<int64_t>::max()}));
  std::vector<AuditCheckpoint> checkpoints;
  for (const auto& row : rows) {
    AuditCheckpoint cp;
    if (!cp.ParseFromString(row.Bytes(0))) {
      return MakeError(absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
                       "an audit checkpoint in the store cannot be parsed");
    }
    checkpoints.push_back(std::move(cp));
  }
  return checkpoints;
}

absl::StatusOr<std::vector<std::string>> AuditLog::ChainIds(
    SqlConnection& sql) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT DISTINCT chain_id FROM audit_records ORDER BY chain_id",
                {}));
  std::vector<std::string> ids;
  for (const auto& row : rows) ids.push_back(row.Text(0));
  return ids;
}

}  // namespace sild
