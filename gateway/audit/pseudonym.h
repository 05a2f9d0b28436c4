// Subject pseudonyms: the audit log names a child only by a keyed hash of
// the personal code, so auditors holding the key can find every record
// about a person while the log itself never holds a raw code.
//
//   Pseudonym = lowercase hex of HMAC-SHA-256(secret key, personal code)
//
//   SILD_ASSIGN_OR_RETURN(Pseudonymizer p,
//                         Pseudonymizer::FromKeyFile(config.pseudonym_key_file()));
//   record.set_subject_pseudonym(p.Pseudonym("51205280105"));
//
// The key file holds either hex text (only hex digits, optionally followed
// by whitespace such as a newline) or raw bytes; either way at least 32 key
// bytes. The personal code is hashed exactly as given: pass the validated
// 11-digit code (gateway/base/personal_code.h), not user input.
//
// Thread safety: Pseudonym() is const and safe to call from many threads.
// It aborts the process if OpenSSL cannot allocate a context: an audit
// record without its subject must never be written.
// Errors: loading fails with NotFound (missing file), InvalidArgument
// (key too short, bad hex) or Internal (OpenSSL); the message never shows
// key bytes.
#ifndef SILD_GATEWAY_AUDIT_PSEUDONYM_H_
#define SILD_GATEWAY_AUDIT_PSEUDONYM_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace sild::audit {

inline constexpr size_t kMinPseudonymKeyBytes = 32;

class Pseudonymizer {
 public:
  static absl::StatusOr<Pseudonymizer> FromKeyFile(const std::string& path);
  // `key` is the raw secret, at least kMinPseudonymKeyBytes long.
  static absl::StatusOr<Pseudonymizer> FromKey(absl::string_view key);

  // 64 lowercase hex digits.
  std::string Pseudonym(absl::string_view personal_code) const;

 private:
  struct CtxFree {
    void operator()(EVP_MAC_CTX* ctx) const;
  };
  explicit Pseudonymizer(EVP_MAC_CTX* keyed) : keyed_(keyed) {}

  // Initialised with the key; each call works on a copy, so calls share
  // nothing mutable.
  std::unique_ptr<EVP_MAC_CTX, CtxFree> keyed_;
};

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_PSEUDONYM_H_
