// sild.v1.ConsentService: the consent registry over gRPC
// (proto/sild/v1/consent_service.proto; docs/consent.md).
//
//   ConsentServiceImpl service({&config, clock, &directory, store, &registry,
//                               &decisions});
//   builder.RegisterService(&service);
//
// Every call authenticates the caller from its certificate. Grant and
// Withdraw need the consent recorder role (PERMISSION_DENIED
// NOT_CONSENT_RECORDER) and commit through the store's group-committed
// writer, answering only after the commit; Get, List and History show a
// consent only to its recorder and the recipients it names (NOT_FOUND
// otherwise, never the content); Check and ListRules are open to every
// configured agency. Errors reach the client through ToGrpcStatus with the
// reason and field in the "sild-reason" / "sild-field" trailers.
//
// Thread-safe; every pointer in ConsentServiceDeps must outlive the service.
#ifndef SILD_GATEWAY_CONSENT_CONSENT_SERVICE_H_
#define SILD_GATEWAY_CONSENT_CONSENT_SERVICE_H_

#include "absl/time/time.h"
#include "gateway/base/clock.h"
#include "gateway/consent/consent_registry.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/policy/decision.h"
#include "gateway/store/store.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/consent_service.grpc.pb.h"

namespace sild {

struct ConsentServiceDeps {
  const config::v1::GatewayConfig* config = nullptr;
  const Clock* clock = nullptr;
  const AgencyDirectory* directory = nullptr;
  Store* store = nullptr;
  const ConsentRegistry* registry = nullptr;
  // Decides Check; the gateway's engine reads the store.
  const DecisionEngine* decisions = nullptr;
};

class ConsentServiceImpl final
    : public sild::v1::ConsentService::CallbackService {
 public:
  explicit ConsentServiceImpl(ConsentServiceDeps deps);

  grpc::ServerUnaryReactor* Grant(
      grpc::CallbackServerContext* context,
      const sild::v1::GrantConsentRequest* request,
      sild::v1::GrantConsentResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const sild::v1::GetConsentRequest* request,
                                sild::v1::Consent* response) override;
  grpc::ServerUnaryReactor* List(
      grpc::CallbackServerContext* context,
      const sild::v1::ListConsentsRequest* request,
      sild::v1::ListConsentsResponse* response) override;
  grpc::ServerUnaryReactor* Withdraw(
      grpc::CallbackServerContext* context,
      const sild::v1::WithdrawConsentRequest* request,
      sild::v1::WithdrawConsentResponse* response) override;
  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const sild::v1::CheckConsentRequest* request,
      sild::v1::CheckConsentResponse* response) override;
  grpc::ServerUnaryReactor* History(
      grpc::CallbackServerContext* context,
      const sild::v1::ConsentHistoryRequest* request,
      sild::v1::ConsentHistoryResponse* response) override;
  grpc::ServerUnaryReactor* ListRules(
      grpc::CallbackServerContext* context,
      const sild::v1::ListRulesRequest* request,
      sild::v1::ListRulesResponse* response) override;

 private:
  // The current version, if `viewer` may see it; NOT_FOUND otherwise.
  absl::StatusOr<sild::v1::Consent> LoadVisible(
      absl::string_view consent_id, const sild::v1::AgencyRef& viewer);

  ConsentServiceDeps deps_;
  absl::TimeZone zone_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_CONSENT_CONSENT_SERVICE_H_
