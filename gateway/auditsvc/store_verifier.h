// Verifies the audit chains held in the store, the way `sild-audit verify`
// verifies a bundle: every record hash recomputed (RecordStreamVerifier),
// every checkpoint's Ed25519 signature checked with the gateway's key, its
// head compared with the record at its sequence, and the checkpoints' links.
// The auditor service's Verify and the store tamper tests both use this.
//
//   SILD_ASSIGN_OR_RETURN(auto key,
//   audit::CheckpointVerifier::FromPublicKeyPem(
//                                       log->signer().public_key_pem()));
//   StoreVerifyRequest request;            // every chain, every record
//   SILD_ASSIGN_OR_RETURN(StoreVerifyResult result,
//                         VerifyStore(*store, key, request));
//   if (!result.ok()) std::cout << result.FirstFailure()->report.Describe();
//
// Records are read in batches (StoreVerifyRequest::batch_size rows, each
// batch its own read snapshot), so a chain of millions of records is never
// held in memory at once. The chain's end is fixed when verification starts:
// records appended meanwhile are not looked at.
//
// What counts as a failure, in sequence order, per chain (the first one is
// reported, with the FailureKind codes of gateway/audit/verifier.h):
// a record that is missing, out of order, from another chain, edited or
// not linked; a checkpoint not signed by the key, naming another key, not
// linked to the checkpoint before it, or signing a head the records do not
// hash to; a checkpoint beyond the last record (the tail was cut); a held
// checkpoint (one the auditor kept from an earlier export) that the store no
// longer holds or extends. Records after the last checkpoint are normal in
// a running gateway and are counted (unsigned_records), not failed.
//
// Thread safety: VerifyStore may run on any thread, concurrently with the
// store's writer. Errors (not verdicts): store read failures, a chain that
// is not in the store, an impossible range (INVALID_ARGUMENT).
#ifndef SILD_GATEWAY_AUDITSVC_STORE_VERIFIER_H_
#define SILD_GATEWAY_AUDITSVC_STORE_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/audit/checkpoint.h"
#include "gateway/audit/verifier.h"
#include "gateway/store/store.h"
#include "sild/v1/audit.pb.h"

namespace sild::auditsvc {

struct StoreVerifyRequest {
  // Empty: every chain in the store.
  std::string chain_id;
  // First and last record (to = 0: the chain's last record).
  int64_t from_sequence = 1;
  int64_t to_sequence = 0;
  // Checkpoints the auditor kept; each must be signed by the key.
  std::vector<sild::v1::AuditCheckpoint> held_checkpoints;
  // Rows per read.
  int64_t batch_size = 20000;
};

struct ChainVerifyResult {
  std::string chain_id;
  int64_t first_sequence = 0;
  int64_t last_sequence = 0;
  // Records after the last checkpoint (only when verifying to the end).
  int64_t unsigned_records = 0;
  // kind, sequence, message of the first failure; records_verified and
  // checkpoints_verified up to it.
  audit::VerifyReport report;
};

struct StoreVerifyResult {
  std::vector<ChainVerifyResult> chains;

  bool ok() const;
  // The first chain (in chain id order) that failed, or nullptr.
  const ChainVerifyResult* FirstFailure() const;
  int64_t records_verified() const;
  int64_t checkpoints_verified() const;
};

absl::StatusOr<StoreVerifyResult> VerifyStore(
    Store& store, const audit::CheckpointVerifier& key,
    const StoreVerifyRequest& request);

}  // namespace sild::auditsvc

#endif  // SILD_GATEWAY_AUDITSVC_STORE_VERIFIER_H_
