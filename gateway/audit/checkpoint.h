// Signed checkpoints over the audit chain, and when to cut them.
//
// A checkpoint states "chain C had head hash H at sequence S at time T,
// after the checkpoint whose hash is P", signed with the gateway's Ed25519
// key over CanonicalCheckpoint (canonical.h). Because every record hash
// commits to all earlier records, one valid checkpoint authenticates the
// whole chain up to S; previous_checkpoint_hash = CheckpointHash(previous)
// chains the checkpoints themselves, so none can be dropped from between
// two others unnoticed.
//
//   SILD_ASSIGN_OR_RETURN(CheckpointSigner signer,
//                         CheckpointSigner::FromPemFile(config.signing_key_file()));
//   if (policy.ShouldCut(records_since, last_cut_time, now)) {
//     SILD_ASSIGN_OR_RETURN(AuditCheckpoint cp,
//                           signer.SignHead(chain, now_proto, &last_cp));
//   }
//
// Thread safety: CheckpointSigner, CheckpointVerifier and CheckpointPolicy
// are immutable after creation; their const methods may be called from many
// threads. Errors: loading a key fails with NotFound (no file) or
// InvalidArgument (not PEM, encrypted, or not Ed25519) and says which;
// Verify returns InvalidArgument with reason CHECKPOINT_SIGNATURE_INVALID or
// KEY_MISMATCH.
#ifndef SILD_GATEWAY_AUDIT_CHECKPOINT_H_
#define SILD_GATEWAY_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/audit/chain.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/audit.pb.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace sild::audit {

namespace internal {
struct PkeyFree {
  void operator()(EVP_PKEY* key) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
}  // namespace internal

// SHA-256 of CanonicalCheckpoint(checkpoint): the next checkpoint's
// previous_checkpoint_hash (32 bytes; empty only if OpenSSL has no SHA-256).
std::string CheckpointHash(const sild::v1::AuditCheckpoint& checkpoint);

class CheckpointSigner {
 public:
  // An Ed25519 private key in PEM (PKCS#8, unencrypted), as made by
  // `openssl genpkey -algorithm ed25519`.
  static absl::StatusOr<CheckpointSigner> FromPemFile(const std::string& path);
  static absl::StatusOr<CheckpointSigner> FromPem(absl::string_view pem);

  // Signs `draft`, whose fields 1-5 the caller set; fills signature and
  // key_id.
  absl::StatusOr<sild::v1::AuditCheckpoint> Sign(
      sild::v1::AuditCheckpoint draft) const;

  // The checkpoint of `chain`'s current head at `time`, linked to
  // `previous` (the chain's last checkpoint, nullptr for its first).
  absl::StatusOr<sild::v1::AuditCheckpoint> SignHead(
      const AuditChain& chain, const google::protobuf::Timestamp& time,
      const sild::v1::AuditCheckpoint* previous) const;

  // SubjectPublicKeyInfo PEM of the public key: what bundles embed and
  // what the operator publishes for auditors.
  const std::string& public_key_pem() const { return public_key_pem_; }
  // SHA-256 of the DER SubjectPublicKeyInfo (32 raw bytes).
  const std::string& key_id() const { return key_id_; }

 private:
  CheckpointSigner(internal::PkeyPtr key, std::string public_key_pem,
                   std::string key_id)
      : key_(std::move(key)),
        public_key_pem_(std::move(public_key_pem)),
        key_id_(std::move(key_id)) {}

  internal::PkeyPtr key_;
  std::string public_key_pem_;
  std::string key_id_;
};

class CheckpointVerifier {
 public:
  // An Ed25519 public key, SubjectPublicKeyInfo PEM.
  static absl::StatusOr<CheckpointVerifier> FromPublicKeyPem(
      absl::string_view pem);

  // True if `signature` is this key's signature over the checkpoint's
  // canonical bytes (the caller may reuse `scratch` across calls).
  bool SignatureValid(const sild::v1::AuditCheckpoint& checkpoint,
                      std::string& scratch) const;

  // OK if the signature is valid and key_id names this key.
  absl::Status Verify(const sild::v1::AuditCheckpoint& checkpoint) const;

  // The key re-encoded by OpenSSL (a byte-exact form to compare against).
  const std::string& public_key_pem() const { return public_key_pem_; }
  const std::string& key_id() const { return key_id_; }

 private:
  CheckpointVerifier(internal::PkeyPtr key, std::string public_key_pem,
                     std::string key_id)
      : key_(std::move(key)),
        public_key_pem_(std::move(public_key_pem)),
        key_id_(std::move(key_id)) {}

  internal::PkeyPtr key_;
  std::string public_key_pem_;
  std::string key_id_;
};

// Decides when the writer cuts a checkpoint: after `every_records` records
// or `every` time since the last checkpoint, whichever comes first, and
// never when no record was appended since. Pure: the caller passes counts
// and times.
class CheckpointPolicy {
 public:
  static constexpr int64_t kDefaultEveryRecords = 1000;
  static constexpr int64_t kDefaultEveryMillis = 5000;

  // 0 selects the default; negative values are InvalidArgument.
  static absl::StatusOr<CheckpointPolicy> Create(int64_t every_records,
                                                 absl::Duration every);
  static absl::StatusOr<CheckpointPolicy> FromConfig(
      const sild::config::v1::AuditConfig& config);

  bool ShouldCut(int64_t records_since_last, absl::Time last_checkpoint,
                 absl::Time now) const;

  // When a time-based cut falls due (for the writer's timer).
  absl::Time Deadline(absl::Time last_checkpoint) const {
    return last_checkpoint + every_;
  }

  int64_t every_records() const { return every_records_; }
  absl::Duration every() const { return every_; }

 private:
  CheckpointPolicy(int64_t every_records, absl::Duration every)
      : every_records_(every_records), every_(every) {}

  int64_t every_records_;
  absl::Duration every_;
};

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_CHECKPOINT_H_
