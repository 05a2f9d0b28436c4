#include "gateway/server/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/status_macros.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace sild {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr MemBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())),
                BIO_free);
}

absl::Status TlsError(absl::string_view field, absl::string_view message) {
  return MakeError(absl::StatusCode::kFailedPrecondition, "BAD_TLS_FILE", field,
                   message);
}

}  // namespace

absl::Status CheckTlsFiles(const std::string& cert_file,
                           const std::string& key_file,
                           const std::string& ca_file) {
  SILD_ASSIGN_OR_RETURN(std::string cert_pem, ReadFileToString(cert_file));
  SILD_ASSIGN_OR_RETURN(std::string key_pem, ReadFileToString(key_file));
  SILD_ASSIGN_OR_RETURN(std::string ca_pem, ReadFileToString(ca_file));
  auto cert_bio = MemBio(cert_pem);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return TlsError("tls.server_cert_file",
                    absl::StrCat(cert_file, " holds no PEM certificate"));
  }
  auto key_bio = MemBio(key_pem);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
      EVP_PKEY_free);
  if (!key) {
    return TlsError("tls.server_key_file",
                    absl::StrCat(key_file, " holds no PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return TlsError(
        "tls.server_key_file",
        absl::StrCat(key_file, " does not match the certificate ", cert_file));
  }
  auto ca_bio = MemBio(ca_pem);
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!ca) {
    return TlsError("tls.client_ca_file",
                    absl::StrCat(ca_file, " holds no PEM certificate"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const config::v1::TlsConfig& tls) {
  SILD_RETURN_IF_ERROR(CheckTlsFiles(
      tls.server_cert_file(), tls.server_key_file(), tls.client_ca_file()));
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          tls.server_key_file(), tls.server_cert_file(), tls.client_ca_file(),
          /*refresh_interval_sec=*/60);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // gRPC's TLS stack negotiates TLS 1.2 or 1.3 only.
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!tls.crl_directory().empty()) {
    options.set_crl_directory(tls.crl_directory());
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace sild
