// The exchange module: referral and transition services, the outbox's
// delivery workers, the gRPC inbox, dead letters and deadline escalations.
#ifndef SILD_GATEWAY_EXCHANGE_EXCHANGE_MODULE_H_
#define SILD_GATEWAY_EXCHANGE_EXCHANGE_MODULE_H_

#include <memory>

#include "gateway/server/module.h"

namespace sild::exchange {

std::unique_ptr<GatewayModule> MakeExchangeModule();

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_EXCHANGE_MODULE_H_
