// SHA-256 through OpenSSL 3's EVP interface, with the algorithm fetched once
// and the context reused, so hashing a chain costs no allocation per record.
//
//   SILD_ASSIGN_OR_RETURN(Sha256 sha, Sha256::Create());
//   Digest d;
//   sha.Begin(); sha.Update(a); sha.Update(b); sha.Finish(d);
//
// Thread safety: a Sha256 is used by one thread at a time (it owns a
// context); make one per thread. Errors: Create fails only when OpenSSL has
// no SHA-256 provider; Begin/Update/Finish then cannot fail in practice and
// report failure through their bool result.
#ifndef SILD_GATEWAY_AUDIT_DIGEST_H_
#define SILD_GATEWAY_AUDIT_DIGEST_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_md_st EVP_MD;
typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace sild::audit {

inline constexpr size_t kDigestSize = 32;
using Digest = std::array<uint8_t, kDigestSize>;

inline absl::string_view AsBytes(const Digest& digest) {
  return absl::string_view(reinterpret_cast<const char*>(digest.data()),
                           digest.size());
}

class Sha256 {
 public:
  static absl::StatusOr<Sha256> Create();

  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  [[nodiscard]] bool Begin();
  [[nodiscard]] bool Update(absl::string_view bytes);
  [[nodiscard]] bool Update(uint8_t byte);
  [[nodiscard]] bool Finish(Digest& out);

  // One-shot digest of `bytes`.
  [[nodiscard]] bool Hash(absl::string_view bytes, Digest& out);

 private:
  Sha256(EVP_MD* md, EVP_MD_CTX* ctx) : md_(md), ctx_(ctx) {}
  void Release();

  EVP_MD* md_ = nullptr;
  EVP_MD_CTX* ctx_ = nullptr;
};

// Lowercase hex of `bytes`.
std::string ToHex(absl::string_view bytes);

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_DIGEST_H_
