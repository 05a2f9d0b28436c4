// A throwaway NATS server with JetStream for tests: `nats-server -js` on a
// free loopback port with a temporary store folder, stopped and removed when
// the test binary ends. Restartable on the same port and store, so a test
// can take the broker away in the middle of a stream.
//
//   NatsTestServer* server = NatsTestServer::Shared();  // or fails
//   config.add_servers(server->url());
//   server->Restart();
//
// TLS: NatsTestServer::SharedTls() runs a second server that requires TLS
// and a client certificate, with the test PKI's gateway certificate (SAN
// localhost) and CA (tls://localhost:<port>).
//
// Thread safety: Shared()/SharedTls() are; Stop/Start/Restart are meant for
// the test's own thread.
#ifndef SILD_TESTS_TESTING_NATS_SERVER_H_
#define SILD_TESTS_TESTING_NATS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace sild::testing {

class NatsTestServer {
 public:
  // The binary's plain server, started on the first call; an error says why
  // it could not start (nats-server not installed, ...).
  static absl::StatusOr<NatsTestServer*> Shared();
  // The binary's TLS server (client certificates required).
  static absl::StatusOr<NatsTestServer*> SharedTls();
  // Stops and removes both shared servers (after the last test; a program
  // without GoogleTest, such as a benchmark, calls it itself).
  static void StopShared();
  ~NatsTestServer();

  int port() const { return port_; }
  // nats://127.0.0.1:<port>, or tls://localhost:<port> for the TLS server.
  std::string url() const;
  const std::string& store_dir() const { return store_dir_; }

  // Stops the server (SIGTERM, then SIGKILL after 10 s); the store stays.
  void Stop();
  // Starts it again on the same port and store; waits until it is ready.
  absl::Status Start();
  absl::Status Restart();

 private:
  explicit NatsTestServer(bool tls) : tls_(tls) {}
  absl::Status Init();

  bool tls_;
  std::string binary_;
  std::string dir_;
  std::string store_dir_;
  int port_ = 0;
  int starts_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_NATS_SERVER_H_
