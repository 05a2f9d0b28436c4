// sildctl's command framework. Each capability adds its verbs in its own
// file with SILD_REGISTER_COMMAND; main() parses the global flags, finds the
// verb and runs it.
//
//   absl::Status RunWhoAmI(CommandContext& ctx) { ... }
//   SILD_REGISTER_COMMAND("whoami", "show the agency the gateway sees",
//                         "sildctl whoami", RunWhoAmI);
//
// A verb returns OK (exit 0) or a status; main prints the status (with the
// gateway's reason code and field) and exits 1, or 2 for usage errors
// (INVALID_ARGUMENT raised before any call is made, see UsageError).
#ifndef SILD_GATEWAY_SILDCTL_CLI_H_
#define SILD_GATEWAY_SILDCTL_CLI_H_

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace sild::ctl {

struct GlobalOptions {
  std::string gateway = "localhost:7443";
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  std::string professional_id;
  bool json = false;
  absl::Duration timeout = absl::Seconds(30);
};

// Arguments after the verb: positionals and --flag value / --flag=value /
// --switch. Flags are looked up by name without dashes.
class Args {
 public:
  Args(std::vector<std::string> positionals,
       std::map<std::string, std::vector<std::string>> flags)
      : positionals_(std::move(positionals)), flags_(std::move(flags)) {}

  const std::vector<std::string>& positionals() const { return positionals_; }
  bool Has(const std::string& flag) const { return flags_.contains(flag); }
  // The last value of --flag, or `fallback`.
  std::string Get(const std::string& flag,
                  const std::string& fallback = "") const;
  // Every value of a repeatable --flag.
  std::vector<std::string> GetAll(const std::string& flag) const;
  // Fails with a usage error if --flag is missing.
  absl::StatusOr<std::string> Require(const std::string& flag) const;
  // Flags given that are not in `known`: reported as usage errors.
  absl::Status CheckKnown(const std::vector<std::string>& known) const;

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::vector<std::string>> flags_;
};

struct CommandContext {
  const GlobalOptions& options;
  const Args& args;
  std::ostream& out;
  std::ostream& err;

  // A channel to the gateway over mTLS with the configured client identity.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel() const;
  // A client context with the deadline and professional id set.
  std::unique_ptr<grpc::ClientContext> NewCallContext() const;
  // Prints `message` as JSON (with --json) or via `human` otherwise.
  void Print(const google::protobuf::Message& message,
             const std::function<void(std::ostream&)>& human) const;
};

using CommandFn = std::function<absl::Status(CommandContext&)>;

struct Command {
  std::string name;     // e.g. "consent grant"
  std::string summary;  // one line
  std::string usage;    // full usage text
  CommandFn run;
  // Flags of this verb that take no value (e.g. "all" for --all).
  std::vector<std::string> switches;
};

// A usage error: INVALID_ARGUMENT with reason USAGE; exits 2.
absl::Status UsageError(const std::string& message);

// Parses an enum value given in short form ("school-health" for
// AGENCY_KIND_SCHOOL_HEALTH with prefix "AGENCY_KIND_") or in full; the usage
// error lists the accepted names.
absl::StatusOr<int> ParseEnumFlag(const google::protobuf::EnumDescriptor* type,
                                  const std::string& prefix,
                                  const std::string& flag,
                                  const std::string& text);
// The short form of an enum value name ("AGENCY_KIND_SCHOOL_HEALTH" ->
// "school-health").
std::string ShortEnumName(const google::protobuf::EnumDescriptor* type,
                          const std::string& prefix, int value);
// Reads a protobuf message from a JSON file (proto3 JSON mapping; unknown
// fields are errors naming the field).
absl::Status ReadJsonMessage(const std::string& path,
                             google::protobuf::Message* message);

// Protobuf message as JSON with proto field names, for --json output.
std::string ToJson(const google::protobuf::Message& message);

std::map<std::string, Command>& CommandRegistry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string summary, std::string usage,
                   CommandFn run, std::vector<std::string> switches = {});
};

#define SILD_CTL_CONCAT_INNER_(a, b) a##b
#define SILD_CTL_CONCAT_(a, b) SILD_CTL_CONCAT_INNER_(a, b)
#define SILD_REGISTER_COMMAND(name, summary, usage, ...)                \
  static ::sild::ctl::CommandRegistrar SILD_CTL_CONCAT_(               \
      sild_ctl_registrar_, __LINE__)(name, summary, usage, __VA_ARGS__)

// Runs sildctl with `argv` (without the program name); returns the exit code.
int RunCli(const std::vector<std::string>& argv, std::ostream& out,
           std::ostream& err);

}  // namespace sild::ctl

#endif  // SILD_GATEWAY_SILDCTL_CLI_H_
