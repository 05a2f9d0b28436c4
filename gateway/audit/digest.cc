#include "gateway/audit/digest.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/status/status.h"

namespace sild::audit {

absl::StatusOr<Sha256> Sha256::Create() {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) {
    return absl::InternalError("OpenSSL provides no SHA-256");
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) {
    EVP_MD_free(md);
    return absl::ResourceExhaustedError("cannot allocate a digest context");
  }
  return Sha256(md, ctx);
}

Sha256::Sha256(Sha256&& other) noexcept
    : md_(std::exchange(other.md_, nullptr)),
      ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    Release();
    md_ = std::exchange(other.md_, nullptr);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

Sha256::~Sha256() { Release(); }

void Sha256::Release() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
  ctx_ = nullptr;
  md_ = nullptr;
}

bool Sha256::Begin() { return EVP_DigestInit_ex2(ctx_, md_, nullptr) == 1; }

bool Sha256::Update(absl::string_view bytes) {
  return EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) == 1;
}

bool Sha256::Update(uint8_t byte) {
  return EVP_DigestUpdate(ctx_, &byte, 1) == 1;
}

bool Sha256::Finish(Digest& out) {
  unsigned int size = 0;
  return EVP_DigestFinal_ex(ctx_, out.data(), &size) == 1 &&
         size == kDigestSize;
}

bool Sha256::Hash(absl::string_view bytes, Digest& out) {
  return Begin() && Update(bytes) && Finish(out);
}

std::string ToHex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    hex[2 * i] = kDigits[b >> 4];
    hex[2 * i + 1] = kDigits[b & 0xf];
  }
  return hex;
}

}  // namespace sild::audit
