#include "connectors/sdk/registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/base/errors.h"

namespace sild::connectors {
namespace {

template <typename Factory, typename Product>
absl::StatusOr<std::unique_ptr<Product>> Create(
    const char* what, const std::string& name,
    const google::protobuf::Any& config, const std::string& field) {
  const Factory* factory = Registry<Factory>::Get().Find(name);
  if (factory == nullptr) {
    return InvalidField(
        "UNKNOWN_CONNECTOR", field,
        absl::StrCat("no ", what, " named \"", name, "\" (known: ",
                     absl::StrJoin(Registry<Factory>::Get().Names(), ", "),
                     ")"));
  }
  std::unique_ptr<google::protobuf::Message> typed =
      factory->CreateEmptyConfig();
  if (!config.type_url().empty() && !config.UnpackTo(typed.get())) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", field,
                        absl::StrCat(what, " \"", name, "\" takes ",
                                     typed->GetDescriptor()->full_name(),
                                     ", got ", config.type_url()));
  }
  return factory->Create(*typed);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Codec>> CreateCodec(
    const std::string& name, const google::protobuf::Any& config,
    const std::string& field) {
  return Create<CodecFactory, Codec>("codec", name, config, field);
}

absl::StatusOr<std::unique_ptr<EgressTransport>> CreateEgressTransport(
    const std::string& name, const google::protobuf::Any& config,
    const std::string& field) {
  return Create<EgressTransportFactory, EgressTransport>("egress transport",
                                                         name, config, field);
}

absl::StatusOr<std::unique_ptr<IngressTransport>> CreateIngressTransport(
    const std::string& name, const google::protobuf::Any& config,
    const std::string& field) {
  return Create<IngressTransportFactory, IngressTransport>("ingress transport",
                                                           name, config, field);
}

}  // namespace sild::connectors
