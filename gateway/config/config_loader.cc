#include "gateway/config/config_loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/log.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"
#include "gateway/policy/rules.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "sild/connectors/v1/example.pb.h"

namespace sild {
namespace {

using config::v1::GatewayConfig;

constexpr absl::string_view kInvalid = "INVALID_CONFIG";

absl::Status Bad(absl::string_view field, absl::string_view message,
                 absl::string_view reason = kInvalid) {
  return InvalidField(reason, field, message);
}

// Collects the first text-format parse error with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      error_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                            message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// Turns protobuf's "(agencies[0]) kindd: Cannot find field." into a field
// path and a reason.
absl::Status FromJsonParseError(absl::string_view message) {
  std::string text(message);
  std::string field;
  if (!text.empty() && text[0] == '(') {
    size_t close = text.find(')');
    if (close != std::string::npos) {
      field = text.substr(1, close - 1);
      std::string rest = text.substr(close + 1);
      absl::string_view r = absl::StripAsciiWhitespace(rest);
      if (absl::ConsumePrefix(&r, ":")) r = absl::StripAsciiWhitespace(r);
      // "kindd: Cannot find field." names an unknown child of `field`.
      size_t colon = r.find(':');
      if (absl::EndsWith(r, "Cannot find field.") &&
          colon != absl::string_view::npos) {
        std::string unknown(r.substr(0, colon));
        field = field.empty() ? unknown : absl::StrCat(field, ".", unknown);
        return Bad(field, "unknown field", "UNKNOWN_FIELD");
      }
      return Bad(field, r, "INVALID_VALUE");
    }
  }
  size_t colon = text.find(": Cannot find field.");
  if (colon != std::string::npos) {
    return Bad(text.substr(0, colon), "unknown field", "UNKNOWN_FIELD");
  }
  return Bad("", text, "INVALID_VALUE");
}

bool IsIdentifierChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '.';
}

absl::Status CheckReadable(absl::string_view field, const std::string& path) {
  if (path.empty()) return Bad(field, "is required");
  if (::access(path.c_str(), R_OK) != 0) {
    return Bad(field, absl::StrCat("cannot read ", path), "FILE_NOT_READABLE");
  }
  return absl::OkStatus();
}

absl::Status ValidateListenAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return Bad("listen_address",
               absl::StrCat("\"", address,
                            "\" is not host:port (e.g. 127.0.0.1:7443)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTls(config::v1::TlsConfig& tls, absl::string_view base,
                         bool check_files) {
  tls.set_server_cert_file(ResolvePath(base, tls.server_cert_file()));
  tls.set_server_key_file(ResolvePath(base, tls.server_key_file()));
  tls.set_client_ca_file(ResolvePath(base, tls.client_ca_file()));
  if (!tls.crl_directory().empty()) {
    tls.set_crl_directory(ResolvePath(base, tls.crl_directory()));
  }
  if (tls.trust_domain().empty()) tls.set_trust_domain("sild.example");
  if (tls.server_cert_file().empty()) {
    return Bad("tls.server_cert_file", "is required: sild serves only mTLS");
  }
  if (tls.server_key_file().empty()) {
    return Bad("tls.server_key_file", "is required: sild serves only mTLS");
  }
  if (tls.client_ca_file().empty()) {
    return Bad("tls.client_ca_file",
               "is required: client certificates identify agencies");
  }
  if (check_files) {
    SILD_RETURN_IF_ERROR(
        CheckReadable("tls.server_cert_file", tls.server_cert_file()));
    SILD_RETURN_IF_ERROR(
        CheckReadable("tls.server_key_file", tls.server_key_file()));
    SILD_RETURN_IF_ERROR(
        CheckReadable("tls.client_ca_file", tls.client_ca_file()));
    if (!tls.crl_directory().empty() &&
        !std::filesystem::is_directory(tls.crl_directory())) {
      return Bad("tls.crl_directory",
                 absl::StrCat(tls.crl_directory(), " is not a directory"),
                 "FILE_NOT_READABLE");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStore(config::v1::StoreConfig& store,
                           absl::string_view base, bool check_files) {
  if (store.payload_key_file().empty()) {
    return Bad("store.payload_key_file",
               "is required: payloads are sealed at rest (make a key with "
               "openssl rand -hex 32)");
  }
  store.set_payload_key_file(ResolvePath(base, store.payload_key_file()));
  if (check_files) {
    SILD_RETURN_IF_ERROR(
        CheckReadable("store.payload_key_file", store.payload_key_file()));
  }
  switch (store.backend_case()) {
    case config::v1::StoreConfig::BACKEND_NOT_SET:
      store.mutable_sqlite()->set_path("sild.db");
      [[fallthrough]];
    case config::v1::StoreConfig::kSqlite: {
      auto* sqlite = store.mutable_sqlite();
      if (sqlite->path().empty())
        return Bad("store.sqlite.path", "is required");
      if (sqlite->path() == ":memory:") {
        // Every connection would get a private database: readers would never
        // see what the writer committed, and nothing would be durable.
        return Bad("store.sqlite.path",
                   "\":memory:\" is not a database file; name a file");
      }
      sqlite->set_path(ResolvePath(base, sqlite->path()));
      if (sqlite->busy_timeout_ms() < 0) {
        return Bad("store.sqlite.busy_timeout_ms", "must not be negative");
      }
      if (sqlite->busy_timeout_ms() == 0) sqlite->set_busy_timeout_ms(5000);
      return absl::OkStatus();
    }
    case config::v1::StoreConfig::kPostgres: {
      auto* pg = store.mutable_postgres();
      if (pg->dsn().empty() == pg->dsn_file().empty()) {
        return Bad("store.postgres", "set exactly one of dsn and dsn_file");
      }
      if (!pg->dsn_file().empty()) {
        pg->set_dsn_file(ResolvePath(base, pg->dsn_file()));
        if (check_files) {
          SILD_RETURN_IF_ERROR(
              CheckReadable("store.postgres.dsn_file", pg->dsn_file()));
        }
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAgencies(GatewayConfig& config) {
  if (config.agencies().empty()) {
    return Bad("agencies", "at least one agency must be configured");
  }
  std::map<std::string, int> by_code;
  std::map<std::string, int> by_identity;
  for (int i = 0; i < config.agencies_size(); ++i) {
    auto* agency = config.mutable_agencies(i);
    std::string at = absl::StrCat("agencies[", i, "]");
    SILD_RETURN_IF_ERROR(ValidateRegistryCode(
        agency->registry_code(), absl::StrCat(at, ".registry_code")));
    auto [it, inserted] = by_code.emplace(agency->registry_code(), i);
    if (!inserted) {
      return Bad(absl::StrCat(at, ".registry_code"),
                 absl::StrCat(agency->registry_code(), " is also agencies[",
                              it->second, "]"),
                 "DUPLICATE_AGENCY");
    }
    if (agency->name().empty())
      return Bad(absl::StrCat(at, ".name"), "is required");
    if (agency->kind() == sild::v1::AGENCY_KIND_UNSPECIFIED) {
      return Bad(absl::StrCat(at, ".kind"), "is required");
    }
    if (agency->identities().empty()) {
      agency->add_identities(DefaultAgencyIdentity(config.tls().trust_domain(),
                                                   agency->registry_code()));
    }
    for (int j = 0; j < agency->identities_size(); ++j) {
      const std::string& identity = agency->identities(j);
      std::string field = absl::StrCat(at, ".identities[", j, "]");
      if (identity.find("://") == std::string::npos) {
        return Bad(field,
                   absl::StrCat("\"", identity,
                                "\" is not a URI (certificate URI SAN)"));
      }
      auto [other, fresh] = by_identity.emplace(identity, i);
      if (!fresh) {
        return Bad(field,
                   absl::StrCat(identity, " already identifies agencies[",
                                other->second, "]"),
                   "DUPLICATE_IDENTITY");
      }
    }
    for (int j = 0; j < agency->roles_size(); ++j) {
      if (agency->roles(j) == config::v1::AGENCY_ROLE_UNSPECIFIED) {
        return Bad(absl::StrCat(at, ".roles[", j, "]"), "is unspecified");
      }
    }
  }
  for (int i = 0; i < config.routes_size(); ++i) {
    const auto& route = config.routes(i);
    std::string at = absl::StrCat("routes[", i, "]");
    if (route.service() == sild::v1::SERVICE_TYPE_UNSPECIFIED) {
      return Bad(absl::StrCat(at, ".service"), "is required");
    }
    if (route.municipality().empty()) {
      return Bad(absl::StrCat(at, ".municipality"), "is required");
    }
    if (route.registry_codes().empty()) {
      return Bad(absl::StrCat(at, ".registry_codes"),
                 "names no agency providing the service");
    }
    for (int j = 0; j < route.registry_codes_size(); ++j) {
      if (!by_code.contains(route.registry_codes(j))) {
        return Bad(absl::StrCat(at, ".registry_codes[", j, "]"),
                   absl::StrCat(route.registry_codes(j),
                                " is not a configured agency"),
                   "UNKNOWN_AGENCY");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLimits(config::v1::LimitsConfig& limits) {
  if (limits.max_message_bytes() < 0 || limits.default_deadline_ms() < 0 ||
      limits.max_deadline_ms() < 0 || limits.max_concurrent_streams() < 0) {
    return Bad("limits", "limits must not be negative");
  }
  if (limits.max_message_bytes() == 0) {
    limits.set_max_message_bytes(4 * 1024 * 1024);
  }
  if (limits.default_deadline_ms() == 0) limits.set_default_deadline_ms(30000);
  if (limits.max_deadline_ms() == 0) limits.set_max_deadline_ms(120000);
  if (limits.max_concurrent_streams() == 0) {
    limits.set_max_concurrent_streams(100);
  }
  if (limits.default_deadline_ms() > limits.max_deadline_ms()) {
    return Bad("limits.default_deadline_ms",
               "must not exceed limits.max_deadline_ms");
  }
  return absl::OkStatus();
}

absl::Status ValidateAudit(config::v1::AuditConfig& audit,
                           absl::string_view base, bool check_files) {
  if (audit.checkpoint_every_records() < 0 || audit.checkpoint_every_ms() < 0) {
    return Bad("audit", "checkpoint intervals must not be negative");
  }
  if (audit.checkpoint_every_records() == 0) {
    audit.set_checkpoint_every_records(1000);
  }
  if (audit.checkpoint_every_ms() == 0) audit.set_checkpoint_every_ms(5000);
  if (!audit.signing_key_file().empty()) {
    audit.set_signing_key_file(ResolvePath(base, audit.signing_key_file()));
    if (check_files) {
      SILD_RETURN_IF_ERROR(
          CheckReadable("audit.signing_key_file", audit.signing_key_file()));
    }
  }
  if (!audit.pseudonym_key_file().empty()) {
    audit.set_pseudonym_key_file(ResolvePath(base, audit.pseudonym_key_file()));
    if (check_files) {
      SILD_RETURN_IF_ERROR(CheckReadable("audit.pseudonym_key_file",
                                         audit.pseudonym_key_file()));
    }
  }
  return absl::OkStatus();
}

// `transport: "file"` with a folder in transport_target and no
// transport_config is the deprecated form of the connector SDK's file
// transport carrying the canonical binary envelope: it becomes exactly that,
// so every push recipient has one kind of egress endpoint. The files keep
// their name (<message id>.binpb) and a missing folder stays retryable.
absl::Status TranslateLegacyFileTransport(int index,
                                          config::v1::AgencyConfig& agency) {
  if (agency.transport() != "file" || agency.has_transport_config()) {
    return absl::OkStatus();
  }
  const std::string field = absl::StrCat("agencies[", index, "]");
  if (agency.transport_target().empty()) {
    return Bad(absl::StrCat(field, ".transport_target"),
               "the file transport needs a folder");
  }
  sild::connectors::v1::FileTransportConfig file;
  file.set_directory(agency.transport_target());
  file.set_extension("binpb");
  file.set_require_existing_directory(true);
  agency.mutable_transport_config()->PackFrom(file);
  LogWarning(
      "deprecated config: transport \"file\" with transport_target; "
      "use transport_config (sild.connectors.v1.FileTransportConfig)",
      {{"field", absl::StrCat(field, ".transport_target")},
       {"agency", agency.registry_code()}});
  return absl::OkStatus();
}

absl::Status ValidateDelivery(config::v1::GatewayConfig& config) {
  auto* d = config.mutable_delivery();
  if (d->max_attempts() < 0 || d->initial_backoff_ms() < 0 ||
      d->max_backoff_ms() < 0 || d->workers() < 0 ||
      d->inbox_ack_timeout_ms() < 0 || d->lease_ms() < 0 ||
      d->claim_batch() < 0) {
    return Bad("delivery", "values must not be negative");
  }
  if (d->max_attempts() == 0) d->set_max_attempts(8);
  if (d->initial_backoff_ms() == 0) d->set_initial_backoff_ms(500);
  if (d->max_backoff_ms() == 0) d->set_max_backoff_ms(60000);
  if (d->workers() == 0) d->set_workers(2);
  if (d->inbox_ack_timeout_ms() == 0) d->set_inbox_ack_timeout_ms(30000);
  if (d->lease_ms() == 0) d->set_lease_ms(120000);
  if (d->claim_batch() == 0) d->set_claim_batch(8);
  if (d->initial_backoff_ms() > d->max_backoff_ms()) {
    return Bad("delivery.initial_backoff_ms",
               "must not exceed delivery.max_backoff_ms");
  }
  auto* deadlines = config.mutable_deadlines();
  for (int i = 0; i < deadlines->referral_deadlines_size(); ++i) {
    if (deadlines->referral_deadlines(i).acknowledge_within_hours() <= 0) {
      return Bad(absl::StrCat("deadlines.referral_deadlines[", i,
                              "].acknowledge_within_hours"),
                 "must be positive");
    }
  }
  if (deadlines->transition_acknowledge_within_days() < 0 ||
      deadlines->scan_interval_ms() < 0) {
    return Bad("deadlines", "values must not be negative");
  }
  if (deadlines->transition_acknowledge_within_days() == 0) {
    deadlines->set_transition_acknowledge_within_days(14);
  }
  if (deadlines->scan_interval_ms() == 0)
    deadlines->set_scan_interval_ms(60000);
  for (int i = 0; i < config.agencies_size(); ++i) {
    SILD_RETURN_IF_ERROR(
        TranslateLegacyFileTransport(i, *config.mutable_agencies(i)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultAgencyIdentity(absl::string_view trust_domain,
                                  absl::string_view registry_code) {
  return absl::StrCat("spiffe://", trust_domain, "/agency/", registry_code);
}

absl::Status ValidateConfig(GatewayConfig& config, absl::string_view base_dir,
                            bool check_files) {
  if (config.listen_address().empty()) {
    config.set_listen_address("127.0.0.1:7443");
  }
  SILD_RETURN_IF_ERROR(ValidateListenAddress(config.listen_address()));
  if (config.instance_name().empty()) config.set_instance_name("sild-1");
  for (char c : config.instance_name()) {
    if (!IsIdentifierChar(c)) {
      return Bad("instance_name",
                 "may hold only letters, digits, '-', '_' and '.'");
    }
  }
  SILD_RETURN_IF_ERROR(
      ValidateTls(*config.mutable_tls(), base_dir, check_files));
  SILD_RETURN_IF_ERROR(
      ValidateStore(*config.mutable_store(), base_dir, check_files));
  SILD_RETURN_IF_ERROR(ValidateAgencies(config));
  SILD_RETURN_IF_ERROR(ValidateRules(config));
  SILD_RETURN_IF_ERROR(ValidateLimits(*config.mutable_limits()));
  SILD_RETURN_IF_ERROR(ValidateDelivery(config));
  SILD_RETURN_IF_ERROR(
      ValidateAudit(*config.mutable_audit(), base_dir, check_files));
  const std::string& level = config.logging().level();
  if (level.empty()) {
    config.mutable_logging()->set_level("info");
  } else if (level != "debug" && level != "info" && level != "warning" &&
             level != "error") {
    return Bad("logging.level", "must be debug, info, warning or error");
  }
  return absl::OkStatus();
}

absl::StatusOr<GatewayConfig> ParseConfig(absl::string_view text, bool json,
                                          absl::string_view name,
                                          absl::string_view base_dir) {
  GatewayConfig config;
  absl::Status status;
  if (json) {
    // nlohmann reports syntax errors with a position; protobuf's JSON parser
    // then maps fields and rejects unknown ones.
    try {
      nlohmann::json syntax_check =
          nlohmann::json::parse(text.begin(), text.end());
      (void)syntax_check;
    } catch (const nlohmann::json::parse_error& e) {
      status = Bad("", e.what(), "BAD_JSON");
    }
    if (status.ok()) {
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = false;
      auto parsed = google::protobuf::util::JsonStringToMessage(
          std::string(text), &config, options);
      if (!parsed.ok()) {
        status = FromJsonParseError(std::string(parsed.message()));
      }
    }
  } else {
    google::protobuf::TextFormat::Parser parser;
    FirstErrorCollector errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(std::string(text), &config)) {
      status = Bad("", errors.error(), "BAD_TEXTPROTO");
    }
  }
  if (status.ok()) status = ValidateConfig(config, base_dir, true);
  if (!status.ok()) {
    // Keep reason and field payloads; prefix the file name for the reader.
    absl::Status wrapped(status.code(),
                         absl::StrCat(name, ": ", status.message()));
    status.ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) {
          wrapped.SetPayload(url, payload);
        });
    return wrapped;
  }
  return config;
}

absl::StatusOr<GatewayConfig> LoadConfig(absl::string_view path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) {
      return MakeError(absl::StatusCode::kNotFound, "CONFIG_NOT_FOUND", "",
                       absl::StrCat(path, ": no such file"));
    }
    return text.status();
  }
  std::string base =
      std::filesystem::path(std::string(path)).parent_path().string();
  bool json = absl::EndsWith(path, ".json");
  return ParseConfig(*text, json, path, base);
}

}  // namespace sild
