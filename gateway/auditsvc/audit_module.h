// The auditor capability as a gateway module: serves sild.v1.AuditService
// (audit_service.h) over the gateway's store and audit log. It adds no
// schema of its own (the audit tables come with AuditLog::Schema()).
//
//   modules.push_back(auditsvc::MakeAuditModule());   // in modules.cc
//
// Lifecycle as in gateway/rpc/module.h; Stop() drains the service's
// workers before the store closes.
#ifndef SILD_GATEWAY_AUDITSVC_AUDIT_MODULE_H_
#define SILD_GATEWAY_AUDITSVC_AUDIT_MODULE_H_

#include <memory>

#include "gateway/rpc/module.h"

namespace sild::auditsvc {

std::unique_ptr<GatewayModule> MakeAuditModule();

}  // namespace sild::auditsvc

#endif  // SILD_GATEWAY_AUDITSVC_AUDIT_MODULE_H_
