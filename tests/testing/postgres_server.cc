#include "tests/testing/postgres_server.h"

#include <arpa/inet.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace sild::testing {
namespace {

absl::Mutex instance_mu;
PostgresTestServer* instance ABSL_GUARDED_BY(instance_mu) = nullptr;
absl::Status start_error ABSL_GUARDED_BY(instance_mu);

// The newest PostgreSQL installed under /usr/lib/postgresql.
std::string FindBinDir() {
  glob_t found;
  std::vector<std::string> dirs;
  if (glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) {
      dirs.push_back(
          std::filesystem::path(found.gl_pathv[i]).parent_path().string());
    }
  }
  globfree(&found);
  if (dirs.empty()) return "";
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) {
    return std::atoi(a.c_str() + 20) < std::atoi(b.c_str() + 20);
  });
  return dirs.back();
}

// The server of this binary is stopped after the last test.
class StopAtEnd : public ::testing::Environment {
 public:
  void TearDown() override {
    absl::MutexLock lock(&instance_mu);
    if (instance != nullptr) instance->Stop();
  }
};
[[maybe_unused]] ::testing::Environment* const kStopAtEnd =
    ::testing::AddGlobalTestEnvironment(new StopAtEnd);

}  // namespace

absl::StatusOr<PostgresTestServer*> PostgresTestServer::Shared() {
  absl::MutexLock lock(&instance_mu);
  if (instance != nullptr) return instance;
  if (!start_error.ok()) return start_error;
  auto server = std::unique_ptr<PostgresTestServer>(new PostgresTestServer());
  start_error = server->Start();
  if (!start_error.ok()) return start_error;
  instance = server.release();
  return instance;
}

PostgresTestServer::~PostgresTestServer() { Stop(); }

absl::Status PostgresTestServer::Start() {
  bin_dir_ = FindBinDir();
  if (bin_dir_.empty()) {
    return absl::FailedPreconditionError(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres); "
        "gateway/scripts/install-deps.sh installs it");
  }
  char dir_template[] = "/tmp/sild-pg-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("cannot create a temporary folder");
  }
  data_dir_ = dir_template;
  std::vector<std::string> prefix;
  if (geteuid() == 0) {
    // initdb and postgres refuse root: run them as the postgres user.
    const passwd* user = getpwnam("postgres");
    if (user == nullptr) {
      return absl::FailedPreconditionError(
          "running as root and there is no postgres user to run PostgreSQL");
    }
    if (chown(data_dir_.c_str(), user->pw_uid, user->pw_gid) != 0) {
      return absl::InternalError("cannot hand the data folder to postgres");
    }
    run_as_ = "postgres";
    prefix = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  }
  auto with_prefix = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), prefix.begin(), prefix.end());
    return argv;
  };
  ProcessResult init = RunProcess(
      with_prefix({bin_dir_ + "/initdb", "-D", data_dir_ + "/data", "-A",
                   "trust", "-U", "sild", "-E", "UTF8", "--no-sync"}),
      absl::Seconds(120));
  if (init.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("initdb failed (", init.exit_code, "): ", init.err));
  }
  port_ = FreeLoopbackPort();
  // TLS with the development PKI's gateway certificate (SAN localhost and
  // 127.0.0.1, issued by the federation CA): clients may verify it with
  // sslmode=verify-full. The key must belong to the server's user, 0600.
  const std::string pki = TestPkiDir();
  for (const char* name : {"gateway.crt", "gateway.key"}) {
    std::filesystem::copy_file(
        pki + "/" + name, data_dir_ + "/" + name,
        std::filesystem::copy_options::overwrite_existing);
    chmod((data_dir_ + "/" + name).c_str(), 0600);
    if (!run_as_.empty()) {
      const passwd* user = getpwnam(run_as_.c_str());
      if (chown((data_dir_ + "/" + name).c_str(), user->pw_uid, user->pw_gid) !=
          0) {
        return absl::InternalError("cannot hand the TLS key to postgres");
      }
    }
  }
  // fsync off: these servers hold test data only; the store's durability
  // on power loss is PostgreSQL's own.
  process_ = std::make_unique<BackgroundProcess>(
      with_prefix({bin_dir_ + "/postgres", "-D", data_dir_ + "/data", "-k",
                   data_dir_, "-p", absl::StrCat(port_), "-c",
                   "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                   "max_connections=200", "-c", "ssl=on", "-c",
                   "ssl_cert_file=" + data_dir_ + "/gateway.crt", "-c",
                   "ssl_key_file=" + data_dir_ + "/gateway.key"}),
      data_dir_ + "/server.log");
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::string dsn = Dsn("postgres");
  while (PQping(dsn.c_str()) != PQPING_OK) {
    if (absl::Now() > deadline || !process_->Running()) {
      ProcessResult tail =
          RunProcess({"/usr/bin/tail", "-n", "20", data_dir_ + "/server.log"});
      return absl::UnavailableError(absl::StrCat(
          "PostgreSQL did not start on port ", port_, ": ", tail.out));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::OkStatus();
}

std::string PostgresTestServer::Dsn(const std::string& database) const {
  return absl::StrCat("host=127.0.0.1 port=", port_,
                      " user=sild dbname=", database, " connect_timeout=10");
}

absl::StatusOr<std::string> PostgresTestServer::NewSchemaDsn() {
  int n;
  {
    absl::MutexLock lock(&mu_);
    n = ++schemas_;
  }
  std::string schema = absl::StrCat("t", getpid(), "_", n);
  std::string dsn = Dsn("postgres");
  PGconn* conn = PQconnectdb(dsn.c_str());
  PGresult* result =
      PQexec(conn, absl::StrCat("CREATE SCHEMA ", schema).c_str());
  bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  std::string error = ok ? "" : PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
  if (!ok) return absl::InternalError(absl::StrCat("CREATE SCHEMA: ", error));
  return absl::StrCat(dsn, " options='-c search_path=", schema, "'");
}

void PostgresTestServer::Stop() {
  if (process_ == nullptr) return;
  // Fast shutdown of the postmaster itself (the process we started may be
  // the runuser wrapper): the data is thrown away anyway.
  pid_t postmaster = 0;
  {
    std::ifstream pid_file(data_dir_ + "/data/postmaster.pid");
    pid_file >> postmaster;
  }
  if (postmaster > 0) {
    kill(postmaster, SIGINT);
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (kill(postmaster, 0) == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (kill(postmaster, 0) == 0) kill(postmaster, SIGKILL);
  } else {
    process_->Signal(SIGINT);
  }
  if (process_->Wait(absl::Seconds(10)) < 0) process_->Signal(SIGKILL);
  process_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(data_dir_, ignored);
}

}  // namespace sild::testing
