#include "gateway/server/server.h"

#include <dlfcn.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/status_macros.h"
#include "gateway/config/config_loader.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/rpc/module.h"
#include "gateway/server/gateway_service.h"
#include "gateway/server/tls_credentials.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace sild {

const char* GatewayVersion() { return SILD_VERSION; }

namespace {

// The reflection plugin registers itself for every server when its library
// is loaded, so it is linked only when the config asks for it.
absl::Status LoadReflection() {
  static void* handle =
      dlopen("libgrpc++_reflection.so.1.51", RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    return MakeError(absl::StatusCode::kFailedPrecondition,
                     "REFLECTION_UNAVAILABLE", "enable_reflection",
                     absl::StrCat("cannot load gRPC reflection: ", dlerror()));
  }
  return absl::OkStatus();
}

}  // namespace

class GatewayServer::Impl {
 public:
  Impl(const config::v1::GatewayConfig& config, const Clock* clock)
      : config_(config), directory_(config), clock_(clock) {}

  // Opens the store with every module's schema, restores the audit chain
  // and initialises the modules.
  absl::Status OpenComponents() {
    modules_ = MakeGatewayModules();
    std::vector<Migration> migrations = {AuditLog::Schema()};
    for (const auto& module : modules_) {
      for (auto& m : module->Migrations()) migrations.push_back(std::move(m));
    }
    SILD_ASSIGN_OR_RETURN(
        store_, Store::Open(config_.store(), clock_, std::move(migrations)));
    AuditLog::Options audit;
    audit.chain_id = config_.instance_name();
    audit.signing_key_file = config_.audit().signing_key_file();
    audit.pseudonym_key_file = config_.audit().pseudonym_key_file();
    audit.checkpoint_every_records = config_.audit().checkpoint_every_records();
    audit.checkpoint_every =
        absl::Milliseconds(config_.audit().checkpoint_every_ms());
    SILD_ASSIGN_OR_RETURN(audit_log_, AuditLog::Open(store_.get(), audit));
    store_->writer().AddParticipant(audit_log_.get());
    components_.config = config_;
    components_.clock = clock_;
    components_.directory = &directory_;
    components_.store = store_.get();
    components_.audit_log = audit_log_.get();
    for (const auto& module : modules_) {
      absl::Status status = module->Init(components_);
      if (!status.ok()) {
        // Names the module; keeps the reason code and field payloads.
        absl::Status named(status.code(), absl::StrCat(module->name(), ": ",
                                                       status.message()));
        status.ForEachPayload(
            [&named](absl::string_view type_url, const absl::Cord& payload) {
              named.SetPayload(type_url, payload);
            });
        return named;
      }
    }
    store_->Start();
    return absl::OkStatus();
  }

  absl::Status Start() {
    SILD_ASSIGN_OR_RETURN(auto credentials,
                          MakeServerCredentials(config_.tls()));
    if (config_.audit().signing_key_file().empty() ||
        config_.audit().pseudonym_key_file().empty()) {
      return MakeError(absl::StatusCode::kFailedPrecondition, "INVALID_CONFIG",
                       "audit",
                       "audit.signing_key_file and audit.pseudonym_key_file "
                       "are required: nothing happens without an audit record");
    }
    SILD_RETURN_IF_ERROR(OpenComponents());
    gateway_service_ = std::make_unique<GatewayServiceImpl>(
        &directory_, GatewayInfo{GatewayVersion(), config_.instance_name(),
                                 audit_log_->signer().public_key_pem()});

    grpc::EnableDefaultHealthCheckService(true);
    if (config_.enable_reflection()) SILD_RETURN_IF_ERROR(LoadReflection());
    grpc::ServerBuilder builder;
    builder.AddListeningPort(config_.listen_address(), credentials, &port_);
    builder.RegisterService(gateway_service_.get());
    std::vector<std::string> service_names = {"sild.v1.GatewayService"};
    for (const auto& module : modules_) {
      for (grpc::Service* service : module->Services()) {
        builder.RegisterService(service);
      }
      for (auto& name : module->ServiceNames()) service_names.push_back(name);
    }
    const auto& limits = config_.limits();
    builder.SetMaxReceiveMessageSize(limits.max_message_bytes());
    builder.SetMaxSendMessageSize(limits.max_message_bytes());
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               limits.max_concurrent_streams());
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) {
      return MakeError(
          absl::StatusCode::kUnavailable, "LISTEN_FAILED", "listen_address",
          absl::StrCat("cannot listen on ", config_.listen_address(),
                       " (address in use or not local?)"));
    }
    auto* health = server_->GetHealthCheckService();
    health->SetServingStatus(true);
    for (const auto& name : service_names) {
      health->SetServingStatus(name, true);
    }
    components_.set_health_status = [health](const std::string& name,
                                             bool serving) {
      health->SetServingStatus(name, serving);
    };
    for (const auto& module : modules_) module->Start();
    LogInfo("gateway listening",
            {{"address", config_.listen_address()},
             {"port", absl::StrCat(port_)},
             {"instance", config_.instance_name()},
             {"agencies", absl::StrCat(config_.agencies_size())},
             {"reflection", config_.enable_reflection() ? "on" : "off"}});
    return absl::OkStatus();
  }

  void Shutdown(absl::Duration grace) {
    std::call_once(shutdown_once_, [&] {
      LogInfo("gateway shutting down",
              {{"grace_ms", absl::StrCat(absl::ToInt64Milliseconds(grace))}});
      server_->GetHealthCheckService()->SetServingStatus(false);
      for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
        (*it)->BeginShutdown();
      }
      server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
      server_->Wait();
      for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
        (*it)->Stop();
      }
      // Sign the chain's head so an export of this instance's chain covers
      // its last records too.
      if (absl::Status signed_head = audit_log_->CheckpointNow();
          !signed_head.ok()) {
        LogWarning("final audit checkpoint failed",
                   {{"detail", std::string(signed_head.message())}});
      }
      store_->Close();
      LogInfo("gateway stopped");
      stopped_.Notify();
    });
  }

  void Wait() { stopped_.WaitForNotification(); }
  int port() const { return port_; }
  GatewayComponents& components() { return components_; }

 private:
  config::v1::GatewayConfig config_;
  AgencyDirectory directory_;
  const Clock* clock_;
  std::vector<std::unique_ptr<GatewayModule>> modules_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> audit_log_;
  GatewayComponents components_;
  std::unique_ptr<GatewayServiceImpl> gateway_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::once_flag shutdown_once_;
  absl::Notification stopped_;
};

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const config::v1::GatewayConfig& config) {
  return Start(config, RealClock::Get());
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const config::v1::GatewayConfig& config, const Clock* clock) {
  // Configs built in code (tests, embedders) get the same defaults and checks
  // as files; ValidateConfig is idempotent on a loaded config.
  config::v1::GatewayConfig validated = config;
  SILD_RETURN_IF_ERROR(ValidateConfig(validated, "", /*check_files=*/true));
  auto impl = std::make_unique<Impl>(validated, clock);
  SILD_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

int GatewayServer::port() const { return impl_->port(); }
void GatewayServer::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }
void GatewayServer::Wait() { impl_->Wait(); }
GatewayComponents& GatewayServer::components() { return impl_->components(); }

}  // namespace sild
