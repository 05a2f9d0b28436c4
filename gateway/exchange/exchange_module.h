// The exchange module (intake): the referral and transition services, their
// broker and file ingress, consent withdrawal notices and deadline
// escalations. Delivery is a module of its own (gateway/delivery/
// delivery_module.h), registered after this one.
#ifndef SILD_GATEWAY_EXCHANGE_EXCHANGE_MODULE_H_
#define SILD_GATEWAY_EXCHANGE_EXCHANGE_MODULE_H_

#include <memory>

#include "gateway/rpc/module.h"

namespace sild::exchange {

std::unique_ptr<GatewayModule> MakeExchangeModule();

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_EXCHANGE_MODULE_H_
