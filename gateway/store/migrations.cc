#include "gateway/store/migrations.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/status_macros.h"

namespace sild {
namespace {

// Advisory lock id of schema migrations on PostgreSQL ("sild" in ASCII).
constexpr int64_t kMigrationLockKey = 0x73696c64;

}  // namespace

absl::Status ApplyMigrations(SqlConnection& sql,
                             std::vector<Migration> migrations) {
  std::sort(migrations.begin(), migrations.end(),
            [](const Migration& a, const Migration& b) {
              return a.version < b.version;
            });
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version == migrations[i - 1].version) {
      return MakeError(
          absl::StatusCode::kInternal, "DUPLICATE_MIGRATION", "",
          absl::StrCat("two migrations have version ", migrations[i].version,
                       ": \"", migrations[i - 1].name, "\" and \"",
                       migrations[i].name, "\""));
    }
  }
  SILD_RETURN_IF_ERROR(sql.BeginWrite());
  std::vector<const Migration*> applied_now;
  auto run = [&]() -> absl::Status {
    if (sql.backend() == "postgres") {
      // Replicas starting together: the first migrates, the others wait
      // for its commit and then find every version applied. (SQLite's
      // BEGIN IMMEDIATE already serialises writers.)
      SILD_RETURN_IF_ERROR(
          sql.Query("SELECT pg_advisory_xact_lock(?)", {kMigrationLockKey})
              .status());
    }
    SILD_RETURN_IF_ERROR(
        sql.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at BIGINT NOT NULL)")
            .status());
    SILD_ASSIGN_OR_RETURN(
        auto rows,
        sql.Query("SELECT version, name FROM schema_migrations", {}));
    std::map<int64_t, std::string> applied;
    for (const auto& row : rows) applied[row.Int(0)] = row.Text(1);
    for (const Migration& m : migrations) {
      auto it = applied.find(m.version);
      if (it != applied.end()) {
        if (it->second != m.name) {
          return MakeError(absl::StatusCode::kFailedPrecondition,
                           "SCHEMA_MISMATCH", "",
                           absl::StrCat("schema version ", m.version, " is \"",
                                        it->second, "\" in the database but \"",
                                        m.name, "\" in this build"));
        }
        continue;
      }
      SILD_RETURN_IF_ERROR(sql.ExecScript(m.sql));
      SILD_RETURN_IF_ERROR(
          sql.Exec(
                 "INSERT INTO schema_migrations (version, name, applied_at)"
                 " VALUES (?, ?, ?)",
                 {int64_t{m.version}, m.name, absl::ToUnixMillis(absl::Now())})
              .status());
      applied_now.push_back(&m);
    }
    return absl::OkStatus();
  };
  absl::Status status = run();
  if (status.ok()) status = sql.Commit();
  if (!status.ok()) {
    (void)sql.Rollback();
    return status;
  }
  // Logged once durable: a rolled-back migration was never applied.
  for (const Migration* m : applied_now) {
    LogInfo("schema migration applied",
            {{"version", absl::StrCat(m->version)}, {"name", m->name}});
  }
  return absl::OkStatus();
}

}  // namespace sild
