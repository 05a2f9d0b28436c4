// A throwaway RabbitMQ broker for tests: rabbitmq-server on free loopback
// ports (AMQP, Erlang distribution, its own epmd through ERL_EPMD_PORT) with
// its own node name and a temporary folder for the database, logs, config,
// plugins file and Erlang cookie (HOME), stopped (with its epmd) and removed
// when the test binary ends. Restartable on the same ports and data, so a
// test can take the broker away in the middle of a stream. Startup takes
// seconds: one broker per test binary.
//
// The broker also listens for AMQP over TLS on tls_port() (amqps), with the
// test PKI's gateway certificate (names localhost and 127.0.0.1), and
// requires a client certificate issued by the test PKI's CA.
//
//   RabbitMqTestServer* server = RabbitMqTestServer::Shared();  // or fails
//   config.set_host("127.0.0.1"); config.set_port(server->port());
//   server->Restart();
//
// Thread safety: Shared() is; Stop/Start/Restart are meant for the test's
// own thread.
#ifndef SILD_TESTS_TESTING_RABBITMQ_SERVER_H_
#define SILD_TESTS_TESTING_RABBITMQ_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace sild::testing {

class RabbitMqTestServer {
 public:
  // The binary's broker, started on the first call; an error says why it
  // could not start (rabbitmq-server not installed, ...).
  static absl::StatusOr<RabbitMqTestServer*> Shared();
  // Stops and removes the shared broker (after the last test; a program
  // without GoogleTest calls it itself).
  static void StopShared();
  ~RabbitMqTestServer();

  int port() const { return port_; }
  // AMQP over TLS; connect as "localhost" with the test PKI's ca.crt and a
  // client certificate of it.
  int tls_port() const { return tls_port_; }

  // Stops the broker (SIGTERM, then SIGKILL after 30 s); the data stays.
  void Stop();
  // Starts it again on the same ports and data; waits until it accepts
  // AMQP connections.
  absl::Status Start();
  absl::Status Restart();

 private:
  RabbitMqTestServer() = default;
  absl::Status Init();
  void StopEpmd();

  std::string dir_;
  int port_ = 0;
  int tls_port_ = 0;
  int dist_port_ = 0;
  int epmd_port_ = 0;
  int starts_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_RABBITMQ_SERVER_H_
