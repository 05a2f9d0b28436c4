#include "gateway/sildctl/cli.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/rpc/grpc_status.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace sild::ctl {
namespace {

constexpr char kGlobalHelp[] =
    "Global flags (any position; environment variables give defaults):\n"
    "  --gateway HOST:PORT   gateway address            [SILD_GATEWAY, "
    "localhost:7443]\n"
    "  --cert FILE           client certificate (PEM)   [SILD_CERT]\n"
    "  --key FILE            client private key (PEM)   [SILD_KEY]\n"
    "  --ca FILE             federation CA (PEM)        [SILD_CA]\n"
    "  --professional-id ID  acting professional, recorded in the audit "
    "trail [SILD_PROFESSIONAL_ID]\n"
    "  --timeout SECONDS     deadline of each call (default 30)\n"
    "  --json                machine-readable output\n";

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

void PrintHelp(std::ostream& out) {
  out << "usage: sildctl [global flags] VERB [args]\n\n"
         "sildctl talks to a sild gateway over mTLS.\n\nVerbs:\n";
  for (const auto& [name, command] : CommandRegistry()) {
    out << "  " << name
        << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ')
        << command.summary << "\n";
  }
  out << "\n"
      << kGlobalHelp << "\n'sildctl help VERB' shows a verb's own flags.\n";
}

}  // namespace

std::string Args::Get(const std::string& flag,
                      const std::string& fallback) const {
  auto it = flags_.find(flag);
  return it == flags_.end() || it->second.empty() ? fallback
                                                  : it->second.back();
}

