// A throwaway PostgreSQL server for tests: initdb into a temporary folder,
// `postgres` on a free loopback port, stopped and removed when the test
// binary ends. Started on first use, once per test binary.
//
//   PostgresTestServer* server = PostgresTestServer::Shared();  // or fails
//   std::string dsn = server->Dsn("postgres");
//   std::string schema_dsn = server->NewSchemaDsn();  // a fresh schema
//
// initdb refuses to run as root: as root the server runs as the `postgres`
// system user (Debian's postgresql package creates it). Binaries are found
// in /usr/lib/postgresql/<version>/bin.
#ifndef SILD_TESTS_TESTING_POSTGRES_SERVER_H_
#define SILD_TESTS_TESTING_POSTGRES_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tests/testing/subprocess.h"

namespace sild::testing {

class PostgresTestServer {
 public:
  // The binary's server, started on the first call; an error says why it
  // could not start (PostgreSQL not installed, initdb failed, ...).
  static absl::StatusOr<PostgresTestServer*> Shared();
  ~PostgresTestServer();

  int port() const { return port_; }
  // A libpq connection string for `database` as the superuser.
  std::string Dsn(const std::string& database) const;
  // Creates a new empty schema and returns a DSN whose search_path is it:
  // each test gets its own tables on the shared server.
  absl::StatusOr<std::string> NewSchemaDsn();
  // Stops the server (also done at exit).
  void Stop();

 private:
  PostgresTestServer() = default;
  absl::Status Start();

  std::string bin_dir_;
  std::string data_dir_;
  std::string run_as_;  // "" or "postgres"
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
  absl::Mutex mu_;
  int schemas_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_POSTGRES_SERVER_H_
