#include "gateway/audit/checkpoint.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/audit/canonical.h"
#include "gateway/audit/digest.h"
#include "gateway/audit/file_io.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"

namespace sild::audit {

using sild::v1::AuditCheckpoint;

namespace internal {
void PkeyFree::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
}  // namespace internal

namespace {

using internal::PkeyPtr;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// The newest OpenSSL error as text, clearing the queue so it cannot leak
// into a later, unrelated message.
std::string TakeOpenSslError() {
  const unsigned long code = ERR_peek_last_error();
  std::string text = "no detail";
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

// Never prompt on a terminal for a passphrase: keys are read unattended.
int NoPassphrase(char*, int, int, void*) { return -1; }

std::unique_ptr<BIO, BioFree> ReadBio(absl::string_view bytes) {
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

struct PublicForms {
  std::string pem;
  std::string key_id;
};

absl::StatusOr<PublicForms> DescribePublicKey(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot encode the public key: ", TakeOpenSslError()));
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  PublicForms forms;
  forms.pem.assign(data, static_cast<size_t>(size));

  unsigned char* der = nullptr;
  const int der_size = i2d_PUBKEY(key, &der);
  if (der_size <= 0) {
    return absl::InternalError(
        absl::StrCat("cannot encode the public key: ", TakeOpenSslError()));
  }
  SILD_ASSIGN_OR_RETURN(Sha256 sha, Sha256::Create());
  Digest id;
  const bool hashed = sha.Hash(
      absl::string_view(reinterpret_cast<const char*>(der), der_size), id);
  OPENSSL_free(der);
  if (!hashed) return absl::InternalError("SHA-256 failed");
  forms.key_id.assign(AsBytes(id).data(), kDigestSize);
  return forms;
}

absl::Status RequireEd25519(EVP_PKEY* key, absl::string_view what) {
  if (EVP_PKEY_is_a(key, "ED25519")) return absl::OkStatus();
  return InvalidField(
      "NOT_ED25519", "",
      absl::StrCat(what, " is a ", EVP_PKEY_get0_type_name(key),
                   " key; audit checkpoints are signed with Ed25519 only "
                   "(openssl genpkey -algorithm ed25519)"));
}

}  // namespace

std::string CheckpointHash(const AuditCheckpoint& checkpoint) {
  std::string canonical = CanonicalCheckpoint(checkpoint);
  absl::StatusOr<Sha256> sha = Sha256::Create();
  Digest digest{};
  if (!sha.ok() || !sha->Hash(canonical, digest)) return std::string();
  return std::string(AsBytes(digest));
}

absl::StatusOr<CheckpointSigner> CheckpointSigner::FromPemFile(
    const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFileBytes(path);
  if (!pem.ok()) {
    return absl::Status(
        pem.status().code(),
        absl::StrCat("audit signing key: ", pem.status().message()));
  }
  absl::StatusOr<CheckpointSigner> signer = FromPem(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!signer.ok()) {
    return absl::Status(signer.status().code(),
                        absl::StrCat(path, ": ", signer.status().message()));
  }
  return signer;
}

absl::StatusOr<CheckpointSigner> CheckpointSigner::FromPem(
    absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio = ReadBio(pem);
  if (bio == nullptr) return absl::InternalError("cannot allocate a BIO");
  PkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return InvalidField("INVALID_KEY", "",
                        absl::StrCat("not an unencrypted PEM private key (",
                                     TakeOpenSslError(), ")"));
  }
  SILD_RETURN_IF_ERROR(RequireEd25519(key.get(), "the audit signing key"));
  SILD_ASSIGN_OR_RETURN(PublicForms forms, DescribePublicKey(key.get()));
  return CheckpointSigner(std::move(key), std::move(forms.pem),
                          std::move(forms.key_id));
}

absl::StatusOr<AuditCheckpoint> CheckpointSigner::Sign(
    AuditCheckpoint draft) const {
  if (draft.chain_id().empty()) {
    return InvalidField("MISSING_FIELD", "chain_id",
                        "a checkpoint names its chain");
  }
  if (draft.head_hash().size() != kDigestSize) {
    return InvalidField("INVALID_HASH", "head_hash",
                        "a checkpoint's head_hash is 32 bytes");
  }
  if (!draft.previous_checkpoint_hash().empty() &&
      draft.previous_checkpoint_hash().size() != kDigestSize) {
    return InvalidField("INVALID_HASH", "previous_checkpoint_hash",
                        "previous_checkpoint_hash is empty or 32 bytes");
  }
  if (!draft.has_time()) {
    return InvalidField("MISSING_FIELD", "time", "a checkpoint needs a time");
  }
  if (HasUnknownFields(draft)) {
    return InvalidField("UNKNOWN_FIELDS", "",
                        "the draft holds fields the signature would not "
                        "cover");
  }
  const std::string message = CanonicalCheckpoint(draft);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  unsigned char signature[64];
  size_t size = sizeof(signature);
  if (ctx == nullptr ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                            key_.get(), nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), signature, &size,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    return absl::InternalError(
        absl::StrCat("Ed25519 signing failed: ", TakeOpenSslError()));
  }
  draft.set_signature(signature, size);
  draft.set_key_id(key_id_);
  return draft;
}

absl::StatusOr<AuditCheckpoint> CheckpointSigner::SignHead(
    const AuditChain& chain, const google::protobuf::Timestamp& time,
    const AuditCheckpoint* previous) const {
  AuditCheckpoint draft;
  draft.set_chain_id(chain.chain_id());
  draft.set_sequence(chain.next_sequence() - 1);
  draft.set_head_hash(chain.head_hash());
  *draft.mutable_time() = time;
  if (previous != nullptr) {
    if (previous->chain_id() != chain.chain_id()) {
      return InvalidField("FOREIGN_CHAIN", "chain_id",
                          "the previous checkpoint belongs to another chain");
    }
    if (previous->sequence() > draft.sequence()) {
      return InvalidField("INVALID_SEQUENCE", "sequence",
                          "the previous checkpoint lies beyond the head");
    }
    std::string link = CheckpointHash(*previous);
    if (link.empty()) return absl::InternalError("SHA-256 failed");
    draft.set_previous_checkpoint_hash(std::move(link));
  }
  return Sign(std::move(draft));
}

absl::StatusOr<CheckpointVerifier> CheckpointVerifier::FromPublicKeyPem(
    absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio = ReadBio(pem);
  if (bio == nullptr) return absl::InternalError("cannot allocate a BIO");
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return InvalidField(
        "INVALID_KEY", "",
        absl::StrCat("not a PEM public key (BEGIN PUBLIC KEY) (",
                     TakeOpenSslError(), ")"));
  }
  SILD_RETURN_IF_ERROR(RequireEd25519(key.get(), "the checkpoint key"));
  SILD_ASSIGN_OR_RETURN(PublicForms forms, DescribePublicKey(key.get()));
  return CheckpointVerifier(std::move(key), std::move(forms.pem),
                            std::move(forms.key_id));
}

