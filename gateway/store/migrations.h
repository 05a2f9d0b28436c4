// Versioned schema migrations, applied at start inside one write
// transaction: idempotent (applied versions are skipped) and safe when two
// gateways start together (the write lock serialises them; the second sees
// the versions the first applied). A version whose recorded name differs
// from the code's fails the start: the database belongs to another build.
#ifndef SILD_GATEWAY_STORE_MIGRATIONS_H_
#define SILD_GATEWAY_STORE_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/store/sql.h"

namespace sild {

struct Migration {
  int version;       // unique, increasing
  std::string name;  // e.g. "consents"
  std::string sql;   // portable SQL statements separated by ';'
};

absl::Status ApplyMigrations(SqlConnection& sql,
                             std::vector<Migration> migrations);

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_MIGRATIONS_H_
