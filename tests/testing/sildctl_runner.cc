#include "tests/testing/sildctl_runner.h"

#include "absl/strings/str_cat.h"
#include "tests/testing/test_env.h"

namespace sild::testing {

std::vector<std::string> SildctlCommand(int port, const std::string& agency) {
  const std::string& pki = TestPkiDir();
  return {BuiltBinary("gateway/sildctl/sildctl"),
          "--gateway",
          absl::StrCat("localhost:", port),
          "--cert",
          pki + "/" + agency + ".crt",
          "--key",
          pki + "/" + agency + ".key",
          "--ca",
          pki + "/ca.crt"};
}

ProcessResult RunSildctl(int port, const std::string& agency,
                         const std::vector<std::string>& args,
                         absl::Duration timeout) {
  std::vector<std::string> argv = SildctlCommand(port, agency);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, timeout);
}

}  // namespace sild::testing
