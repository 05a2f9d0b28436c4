#include "gateway/auditsvc/audit_module.h"

#include "gateway/auditsvc/audit_service.h"
#include "gateway/base/status_macros.h"

namespace sild::auditsvc {
namespace {

class AuditModule final : public GatewayModule {
 public:
  std::string name() const override { return "audit-service"; }

  absl::Status Init(GatewayComponents& components) override {
    if (components.audit_log == nullptr || components.store == nullptr) {
      return absl::FailedPreconditionError(
          "the audit service needs the store and the audit log");
    }
    // Checkpoints are verified with the key the gateway signs them with.
    SILD_ASSIGN_OR_RETURN(auto key,
                          audit::CheckpointVerifier::FromPublicKeyPem(
                              components.audit_log->signer().public_key_pem()));
    service_ = std::make_unique<AuditServiceImpl>(&components, std::move(key));
    return absl::OkStatus();
  }

  std::vector<grpc::Service*> Services() override { return {service_.get()}; }
  std::vector<std::string> ServiceNames() const override {
    return {"sild.v1.AuditService"};
  }
  void Stop() override {
    if (service_) service_->Stop();
  }

 private:
  std::unique_ptr<AuditServiceImpl> service_;
};

}  // namespace

std::unique_ptr<GatewayModule> MakeAuditModule() {
  return std::make_unique<AuditModule>();
}

}  // namespace sild::auditsvc
