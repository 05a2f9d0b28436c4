#include "gateway/identity/agency_directory.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"

namespace sild {

bool Agency::HasRole(config::v1::AgencyRole role) const {
  return std::find(config.roles().begin(), config.roles().end(), role) !=
         config.roles().end();
}

AgencyDirectory::AgencyDirectory(const config::v1::GatewayConfig& config) {
  for (const auto& agency_config : config.agencies()) {
    auto agency = std::make_unique<Agency>();
    agency->config = agency_config;
    agency->ref.set_registry_code(agency_config.registry_code());
    agency->ref.set_kind(agency_config.kind());
    agency->ref.set_name(agency_config.name());
    agency->ref.set_municipality(agency_config.municipality());
    for (const auto& identity : agency_config.identities()) {
      by_identity_.emplace(identity, agency.get());
    }
    by_code_.emplace(agency_config.registry_code(), agency.get());
    agencies_.push_back(std::move(agency));
  }
}

const Agency* AgencyDirectory::FindByIdentity(
    absl::string_view identity) const {
  auto it = by_identity_.find(identity);
  return it == by_identity_.end() ? nullptr : it->second;
}

const Agency* AgencyDirectory::FindByRegistryCode(
    absl::string_view registry_code) const {
  auto it = by_code_.find(registry_code);
  return it == by_code_.end() ? nullptr : it->second;
}

namespace {

// Parsing an X.509 certificate costs OpenSSL 3 a public-key decode through
// its provider framework (tens of microseconds); every call of an agency
// presents the same few certificates, so their URIs are remembered by the
// exact certificate bytes (already verified by the TLS handshake).
class UriSanCache {
 public:
  static UriSanCache& Get() {
    static UriSanCache* cache = new UriSanCache();
    return *cache;
  }
  absl::optional<std::vector<std::string>> Find(absl::string_view pem) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(pem);
    if (it == entries_.end()) return absl::nullopt;
    return it->second;
  }
  void Add(absl::string_view pem, std::vector<std::string> uris) {
    absl::MutexLock lock(&mu_);
    // A federation has a bounded number of live certificates; starting
    // over when full keeps memory bounded whatever clients present.
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_.emplace(std::string(pem), std::move(uris));
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<std::string>> entries_
      ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::vector<std::string>> ParseCertificateUriSans(
    absl::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return absl::InvalidArgumentError("peer certificate is not valid PEM");
  }
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CertificateUriSans(
    absl::string_view pem) {
  if (auto cached = UriSanCache::Get().Find(pem)) return *std::move(cached);
  auto uris = ParseCertificateUriSans(pem);
  if (uris.ok()) UriSanCache::Get().Add(pem, *uris);
  return uris;
}

}  // namespace sild
