#include "gateway/exchange/transport.h"

#include "gateway/exchange/transport_file.h"

namespace sild::exchange {

TransportRegistry TransportRegistry::WithBuiltins() {
  TransportRegistry registry;
  registry.Register(std::make_unique<FileTransport>());
  registry.Register(std::make_unique<GrpcInboxTransport>());
  return registry;
}

void TransportRegistry::Register(std::unique_ptr<DeliveryTransport> transport) {
  std::string name = transport->name();
  transports_[name] = std::move(transport);
}

DeliveryTransport* TransportRegistry::Find(const std::string& name) const {
  auto it = transports_.find(name);
  return it == transports_.end() ? nullptr : it->second.get();
}

std::unique_ptr<DeliveryTransport> TransportRegistry::Release(
    const std::string& name) {
  auto it = transports_.find(name);
  if (it == transports_.end()) return nullptr;
  std::unique_ptr<DeliveryTransport> transport = std::move(it->second);
  transports_.erase(it);
  return transport;
}

std::vector<std::string> TransportRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, transport] : transports_) out.push_back(name);
  return out;
}

}  // namespace sild::exchange
