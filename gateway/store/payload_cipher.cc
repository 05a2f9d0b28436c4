#include "gateway/store/payload_cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/status_macros.h"

namespace sild {
namespace {

constexpr char kFormat = 0x01;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

absl::Status CryptoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("payload cipher: ", what));
}

std::atomic<uint64_t> next_cipher_id{1};

// One sealing and one opening context per thread, keyed for the cipher
// that used them last. A call then only sets its nonce: the AES key
// schedule and the provider's cipher lookup are done once per thread.
struct ThreadContexts {
  ThreadContexts() : seal(EVP_CIPHER_CTX_new()), open(EVP_CIPHER_CTX_new()) {}
  ~ThreadContexts() {
    EVP_CIPHER_CTX_free(seal);  // both clear their key schedules
    EVP_CIPHER_CTX_free(open);
  }
  uint64_t seal_for = 0;  // the cipher id the context is keyed for
  uint64_t open_for = 0;
  EVP_CIPHER_CTX* seal;
  EVP_CIPHER_CTX* open;
};

ThreadContexts& Contexts() {
  thread_local ThreadContexts contexts;
  return contexts;
}

// `ctx` keyed with `key` for encryption or decryption; `keyed_for` records
// the cipher id it holds so the key schedule is set up once, not per call.
absl::StatusOr<EVP_CIPHER_CTX*> Keyed(EVP_CIPHER_CTX* ctx, uint64_t* keyed_for,
                                      uint64_t id, const std::string& key,
                                      bool encrypt) {
  if (ctx == nullptr) return CryptoError("no cipher context");
  if (*keyed_for == id) return ctx;
  *keyed_for = 0;
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
                        reinterpret_cast<const unsigned char*>(key.data()),
                        nullptr, encrypt ? 1 : 0) != 1) {
    return CryptoError(encrypt ? "encryption set-up failed"
                               : "decryption set-up failed");
  }
  *keyed_for = id;
  return ctx;
}

}  // namespace

PayloadCipher::PayloadCipher(std::string key)
    : key_(std::move(key)),
      id_(next_cipher_id.fetch_add(1, std::memory_order_relaxed)) {}

absl::StatusOr<std::unique_ptr<PayloadCipher>> PayloadCipher::FromKeyFile(
    const std::string& path) {
  SILD_ASSIGN_OR_RETURN(std::string contents, ReadFileToString(path));
  auto bad_key_file = [&](absl::string_view why) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "BAD_KEY_FILE",
                     "store.payload_key_file",
                     absl::StrCat(path, ": ", why,
                                  " (make one with: openssl rand -hex 32)"));
  };
  if (contents.size() == 32) {
    // 32 hex characters are a 16-byte key written as hex, not 32 raw bytes:
    // taking them as the key would halve its strength unnoticed. (32 random
    // bytes are all hex digits with probability (22/256)^32.)
    bool all_hex = true;
    for (char c : contents) {
      all_hex = all_hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
    }
    if (all_hex) return bad_key_file("32 hex characters are a 16-byte key");
    return FromKey(contents);
  }
  std::string hex;
  for (char c : contents) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) hex.push_back(c);
  }
  bool is_hex = hex.size() == 64;
  for (char c : hex) {
    is_hex = is_hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
  }
  if (!is_hex) return bad_key_file("expected 64 hex characters or 32 bytes");
  return FromKey(absl::HexStringToBytes(hex));
}

absl::StatusOr<std::unique_ptr<PayloadCipher>> PayloadCipher::FromKey(
    absl::string_view key) {
  if (key.size() != 32) {
    return absl::InvalidArgumentError("payload key must be 32 bytes");
  }
  return std::unique_ptr<PayloadCipher>(new PayloadCipher(std::string(key)));
}

absl::StatusOr<std::string> PayloadCipher::Seal(
    absl::string_view plaintext, absl::string_view associated) const {
  std::string out(1 + kNonceSize + plaintext.size() + kTagSize, '\0');
  out[0] = kFormat;
  auto* nonce = reinterpret_cast<unsigned char*>(&out[1]);
  if (RAND_bytes(nonce, kNonceSize) != 1) return CryptoError("no randomness");
  ThreadContexts& contexts = Contexts();
  SILD_ASSIGN_OR_RETURN(
      EVP_CIPHER_CTX * ctx,
      Keyed(contexts.seal, &contexts.seal_for, id_, key_, /*encrypt=*/true));
  int len = 0;
  auto* body = reinterpret_cast<unsigned char*>(&out[1 + kNonceSize]);
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_EncryptUpdate(
          ctx, nullptr, &len,
          reinterpret_cast<const unsigned char*>(associated.data()),
          static_cast<int>(associated.size())) != 1 ||
      EVP_EncryptUpdate(
          ctx, body, &len,
          reinterpret_cast<const unsigned char*>(plaintext.data()),
          static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, body + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize,
                          body + plaintext.size()) != 1) {
    contexts.seal_for = 0;  // set up afresh next time
    return CryptoError("encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> PayloadCipher::Open(
    absl::string_view sealed, absl::string_view associated) const {
  if (sealed.size() < 1 + kNonceSize + kTagSize || sealed[0] != kFormat) {
    return MakeError(absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT", "",
                     "stored payload is not a sealed value");
  }
  size_t body_size = sealed.size() - 1 - kNonceSize - kTagSize;
  const auto* nonce = reinterpret_cast<const unsigned char*>(&sealed[1]);
  const auto* body =
      reinterpret_cast<const unsigned char*>(&sealed[1 + kNonceSize]);
  std::string tag(sealed.substr(1 + kNonceSize + body_size));
  std::string out(body_size, '\0');
  ThreadContexts& contexts = Contexts();
  SILD_ASSIGN_OR_RETURN(
      EVP_CIPHER_CTX * ctx,
      Keyed(contexts.open, &contexts.open_for, id_, key_, /*encrypt=*/false));
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_DecryptUpdate(
          ctx, nullptr, &len,
          reinterpret_cast<const unsigned char*>(associated.data()),
          static_cast<int>(associated.size())) != 1 ||
      EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                        body, static_cast<int>(body_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) !=
          1 ||
      EVP_DecryptFinal_ex(
          ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1) {
    contexts.open_for = 0;  // set up afresh next time
    return MakeError(absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT", "",
                     "stored payload failed authentication (altered, moved "
                     "or sealed under another key)");
  }
  return out;
}

}  // namespace sild
