// Shared setup for tests that run the gateway for real: a development PKI
// made by certs/make-dev-pki.sh, temporary folders, a gateway config for the
// demo agencies, and mTLS channels as each of them.
#ifndef SILD_TESTS_TESTING_TEST_ENV_H_
#define SILD_TESTS_TESTING_TEST_ENV_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"
#include "sild/config/v1/config.pb.h"

namespace sild::testing {

// The test PKI folder (made once per build tree by the test_pki CTest
// fixture; made on demand here if a test binary runs alone).
const std::string& TestPkiDir();

// A fresh empty folder under the build tree, removed by nobody: test output
// stays for inspection after a failure.
std::string MakeTempDir(const std::string& name);
// A TCP port on 127.0.0.1 that was free a moment ago (0 if none), for the
// servers the tests start.
int FreeLoopbackPort();

// The demo federation: school, social services, child protection, school
// health, Unemployment Insurance Fund, auditor, case manager. Listens on
// 127.0.0.1:0 with the test PKI, stores in `dir`/sild.db.
config::v1::GatewayConfig DemoGatewayConfig(const std::string& dir);

// An mTLS channel to 127.0.0.1:`port` (server name localhost) presenting
// `cert_name`.crt/.key from the test PKI and trusting `ca_name`.crt.
std::shared_ptr<grpc::Channel> AgencyChannel(int port,
                                             const std::string& cert_name,
                                             const std::string& ca_name = "ca");

// A TLS channel that presents no client certificate.
std::shared_ptr<grpc::Channel> AnonymousChannel(int port);

std::string ReadTestFile(const std::string& path);

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_TEST_ENV_H_
