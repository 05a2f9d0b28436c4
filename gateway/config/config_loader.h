// Loads and validates the gateway's configuration (sild.config.v1).
//
// The file is JSON (proto3 JSON mapping; unknown fields are errors) when its
// name ends in .json, otherwise protobuf text format. Relative file paths in
// the config are resolved against the config file's folder. Defaults are
// filled in (see config.proto) so callers read final values.
//
// Errors are INVALID_ARGUMENT (NOT_FOUND for a missing file) and name the
// file, the field path and the reason, e.g.
//   "gateway.json: agencies[1].registry_code: INVALID_REGISTRY_CODE: ..."
// Thread-safe; no state.
#ifndef SILD_GATEWAY_CONFIG_CONFIG_LOADER_H_
#define SILD_GATEWAY_CONFIG_CONFIG_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sild/config/v1/config.pb.h"

namespace sild {

// Reads, parses, defaults and validates the config file at `path`.
absl::StatusOr<config::v1::GatewayConfig> LoadConfig(absl::string_view path);

// Parses config text (no file access; `name` and `base_dir` are used for
// messages and relative paths). `json` selects the syntax.
absl::StatusOr<config::v1::GatewayConfig> ParseConfig(absl::string_view text,
                                                      bool json,
                                                      absl::string_view name,
                                                      absl::string_view base_dir);

// Fills defaults and checks cross-field rules on an already parsed config.
// `check_files` also checks that referenced files are readable.
absl::Status ValidateConfig(config::v1::GatewayConfig& config,
                            absl::string_view base_dir, bool check_files);

// The certificate identity an agency is known by when its config lists none.
std::string DefaultAgencyIdentity(absl::string_view trust_domain,
                                  absl::string_view registry_code);

}  // namespace sild

#endif  // SILD_GATEWAY_CONFIG_CONFIG_LOADER_H_
