// sild-audit: verifies and prints exported audit bundles (.sildaudit)
// offline. Needs no database, no network and no trust in the gateway: only
// the bundle and, ideally, the gateway's published public key.
//
// Exit codes: 0 intact, 1 not intact (the first failure is printed),
// 2 usage error or unreadable input.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/audit/bundle.h"
#include "gateway/audit/checkpoint.h"
#include "gateway/audit/digest.h"
#include "gateway/audit/file_io.h"
#include "gateway/audit/verifier.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/json_util.h"

namespace sild::audit {
namespace {

constexpr int kIntact = 0;
constexpr int kNotIntact = 1;
constexpr int kUsage = 2;

// Below this many records a progress line would only flicker.
constexpr int64_t kProgressMinRecords = 100000;

constexpr char kHelp[] =
    R"(sild-audit: verify sild audit bundles offline

Usage:
  sild-audit verify BUNDLE.sildaudit [--public-key GATEWAY_KEY.pem]
  sild-audit dump BUNDLE.sildaudit
  sild-audit --help

verify  Recomputes every record hash and chain link, checks sequence
        continuity, each checkpoint's Ed25519 signature and link, and that
        the records reach the last checkpoint. Prints "INTACT" and exits 0,
        or prints the first failure (a stable code such as
        RECORD_HASH_MISMATCH, the sequence number and a sentence) and exits 1.
        --public-key pins the gateway's published public key (PEM): the
        bundle must be signed by it. Without it the key embedded in the
        bundle is trusted, which proves integrity but not origin.
dump    Prints the bundle as JSON (bytes fields in base64).

Exit status: 0 intact, 1 not intact, 2 usage error or unreadable file.
See docs/audit.md.
)";

int Usage(absl::string_view problem) {
  std::cerr << "sild-audit: " << problem << "\n"
            << "Try 'sild-audit --help'.\n";
  return kUsage;
}

// Reads the bundle; a damaged one (DataLoss) is a verdict, anything else
// is unusable input.
int ReportUnreadable(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDataLoss) {
    std::cout << "NOT INTACT: MALFORMED_BUNDLE: " << status.message() << "\n";
    return kNotIntact;
  }
  std::cerr << "sild-audit: " << status.message() << "\n";
  return kUsage;
}

// Reads and parses a bundle file onto `arena` (several times faster than
// the heap for a million records).
absl::StatusOr<sild::v1::AuditBundle*> ReadBundle(
    const std::string& path, google::protobuf::Arena& arena) {
  absl::StatusOr<sild::v1::AuditBundle*> bundle = absl::InternalError("");
  {
    absl::StatusOr<std::string> bytes = ReadFileBytes(path);
    if (!bytes.ok()) return bytes.status();
    bundle = ParseBundle(*bytes, arena);
  }
  if (!bundle.ok()) {
    return absl::Status(bundle.status().code(),
                        absl::StrCat(path, ": ", bundle.status().message()));
  }
  return bundle;
}

int Verify(const std::string& path, const std::string& public_key_path) {
  VerifyOptions options;
  if (!public_key_path.empty()) {
    absl::StatusOr<std::string> pem = ReadFileBytes(public_key_path);
    if (!pem.ok()) {
      std::cerr << "sild-audit: " << pem.status().message() << "\n";
      return kUsage;
    }
    absl::StatusOr<CheckpointVerifier> pinned =
        CheckpointVerifier::FromPublicKeyPem(*pem);
    if (!pinned.ok()) {
      std::cerr << "sild-audit: " << public_key_path << ": "
                << pinned.status().message() << "\n";
      return kUsage;
    }
    options.pinned_key_id = pinned->key_id();
  }
  google::protobuf::Arena arena;
  absl::StatusOr<sild::v1::AuditBundle*> read = ReadBundle(path, arena);
  if (!read.ok()) return ReportUnreadable(read.status());
  const sild::v1::AuditBundle* bundle = *read;

  const bool show_progress = isatty(STDERR_FILENO) == 1 &&
                             bundle->records_size() >= kProgressMinRecords;
  if (show_progress) {
    options.progress_every = (bundle->records_size() + 9) / 10;
    options.progress = [](int64_t done, int64_t total) {
      std::cerr << "\rverifying: " << (done * 100 / total) << "% (" << done
                << " of " << total << " records)" << std::flush;
    };
  }
  const VerifyReport report = sild::audit::Verify(*bundle, options);
  if (show_progress) std::cerr << "\n";

  if (!report.ok()) {
    std::cout << "NOT INTACT: " << report.Describe() << "\n"
              << "  verified before the failure: " << report.records_verified
              << " records, " << report.checkpoints_verified
              << " checkpoints\n";
    return kNotIntact;
  }
  std::cout << "INTACT: chain " << bundle->chain_id() << ", records "
            << bundle->first_sequence() << ".." << bundle->last_sequence()
            << " (" << report.records_verified << " records), "
            << report.checkpoints_verified << " checkpoints signed by key "
            << ToHex(report.key_id) << "\n";
  if (public_key_path.empty()) {
    std::cerr << "warning: no --public-key given, so the key embedded in the "
                 "bundle was trusted: this proves the bundle is internally "
                 "consistent, not that the gateway signed it. Compare key "
              << ToHex(report.key_id)
              << " with the gateway's published key, or pass --public-key.\n";
  }
  return kIntact;
}

int Dump(const std::string& path) {
  google::protobuf::Arena arena;
  absl::StatusOr<sild::v1::AuditBundle*> bundle = ReadBundle(path, arena);
  if (!bundle.ok()) {
    std::cerr << "sild-audit: " << bundle.status().message() << "\n";
    return kUsage;
  }
  google::protobuf::util::JsonPrintOptions json;
  json.add_whitespace = true;
  json.preserve_proto_field_names = true;
  std::string text;
  const auto status =
      google::protobuf::util::MessageToJsonString(**bundle, &text, json);
  if (!status.ok()) {
    std::cerr << "sild-audit: cannot print JSON: " << status.ToString() << "\n";
    return kUsage;
  }
  std::cout << text;
  return kIntact;
}

int Main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::string public_key_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kHelp;
      return kIntact;
    }
    if (arg == "--public-key") {
      if (i + 1 >= argc) return Usage("--public-key needs a PEM file");
      public_key_path = argv[++i];
    } else if (arg.rfind("--public-key=", 0) == 0) {
      public_key_path = arg.substr(sizeof("--public-key=") - 1);
    } else if (arg.rfind("--", 0) == 0) {
      return Usage(absl::StrCat("unknown option ", arg));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.empty()) return Usage("no command given");
  const std::string& command = positional[0];
  if (positional.size() != 2) {
    return Usage(absl::StrCat(command, " takes exactly one bundle file"));
  }
  if (command == "verify") return Verify(positional[1], public_key_path);
  if (command == "dump") {
    if (!public_key_path.empty()) return Usage("dump takes no --public-key");
    return Dump(positional[1]);
  }
  return Usage(absl::StrCat("unknown command ", command));
}

}  // namespace
}  // namespace sild::audit

int main(int argc, char** argv) { return sild::audit::Main(argc, argv); }
