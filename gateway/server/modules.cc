// The gateway's capabilities, in initialisation order. A module that
// provides a component another uses comes first (consents before exchange).
#include "gateway/auditsvc/audit_module.h"
#include "gateway/consent/consent_module.h"
#include "gateway/delivery/delivery_module.h"
#include "gateway/exchange/exchange_module.h"
#include "gateway/rpc/module.h"

namespace sild {

std::vector<std::unique_ptr<GatewayModule>> MakeGatewayModules() {
  std::vector<std::unique_ptr<GatewayModule>> modules;
  modules.push_back(MakeConsentModule());
  modules.push_back(exchange::MakeExchangeModule());
  // After the exchange: it watches the exchange's ingress transports.
  modules.push_back(delivery::MakeDeliveryModule());
  modules.push_back(auditsvc::MakeAuditModule());
  return modules;
}

}  // namespace sild
