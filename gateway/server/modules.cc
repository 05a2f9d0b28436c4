// The gateway's capabilities, in initialisation order. A module that
// provides a component another uses comes first (consents before exchange).
#include "gateway/server/module.h"

namespace sild {

std::vector<std::unique_ptr<GatewayModule>> MakeGatewayModules() {
  std::vector<std::unique_ptr<GatewayModule>> modules;
  return modules;
}

}  // namespace sild