std::vector<std::string> Args::GetAll(const std::string& flag) const {
  auto it = flags_.find(flag);
  return it == flags_.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<std::string> Args::Require(const std::string& flag) const {
  std::string value = Get(flag);
  if (value.empty())
    return UsageError(absl::StrCat("--", flag, " is required"));
  return value;
}

absl::Status Args::CheckKnown(const std::vector<std::string>& known) const {
  for (const auto& [flag, values] : flags_) {
    if (std::find(known.begin(), known.end(), flag) == known.end()) {
      return UsageError(absl::StrCat("unknown flag --", flag));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CommandContext::Channel() const {
  if (options.cert_file.empty() || options.key_file.empty() ||
      options.ca_file.empty()) {
    return UsageError(
        "--cert, --key and --ca are required (or SILD_CERT, SILD_KEY, "
        "SILD_CA): the gateway accepts only mTLS");
  }
  grpc::SslCredentialsOptions ssl;
  auto ca = ReadFileToString(options.ca_file);
  auto cert = ReadFileToString(options.cert_file);
  auto key = ReadFileToString(options.key_file);
  for (const auto* file : {&ca, &cert, &key}) {
    if (!file->ok()) return file->status();
  }
  ssl.pem_root_certs = *ca;
  ssl.pem_cert_chain = *cert;
  ssl.pem_private_key = *key;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  return grpc::CreateCustomChannel(options.gateway, grpc::SslCredentials(ssl),
                                   args);
}

std::unique_ptr<grpc::ClientContext> CommandContext::NewCallContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  if (!options.professional_id.empty()) {
    context->AddMetadata("x-sild-professional-id", options.professional_id);
  }
  return context;
}

void CommandContext::Print(
    const google::protobuf::Message& message,
    const std::function<void(std::ostream&)>& human) const {
  if (options.json) {
    out << ToJson(message) << "\n";
  } else {
    human(out);
  }
}

absl::Status UsageError(const std::string& message) {
  return MakeError(absl::StatusCode::kInvalidArgument, "USAGE", "", message);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = false;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return "{}";
  return json;
}

absl::StatusOr<int> ParseEnumFlag(const google::protobuf::EnumDescriptor* type,
                                  const std::string& prefix,
                                  const std::string& flag,
                                  const std::string& text) {
  std::string upper;
  for (char c : text) {
    upper.push_back(c == '-' ? '_'
                             : static_cast<char>(std::toupper(
                                   static_cast<unsigned char>(c))));
  }
  for (const std::string& name : {upper, prefix + upper}) {
    const auto* value = type->FindValueByName(name);
    if (value != nullptr && value->number() != 0) return value->number();
  }
  std::string accepted;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    if (!accepted.empty()) accepted += ", ";
    accepted += ShortEnumName(type, prefix, type->value(i)->number());
  }
  return UsageError(absl::StrCat("--", flag, ": unknown value '", text,
                                 "' (accepted: ", accepted, ")"));
}

std::string ShortEnumName(const google::protobuf::EnumDescriptor* type,
                          const std::string& prefix, int value) {
  const auto* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  std::string name = v->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  for (char& c : name) {
    c = c == '_'
            ? '-'
            : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name;
}

absl::Status ReadJsonMessage(const std::string& path,
                             google::protobuf::Message* message) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return UsageError(std::string(text.status().message()));
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status =
      google::protobuf::util::JsonStringToMessage(*text, message, options);
  if (!status.ok()) {
    return UsageError(absl::StrCat(path, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

std::map<std::string, Command>& CommandRegistry() {
  static auto* registry = new std::map<std::string, Command>();
  return *registry;
}

CommandRegistrar::CommandRegistrar(std::string name, std::string summary,
                                   std::string usage, CommandFn run,
                                   std::vector<std::string> switches) {
  Command command{name, std::move(summary), std::move(usage), std::move(run),
                  std::move(switches)};
  CommandRegistry().emplace(std::move(name), std::move(command));
}

int RunCli(const std::vector<std::string>& argv, std::ostream& out,
           std::ostream& err) {
  GlobalOptions options;
  options.gateway = EnvOr("SILD_GATEWAY", options.gateway);
  options.cert_file = EnvOr("SILD_CERT", "");
  options.key_file = EnvOr("SILD_KEY", "");
  options.ca_file = EnvOr("SILD_CA", "");
  options.professional_id = EnvOr("SILD_PROFESSIONAL_ID", "");

  // Pass 1: global flags anywhere; everything else is the verb and its args.
  std::vector<std::string> rest;
  bool help = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    auto value_of = [&](const std::string& flag,
                        std::string* target) -> absl::StatusOr<bool> {
      if (arg == flag) {
        if (i + 1 >= argv.size()) {
          return UsageError(absl::StrCat(flag, " needs a value"));
        }
        *target = argv[++i];
        return true;
      }
      if (absl::StartsWith(arg, flag + "=")) {
        *target = arg.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    std::string timeout;
    bool matched = false;
    for (auto [flag, target] :
         std::vector<std::pair<std::string, std::string*>>{
             {"--gateway", &options.gateway},
             {"--cert", &options.cert_file},
             {"--key", &options.key_file},
             {"--ca", &options.ca_file},
             {"--professional-id", &options.professional_id},
             {"--timeout", &timeout}}) {
      auto hit = value_of(flag, target);
      if (!hit.ok()) {
        err << "sildctl: " << hit.status().message() << "\n";
        return 2;
      }
      if (*hit) {
        matched = true;
        break;
      }
    }
    if (!timeout.empty()) {
      double seconds = 0;
      if (!absl::SimpleAtod(timeout, &seconds) || seconds <= 0) {
        err << "sildctl: --timeout needs a positive number of seconds\n";
        return 2;
      }
      options.timeout = absl::Seconds(seconds);
    }
    if (matched) continue;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--help" || arg == "-h") {
      help = true;
    } else {
      rest.push_back(arg);
    }
  }

  if (!rest.empty() && rest[0] == "help") {
    rest.erase(rest.begin());
    help = true;
  }
  // The verb: the longest registered name made of the leading words.
  const Command* command = nullptr;
  size_t verb_words = 0;
  for (size_t words = std::min<size_t>(rest.size(), 2); words >= 1; --words) {
    std::string name = rest[0];
    for (size_t w = 1; w < words; ++w) name += " " + rest[w];
    auto it = CommandRegistry().find(name);
    if (it != CommandRegistry().end()) {
      command = &it->second;
      verb_words = words;
      break;
    }
  }
  if (command == nullptr) {
    if (help || rest.empty()) {
      PrintHelp(help ? out : err);
      return help ? 0 : 2;
    }
    err << "sildctl: unknown verb '" << rest[0] << "'\n\n";
    PrintHelp(err);
    return 2;
  }
  if (help) {
    out << command->usage << "\n\n" << kGlobalHelp;
    return 0;
  }

  // Pass 2: the verb's own flags.
  std::vector<std::string> positionals;
  std::map<std::string, std::vector<std::string>> flags;
  for (size_t i = verb_words; i < rest.size(); ++i) {
    const std::string& arg = rest[i];
    if (!absl::StartsWith(arg, "--") || arg == "--") {
      positionals.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      flags[name.substr(0, eq)].push_back(name.substr(eq + 1));
      continue;
    }
    bool is_switch =
        std::find(command->switches.begin(), command->switches.end(), name) !=
        command->switches.end();
    if (is_switch) {
      flags[name].push_back("true");
    } else if (i + 1 < rest.size()) {
      flags[name].push_back(rest[++i]);
    } else {
      err << "sildctl: --" << name << " needs a value\n";
      return 2;
    }
  }
  Args args(std::move(positionals), std::move(flags));
  CommandContext context{options, args, out, err};
  absl::Status status = command->run(context);
  if (status.ok()) return 0;
  std::string reason = ErrorReason(status);
  if (reason == "USAGE") {
    err << "sildctl " << command->name << ": " << status.message() << "\n\n"
        << command->usage << "\n";
    return 2;
  }
  err << "sildctl " << command->name << ": "
      << absl::StatusCodeToString(status.code()) << ": " << status.message()
      << "\n";
  std::string field = ErrorField(status);
  if (!reason.empty() && status.message().find(reason) == std::string::npos) {
    err << "  reason: " << reason << "\n";
  }
  if (!field.empty() && status.message().find(field) == std::string::npos) {
    err << "  field: " << field << "\n";
  }
  return 1;
}

}  // namespace sild::ctl
