// Encryption at rest for payloads in the store: messages, consents and
// referrals hold personal codes, health and social-welfare data about
// children, so the database file holds them only sealed with AES-256-GCM.
// Indexes use keyed pseudonyms, never raw identifiers.
//
// Sealed form: 0x01 (format) || 12-byte random nonce || ciphertext || 16-byte
// tag. `associated` binds a ciphertext to its row (e.g. "consent:<id>:<v>"),
// so a sealed value moved to another row fails to open.
// Thread-safe after construction. Open() fails with DATA_LOSS when a value
// was altered or sealed under another key. Each thread keeps one pair of
// cipher contexts with the key schedule of the cipher it used last, so a
// call costs one nonce and the AES-GCM pass, not a context set-up.
#ifndef SILD_GATEWAY_STORE_PAYLOAD_CIPHER_H_
#define SILD_GATEWAY_STORE_PAYLOAD_CIPHER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sild {

class PayloadCipher {
 public:
  // Key file: 64 hex characters (whitespace ignored) or exactly 32 raw bytes
  // (not all hex digits). Otherwise FAILED_PRECONDITION BAD_KEY_FILE with
  // field store.payload_key_file.
  static absl::StatusOr<std::unique_ptr<PayloadCipher>> FromKeyFile(
      const std::string& path);
  static absl::StatusOr<std::unique_ptr<PayloadCipher>> FromKey(
      absl::string_view key);

  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   absl::string_view associated) const;
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view associated) const;

 private:
  explicit PayloadCipher(std::string key);
  std::string key_;
  // Tells this cipher's thread-local contexts from those of another (an
  // address can be reused by a cipher with another key; an id is not).
  const uint64_t id_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_PAYLOAD_CIPHER_H_
