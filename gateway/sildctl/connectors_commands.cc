// sildctl connectors: the codecs and transports this build of sild carries,
// with what each needs in the config. Runs locally: the registry is compiled
// into sildctl exactly as into the gateway.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/envelope.h"
#include "gateway/sildctl/cli.h"
#include "nlohmann/json.hpp"

namespace sild::ctl {
namespace {

template <typename Factory>
std::string ConfigType(const Factory& factory) {
  return factory.CreateEmptyConfig()->GetDescriptor()->full_name();
}

std::vector<std::string> KindNames(const connectors::Codec& codec) {
  std::vector<std::string> kinds;
  for (sild::v1::MessageKind kind : codec.kinds()) {
    kinds.push_back(exchange::KindName(kind));
  }
  return kinds;
}

absl::Status RunConnectors(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  using connectors::Registry;
  nlohmann::ordered_json json = {
      {"codecs", nlohmann::json::array()},
      {"egress_transports", nlohmann::json::array()},
      {"ingress_transports", nlohmann::json::array()}};
  std::string human = "CODEC            CONTENT TYPE                  KINDS\n";
  for (const std::string& name :
       Registry<connectors::CodecFactory>::Get().Names()) {
    const connectors::CodecFactory* factory =
        Registry<connectors::CodecFactory>::Get().Find(name);
    auto codec = factory->Create(*factory->CreateEmptyConfig());
    if (!codec.ok()) return codec.status();
    std::vector<std::string> kinds = KindNames(**codec);
    json["codecs"].push_back({{"name", name},
                              {"content_type", (*codec)->content_type()},
                              {"kinds", kinds},
                              {"config", ConfigType(*factory)}});
    absl::StrAppend(&human, absl::StrFormat("%-16s %-29s %s\n", name,
                                            (*codec)->content_type(),
                                            absl::StrJoin(kinds, ", ")));
  }
  absl::StrAppend(&human, "\nTRANSPORT        DIRECTION  CONFIG\n");
  auto add_transports = [&](const std::vector<std::string>& names,
                            const char* direction, const char* key,
                            auto& registry) {
    for (const std::string& name : names) {
      std::string config = ConfigType(*registry.Find(name));
      json[key].push_back({{"name", name}, {"config", config}});
      absl::StrAppend(
          &human, absl::StrFormat("%-16s %-10s %s\n", name, direction, config));
    }
  };
  auto& egress = Registry<connectors::EgressTransportFactory>::Get();
  auto& ingress = Registry<connectors::IngressTransportFactory>::Get();
  add_transports(egress.Names(), "egress", "egress_transports", egress);
  add_transports(ingress.Names(), "ingress", "ingress_transports", ingress);
  absl::StrAppend(&human,
                  "\nBuilt into the gateway (no transport_config): file "
                  "(canonical envelope files), grpc-inbox (pull).\n");
  if (ctx.options.json) {
    ctx.out << json.dump(2) << "\n";
  } else {
    ctx.out << human;
  }
  return absl::OkStatus();
}

SILD_REGISTER_COMMAND(
    "connectors", "list the codecs and transports this build carries",
    "sildctl connectors [--json]\n"
    "  Lists every registered codec (name, content type, message kinds, the\n"
    "  type of its codec_config) and transport (direction and the type of\n"
    "  its transport_config). No gateway is contacted.",
    RunConnectors);

}  // namespace
}  // namespace sild::ctl
