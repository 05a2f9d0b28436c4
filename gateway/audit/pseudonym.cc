#include "gateway/audit/pseudonym.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gateway/audit/digest.h"
#include "gateway/audit/file_io.h"

namespace sild::audit {
namespace {

bool IsHexText(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

void Pseudonymizer::CtxFree::operator()(EVP_MAC_CTX* ctx) const {
  EVP_MAC_CTX_free(ctx);
}

absl::StatusOr<Pseudonymizer> Pseudonymizer::FromKeyFile(
    const std::string& path) {
  absl::StatusOr<std::string> read = ReadFileBytes(path);
  if (!read.ok()) {
    return absl::Status(
        read.status().code(),
        absl::StrCat("pseudonym key: ", read.status().message()));
  }
  std::string bytes = *std::move(read);
  // Text editors and `openssl rand -hex 32 > key` leave a newline; hex text
  // is recognised after dropping trailing whitespace only.
  absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(bytes);
  absl::StatusOr<Pseudonymizer> result = absl::InternalError("unset");
  if (IsHexText(trimmed)) {
    if (trimmed.size() % 2 != 0) {
      result = absl::InvalidArgumentError(
          absl::StrCat("the pseudonym key file ", path,
                       " holds hex text of odd length ", trimmed.size()));
    } else {
      std::string key = absl::HexStringToBytes(trimmed);
      if (key.size() < kMinPseudonymKeyBytes) {
        result = absl::InvalidArgumentError(
            absl::StrCat("the pseudonym key file ", path, " holds ", key.size(),
                         " bytes of hex; at least ", kMinPseudonymKeyBytes,
                         " are needed (e.g. `openssl rand -hex 32`)"));
      } else {
        result = FromKey(key);
      }
      OPENSSL_cleanse(key.data(), key.size());
    }
  } else if (bytes.size() < kMinPseudonymKeyBytes) {
    result = absl::InvalidArgumentError(absl::StrCat(
        "the pseudonym key file ", path, " holds ", bytes.size(),
        " raw bytes; at least ", kMinPseudonymKeyBytes, " are needed"));
  } else {
    result = FromKey(bytes);
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return result;
}

absl::StatusOr<Pseudonymizer> Pseudonymizer::FromKey(absl::string_view key) {
  if (key.size() < kMinPseudonymKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a pseudonym key needs at least ", kMinPseudonymKeyBytes,
                     " bytes, got ", key.size()));
  }
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return absl::InternalError("OpenSSL provides no HMAC");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context holds its own reference
  if (ctx == nullptr) {
    return absl::InternalError("cannot allocate an HMAC context");
  }
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()),
                   key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return absl::InternalError("cannot initialise HMAC-SHA-256");
  }
  return Pseudonymizer(ctx);
}

std::string Pseudonymizer::Pseudonym(absl::string_view personal_code) const {
  std::unique_ptr<EVP_MAC_CTX, CtxFree> ctx(EVP_MAC_CTX_dup(keyed_.get()));
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t size = 0;
  if (ctx == nullptr ||
      EVP_MAC_update(
          ctx.get(),
          reinterpret_cast<const unsigned char*>(personal_code.data()),
          personal_code.size()) != 1 ||
      EVP_MAC_final(ctx.get(), mac, &size, sizeof(mac)) != 1 ||
      size != kDigestSize) {
    // Only an allocation failure gets here; the process cannot audit
    // safely, and an empty pseudonym would silently merge subjects.
    std::abort();
  }
  return ToHex(absl::string_view(reinterpret_cast<const char*>(mac), size));
}

}  // namespace sild::audit
