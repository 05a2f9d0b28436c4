// Builds the server's mTLS credentials from the config and checks the PEM
// files up front, so a wrong path or a key that does not match its
// certificate fails at start with a clear message instead of failing every
// handshake later.
#ifndef SILD_GATEWAY_SERVER_TLS_CREDENTIALS_H_
#define SILD_GATEWAY_SERVER_TLS_CREDENTIALS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "sild/config/v1/config.pb.h"

namespace sild {

// Certificates and the CA are watched for rotation (re-read every minute).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const config::v1::TlsConfig& tls);

// Checks that `cert_file` and `key_file` are PEM, belong together, and that
// `ca_file` holds at least one certificate.
absl::Status CheckTlsFiles(const std::string& cert_file,
                           const std::string& key_file,
                           const std::string& ca_file);

}  // namespace sild

#endif  // SILD_GATEWAY_SERVER_TLS_CREDENTIALS_H_
