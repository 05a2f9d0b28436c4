// Runs the sildctl built in this tree against a test gateway, as one of the
// demo agencies, and captures its output and exit code.
//
//   ProcessResult listed = RunSildctl(server->port(), "auditor",
//                                     {"--json", "deliveries", "list"});
//   EXPECT_EQ(listed.exit_code, 0) << listed.err;
#ifndef SILD_TESTS_TESTING_SILDCTL_RUNNER_H_
#define SILD_TESTS_TESTING_SILDCTL_RUNNER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace sild::testing {

// The sildctl command line up to its own flags: the built binary,
// --gateway localhost:`port`, --cert/--key `agency`.crt/.key from the test
// PKI and --ca its ca.crt.
std::vector<std::string> SildctlCommand(int port, const std::string& agency);

// Runs SildctlCommand(port, agency) followed by `args` (more global flags
// such as --timeout or --json, then the command); waits at most `timeout`.
ProcessResult RunSildctl(int port, const std::string& agency,
                         const std::vector<std::string>& args,
                         absl::Duration timeout = absl::Seconds(60));

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_SILDCTL_RUNNER_H_
