#include "gateway/server/gateway_service.h"

#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"
#include "sild/config/v1/config.pb.h"

namespace sild {

grpc::ServerUnaryReactor* GatewayServiceImpl::WhoAmI(
    grpc::CallbackServerContext* context, const sild::v1::WhoAmIRequest*,
    sild::v1::WhoAmIResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller = AuthenticateCall(context, *directory_);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  *response->mutable_agency() = caller->agency->ref;
  response->set_identity(caller->identity);
  for (int role : caller->agency->config.roles()) {
    std::string name = config::v1::AgencyRole_Name(role);
    constexpr std::string_view kPrefix = "AGENCY_ROLE_";
    if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    response->add_roles(name);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* GatewayServiceImpl::GetGatewayInfo(
    grpc::CallbackServerContext* context,
    const sild::v1::GetGatewayInfoRequest*,
    sild::v1::GetGatewayInfoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller = AuthenticateCall(context, *directory_);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  response->set_version(info_.version);
  response->set_schema_version("1.0");
  response->set_instance_name(info_.instance_name);
  response->set_audit_public_key_pem(info_.audit_public_key_pem);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace sild
