// sild.v1.AuditService: the audit trail for auditors (Query, Verify,
// Export, CitizenView, Usage). Start here for the auditor-facing side;
// gateway/audit/audit_log.h is the writing side.
//
//   AuditServiceImpl service(&components);   // store, audit log, directory
//   builder.RegisterService(&service);
//   ...
//   service.Stop();                           // after the gRPC server stopped
//
// Only agencies with AGENCY_ROLE_AUDITOR may call it (others get
// PERMISSION_DENIED, reason NOT_AUDITOR). Every call, refused ones too, is
// itself recorded (AUDIT_ACTION_AUDIT_QUERY, actor = the caller, the subject
// pseudonym when a person was searched), and the answer leaves only after
// that record committed: if it cannot be written the call fails with
// UNAVAILABLE, reason AUDIT_UNAVAILABLE, and nothing is disclosed.
//
// Threading: handlers only authenticate on gRPC's callback threads; the
// reading, verifying and the audit write run on the service's own worker
// threads (a verification or export may take seconds). Thread-safe. The
// components must outlive the service; call Stop() before the store closes.
#ifndef SILD_GATEWAY_AUDITSVC_AUDIT_SERVICE_H_
#define SILD_GATEWAY_AUDITSVC_AUDIT_SERVICE_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gateway/audit/checkpoint.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/module.h"
#include "sild/v1/audit_service.grpc.pb.h"

namespace sild::auditsvc {

class AuditServiceImpl final : public sild::v1::AuditService::CallbackService {
 public:
  // Bytes per Export message: well below the default 4 MiB message limit.
  static constexpr size_t kExportChunkBytes = 1 << 20;

  AuditServiceImpl(const GatewayComponents* components,
                   audit::CheckpointVerifier key, int workers = 2);
  ~AuditServiceImpl() override;

  // Runs the calls already queued, then stops the workers. Idempotent.
  void Stop();

  grpc::ServerUnaryReactor* Query(
      grpc::CallbackServerContext* context,
      const sild::v1::AuditQueryRequest* request,
      sild::v1::AuditQueryResponse* response) override;
  grpc::ServerUnaryReactor* Verify(
      grpc::CallbackServerContext* context,
      const sild::v1::AuditVerifyRequest* request,
      sild::v1::AuditVerifyResponse* response) override;
  grpc::ServerWriteReactor<sild::v1::AuditExportChunk>* Export(
      grpc::CallbackServerContext* context,
      const sild::v1::AuditExportRequest* request) override;
  grpc::ServerUnaryReactor* CitizenView(
      grpc::CallbackServerContext* context,
      const sild::v1::AuditCitizenViewRequest* request,
      sild::v1::AuditCitizenViewResponse* response) override;
  grpc::ServerUnaryReactor* Usage(
      grpc::CallbackServerContext* context,
      const sild::v1::AuditUsageRequest* request,
      sild::v1::AuditUsageResponse* response) override;

 private:
  // What the audit record of a call says besides who called.
  struct CallNote {
    std::string subject_pseudonym;
    std::string detail;
  };
  // Computes an answer, filling `note`.
  using Work = std::function<absl::Status(CallNote& note)>;

  // Authenticates, then on a worker: checks the role, runs `work`, records
  // the call and finishes `reactor` with the outcome.
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context,
                                   absl::string_view rpc, Work work);
  // The durable record of an auditor call; AUDIT_UNAVAILABLE if not.
  absl::Status RecordCall(const Caller& caller, absl::string_view rpc,
                          const CallNote& note, const absl::Status& outcome);
  absl::Status CheckAuditor(const Caller& caller, absl::string_view rpc);
  sild::v1::AgencyRef AgencyOf(const std::string& registry_code) const;
  void Schedule(std::function<void()> job);
  void WorkerLoop();

  absl::Status DoQuery(const sild::v1::AuditQueryRequest& request,
                       sild::v1::AuditQueryResponse& response, CallNote& note);
  absl::Status DoVerify(const sild::v1::AuditVerifyRequest& request,
                        sild::v1::AuditVerifyResponse& response,
                        CallNote& note);
  absl::Status DoCitizenView(const sild::v1::AuditCitizenViewRequest& request,
                             sild::v1::AuditCitizenViewResponse& response,
                             CallNote& note);
  absl::Status DoUsage(const sild::v1::AuditUsageRequest& request,
                       sild::v1::AuditUsageResponse& response, CallNote& note);
  // The bundle file of the requested range and what it holds.
  absl::Status BuildExport(const sild::v1::AuditExportRequest& request,
                           sild::v1::AuditExportInfo& info, std::string& file,
                           CallNote& note);

  const GatewayComponents* components_;
  audit::CheckpointVerifier key_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace sild::auditsvc

#endif  // SILD_GATEWAY_AUDITSVC_AUDIT_SERVICE_H_
