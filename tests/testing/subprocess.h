// Runs real binaries from tests: to completion with captured output, or in
// the background (a gateway to signal or kill).
#ifndef SILD_TESTS_TESTING_SUBPROCESS_H_
#define SILD_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace sild::testing {

struct ProcessResult {
  // Exit status, or 128 + signal number if killed; -1 if it timed out.
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is a path) and waits at most `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         absl::Duration timeout = absl::Seconds(60),
                         const std::string& stdin_data = "");

// A background process whose stderr goes to `log_path`.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::string& log_path);
  ~BackgroundProcess();  // SIGKILLs the process if still running.

  pid_t pid() const { return pid_; }
  void Signal(int signal_number);
  // Waits for exit; returns as ProcessResult::exit_code, -1 on timeout.
  int Wait(absl::Duration timeout);
  bool Running();

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// A path to a binary built in this tree, e.g. "gateway/server/sild-gateway".
std::string BuiltBinary(const std::string& relative);

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_SUBPROCESS_H_
