// Store: the gateway's durable state behind one interface. Start here.
//
//   auto store = Store::Open(config.store(), clock, migrations);
//   store->writer().AddParticipant(&audit_log);   // before Start()
//   store->Start();
//   store->writer().Submit(write_fn, done);       // group-committed writes
//   store->Read([&](SqlConnection& sql) { ... }); // snapshot reads
//   store->Close();                               // drains writes, closes
//
// The embedded default is SQLite (one file, WAL; every commit is flushed
// before it is acknowledged or read, by the writer's completion thread; a
// thread of its own checkpoints the WAL so the writer never does). All
// writes go through the single GroupCommitter; reads use a small pool of
// connections that see committed data only. Payloads are sealed with the
// PayloadCipher before they reach the database. Thread-safe.
#ifndef SILD_GATEWAY_STORE_STORE_H_
#define SILD_GATEWAY_STORE_STORE_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/base/clock.h"
#include "gateway/store/group_commit.h"
#include "gateway/store/migrations.h"
#include "gateway/store/payload_cipher.h"
#include "gateway/store/sql.h"
#include "sild/config/v1/config.pb.h"

namespace sild {

class SqliteCheckpointer;

class Store {
 public:
  // Opens (creating if needed) the configured database, applies
  // `migrations`, and prepares the writer (not yet started). The SQLite path
  // must name a file (not ":memory:": readers use their own connections);
  // PostgreSQL takes a libpq DSN (store.postgres.dsn or dsn_file).
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const config::v1::StoreConfig& config, const Clock* clock,
      std::vector<Migration> migrations);
  ~Store();

  GroupCommitter& writer() { return *writer_; }
  void Start();
  // Commits queued writes, stops the writer and closes every connection.
  // Idempotent; afterwards Read and writer().Submit fail UNAVAILABLE
  // (STORE_STOPPED).
  void Close();

  // Runs `fn` with a read connection inside a read transaction (a consistent
  // snapshot); the connection returns to the pool afterwards. The connection
  // refuses writes: every write goes through writer().
  absl::Status Read(const std::function<absl::Status(SqlConnection&)>& fn);

  const PayloadCipher& cipher() const { return *cipher_; }
  const Clock* clock() const { return clock_; }
  absl::string_view backend() const { return backend_; }
  // SQLite only (null on PostgreSQL): the thread that checkpoints the WAL.
  SqliteCheckpointer* checkpointer() { return checkpointer_.get(); }

 private:
  Store() = default;
  absl::StatusOr<std::unique_ptr<SqlConnection>> NewConnection(bool read_only);

  config::v1::StoreConfig config_;
  const Clock* clock_ = nullptr;
  std::string backend_;
  std::string dsn_;  // PostgreSQL only
  std::unique_ptr<PayloadCipher> cipher_;
  std::unique_ptr<SqlConnection> write_connection_;
  std::unique_ptr<GroupCommitter> writer_;
  std::unique_ptr<SqliteCheckpointer> checkpointer_;
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<SqlConnection>> idle_readers_
      ABSL_GUARDED_BY(pool_mu_);
  bool closed_ ABSL_GUARDED_BY(pool_mu_) = false;
};

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_STORE_H_
