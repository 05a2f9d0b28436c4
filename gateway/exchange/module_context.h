// The ExchangeContext a module (exchange, delivery) builds from the shared
// components: the module's own copy of the config, the directory, store,
// audit log, the default projector and the consent module's decisions.
// The wake-up hooks stay for the module to set. FAILED_PRECONDITION
// MODULE_MISSING when the consent module has not provided its decisions.
#ifndef SILD_GATEWAY_EXCHANGE_MODULE_CONTEXT_H_
#define SILD_GATEWAY_EXCHANGE_MODULE_CONTEXT_H_

#include "absl/status/statusor.h"
#include "gateway/exchange/exchange_context.h"
#include "gateway/rpc/module.h"

namespace sild::exchange {

// `config` (the module's copy, outliving the context) is what the context
// points to; `module` names the module in the error.
absl::StatusOr<ExchangeContext> ContextFromComponents(
    const GatewayComponents& components,
    const config::v1::GatewayConfig* config, const std::string& module);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_MODULE_CONTEXT_H_
