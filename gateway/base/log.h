// Structured logging: one JSON object a line on stderr.
//
//   sild::LogInfo("call refused", {{"reason", "UNKNOWN_AGENCY"},
//                                  {"peer", peer}});
// prints
//   {"ts":"2026-11-23T19:14:18.123Z","level":"info","msg":"call refused",
//    "reason":"UNKNOWN_AGENCY","peer":"ipv4:127.0.0.1:5555"}
//
// Thread-safe: each line is written with one write(2). Never log personal
// codes or payloads: log message ids, registry codes and reason codes.
#ifndef SILD_GATEWAY_BASE_LOG_H_
#define SILD_GATEWAY_BASE_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace sild {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Lines below `level` are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warning", "error"; unknown names give kInfo.
LogLevel ParseLogLevel(absl::string_view name);

void Log(LogLevel level, absl::string_view message, const LogFields& fields);

inline void LogDebug(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarning(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kWarning, m, f);
}
inline void LogError(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kError, m, f);
}

}  // namespace sild

#endif  // SILD_GATEWAY_BASE_LOG_H_
