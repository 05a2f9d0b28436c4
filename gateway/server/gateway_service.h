// sild.v1.GatewayService: WhoAmI and GetGatewayInfo. Thread-safe; holds
// pointers to components owned by GatewayServer.
#ifndef SILD_GATEWAY_SERVER_GATEWAY_SERVICE_H_
#define SILD_GATEWAY_SERVER_GATEWAY_SERVICE_H_

#include <string>

#include "gateway/identity/agency_directory.h"
#include "sild/v1/gateway_service.grpc.pb.h"

namespace sild {

struct GatewayInfo {
  std::string version;
  std::string instance_name;
  std::string audit_public_key_pem;
};

class GatewayServiceImpl final : public sild::v1::GatewayService::CallbackService {
 public:
  GatewayServiceImpl(const AgencyDirectory* directory, GatewayInfo info)
      : directory_(directory), info_(std::move(info)) {}

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* context,
                                   const sild::v1::WhoAmIRequest* request,
                                   sild::v1::WhoAmIResponse* response) override;
  grpc::ServerUnaryReactor* GetGatewayInfo(
      grpc::CallbackServerContext* context,
      const sild::v1::GetGatewayInfoRequest* request,
      sild::v1::GetGatewayInfoResponse* response) override;

 private:
  const AgencyDirectory* directory_;
  GatewayInfo info_;
};

}  // namespace sild

#endif  // SILD_GATEWAY_SERVER_GATEWAY_SERVICE_H_
