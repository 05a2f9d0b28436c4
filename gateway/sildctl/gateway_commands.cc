// sildctl verbs for the gateway itself: health, whoami, info.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "gateway/base/status_macros.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/sildctl/cli.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "sild/v1/gateway_service.grpc.pb.h"

namespace sild::ctl {
namespace {

absl::Status RunHealth(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  if (ctx.args.positionals().size() > 1) {
    return UsageError("at most one SERVICE");
  }
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  if (!ctx.args.positionals().empty()) {
    request.set_service(ctx.args.positionals()[0]);
  }
  grpc::health::v1::HealthCheckResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Check(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    out << (request.service().empty() ? "gateway" : request.service()) << ": "
        << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
               response.status())
        << "\n";
  });
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError("not serving");
  }
  return absl::OkStatus();
}

absl::Status RunWhoAmI(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::GatewayService::NewStub(channel);
  sild::v1::WhoAmIResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status =
      stub->WhoAmI(call.get(), sild::v1::WhoAmIRequest(), &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    out << "agency:   " << response.agency().name() << " ("
        << response.agency().registry_code() << ")\n"
        << "kind:     " << sild::v1::AgencyKind_Name(response.agency().kind())
        << "\n"
        << "identity: " << response.identity() << "\n";
    if (response.roles_size() > 0) {
      out << "roles:   ";
      for (const auto& role : response.roles()) out << " " << role;
      out << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunInfo(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::GatewayService::NewStub(channel);
  sild::v1::GetGatewayInfoResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->GetGatewayInfo(
      call.get(), sild::v1::GetGatewayInfoRequest(), &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    out << "version:        " << response.version() << "\n"
        << "schema version: " << response.schema_version() << "\n"
        << "instance:       " << response.instance_name() << "\n";
    if (!response.audit_public_key_pem().empty()) {
      out << "audit public key:\n" << response.audit_public_key_pem();
    }
  });
  return absl::OkStatus();
}

SILD_REGISTER_COMMAND("health", "check the gateway's gRPC health service",
                      "usage: sildctl health [SERVICE]\n\n"
                      "Exit 0 when SERVING. SERVICE defaults to the whole "
                      "gateway; e.g. sild.v1.GatewayService.",
                      RunHealth);
SILD_REGISTER_COMMAND("whoami", "show which agency the gateway takes you for",
                      "usage: sildctl whoami\n\n"
                      "The gateway identifies you by your certificate's URI "
                      "SAN, never by what a payload claims.",
                      RunWhoAmI);
SILD_REGISTER_COMMAND("info",
                      "show the gateway's version, instance and audit key",
                      "usage: sildctl info", RunInfo);

}  // namespace
}  // namespace sild::ctl
