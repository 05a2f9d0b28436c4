// The delivery wing as a GatewayModule (gateway/rpc/module.h): every push
// recipient's egress endpoint (egress.h), the delivery workers, the gRPC
// inbox (a pull endpoint), the operators' DeliveryService and the health of
// every connector transport. Registered in gateway/server/modules.cc after
// the exchange, whose ingress probes it watches.
//
// Init builds the endpoints from config.agencies (a config error names the
// field and stops the gateway) and sets components.on_outbox_changed /
// on_inbox_queued, which the exchange calls after commits that queued rows.
// Stop() ends inbox streams and lets the workers finish in-flight
// deliveries; the store is still open then.
#ifndef SILD_GATEWAY_DELIVERY_DELIVERY_MODULE_H_
#define SILD_GATEWAY_DELIVERY_DELIVERY_MODULE_H_

#include <memory>

#include "gateway/rpc/module.h"

namespace sild::delivery {

std::unique_ptr<GatewayModule> MakeDeliveryModule();

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_DELIVERY_MODULE_H_
