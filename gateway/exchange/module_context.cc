#include "gateway/exchange/module_context.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/minimise/projector.h"

namespace sild::exchange {

absl::StatusOr<ExchangeContext> ContextFromComponents(
    const GatewayComponents& components,
    const config::v1::GatewayConfig* config, const std::string& module) {
  if (!components.decide_in_txn) {
    return MakeError(
        absl::StatusCode::kFailedPrecondition, "MODULE_MISSING", "",
        absl::StrCat(module, " needs the consent module's decisions"));
  }
  ExchangeContext context;
  context.config = config;
  context.directory = components.directory;
  context.store = components.store;
  context.audit_log = components.audit_log;
  context.projector = &Projector::Default();
  context.decide = components.decide_in_txn;
  context.record_disclosure = components.record_disclosure;
  return context;
}

}  // namespace sild::exchange