bool CheckpointVerifier::SignatureValid(const AuditCheckpoint& checkpoint,
                                        std::string& scratch) const {
  scratch.clear();
  AppendCanonicalCheckpoint(checkpoint, scratch);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const std::string& signature = checkpoint.signature();
  const bool valid =
      ctx != nullptr &&
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                              key_.get(), nullptr) == 1 &&
      EVP_DigestVerify(ctx.get(),
                       reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(),
                       reinterpret_cast<const unsigned char*>(scratch.data()),
                       scratch.size()) == 1;
  ERR_clear_error();  // a bad signature leaves an error queued
  return valid;
}

absl::Status CheckpointVerifier::Verify(
    const AuditCheckpoint& checkpoint) const {
  std::string scratch;
  if (!SignatureValid(checkpoint, scratch)) {
    return InvalidField(
        "CHECKPOINT_SIGNATURE_INVALID", "signature",
        absl::StrCat("checkpoint at sequence ", checkpoint.sequence(),
                     " carries no valid signature by key ", ToHex(key_id_)));
  }
  if (checkpoint.key_id() != key_id_) {
    return InvalidField(
        "KEY_MISMATCH", "key_id",
        absl::StrCat("checkpoint at sequence ", checkpoint.sequence(),
                     " names key ", ToHex(checkpoint.key_id()),
                     " but is signed by ", ToHex(key_id_)));
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointPolicy> CheckpointPolicy::Create(
    int64_t every_records, absl::Duration every) {
  if (every_records < 0) {
    return InvalidField("INVALID_CONFIG", "audit.checkpoint_every_records",
                        "must not be negative");
  }
  if (every < absl::ZeroDuration()) {
    return InvalidField("INVALID_CONFIG", "audit.checkpoint_every_ms",
                        "must not be negative");
  }
  return CheckpointPolicy(
      every_records == 0 ? kDefaultEveryRecords : every_records,
      every == absl::ZeroDuration() ? absl::Milliseconds(kDefaultEveryMillis)
                                    : every);
}

absl::StatusOr<CheckpointPolicy> CheckpointPolicy::FromConfig(
    const sild::config::v1::AuditConfig& config) {
  return Create(config.checkpoint_every_records(),
                absl::Milliseconds(config.checkpoint_every_ms()));
}

bool CheckpointPolicy::ShouldCut(int64_t records_since_last,
                                 absl::Time last_checkpoint,
                                 absl::Time now) const {
  if (records_since_last <= 0) return false;
  if (records_since_last >= every_records_) return true;
  return now - last_checkpoint >= every_;
}

}  // namespace sild::audit
