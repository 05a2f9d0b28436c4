// The connector registry: codec and transport factories keyed by name, each
// with a typed protobuf config, registered statically (as Envoy registers
// its extensions):
//
//   using FhirCodecFactory =
//       TypedCodecFactory<FhirCodec::kName, FhirCodecConfig, FhirCodec>;
//   SILD_REGISTER_CODEC_FACTORY(FhirCodecFactory);
//
// The gateway config names a connector per agency ("codec": "fhir-r4",
// "codecConfig": {"@type": "type.googleapis.com/sild.connectors.v1.
// FhirCodecConfig", ...}); CreateCodec() unpacks the config into the
// factory's own type, so a config of the wrong type or with an unknown field
// fails at start naming it.
//
// Static registration needs the connector's object files in the binary:
// link connector libraries with $<LINK_LIBRARY:WHOLE_ARCHIVE,...> (see
// connectors/CMakeLists.txt). The registries are filled before main() and
// read-only afterwards, so lookups are thread-safe.
#ifndef SILD_CONNECTORS_SDK_REGISTRY_H_
#define SILD_CONNECTORS_SDK_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/sdk/codec.h"
#include "connectors/sdk/transport.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"

namespace sild::connectors {

class CodecFactory {
 public:
  virtual ~CodecFactory() = default;
  virtual std::string name() const = 0;
  // An empty message of this factory's config type (google.protobuf.Empty
  // when it takes none).
  virtual std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const = 0;
  virtual absl::StatusOr<std::unique_ptr<Codec>> Create(
      const google::protobuf::Message& config) const = 0;
};

class EgressTransportFactory {
 public:
  virtual ~EgressTransportFactory() = default;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const = 0;
  virtual absl::StatusOr<std::unique_ptr<EgressTransport>> Create(
      const google::protobuf::Message& config) const = 0;
};

class IngressTransportFactory {
 public:
  virtual ~IngressTransportFactory() = default;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const = 0;
  virtual absl::StatusOr<std::unique_ptr<IngressTransport>> Create(
      const google::protobuf::Message& config) const = 0;
};

template <typename Factory>
class Registry {
 public:
  static Registry& Get() {
    static Registry* registry = new Registry();
    return *registry;
  }
  void Register(std::unique_ptr<Factory> factory) {
    std::string name = factory->name();
    factories_[name] = std::move(factory);
  }
  const Factory* Find(const std::string& name) const {
    auto it = factories_.find(name);
    return it == factories_.end() ? nullptr : it->second.get();
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& [name, factory] : factories_) names.push_back(name);
    return names;
  }

 private:
  std::map<std::string, std::unique_ptr<Factory>> factories_;
};

// The factory of a codec with a typed config. When the codec declares
//   static absl::StatusOr<std::unique_ptr<MyCodec>> Create(const MyConfig&);
// that checks the config (e.g. a depth limit) and creates the codec; without
// one the factory constructs `MyCodec(config)`. Name an alias, register it:
//   using MyCodecFactory = TypedCodecFactory<MyCodec::kName, MyConfig,
//   MyCodec>; SILD_REGISTER_CODEC_FACTORY(MyCodecFactory);
// `kName` needs static storage: a `static constexpr char kName[]` member.
template <const char* kName, typename Config, typename CodecImpl>
class TypedCodecFactory final : public CodecFactory {
 public:
  std::string name() const override { return kName; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const override {
    return std::make_unique<Config>();
  }
  absl::StatusOr<std::unique_ptr<Codec>> Create(
      const google::protobuf::Message& config) const override {
    const Config& typed = static_cast<const Config&>(config);
    if constexpr (requires { CodecImpl::Create(typed); }) {
      auto codec = CodecImpl::Create(typed);
      if (!codec.ok()) return codec.status();
      return std::unique_ptr<Codec>(*std::move(codec));
    } else {
      return std::unique_ptr<Codec>(std::make_unique<CodecImpl>(typed));
    }
  }
};

// The factories of a transport whose `Transport::Create(const Config&)`
// returns absl::StatusOr<std::unique_ptr<Transport>> (the broker
// transports): name an alias and register it,
//   using MyEgressFactory =
//       TypedEgressTransportFactory<kMyName, MyConfig, MyEgressTransport>;
//   SILD_REGISTER_EGRESS_TRANSPORT_FACTORY(MyEgressFactory);
template <const char* kName, typename Config, typename Transport>
class TypedEgressTransportFactory final : public EgressTransportFactory {
 public:
  std::string name() const override { return kName; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const override {
    return std::make_unique<Config>();
  }
  absl::StatusOr<std::unique_ptr<EgressTransport>> Create(
      const google::protobuf::Message& config) const override {
    auto transport = Transport::Create(static_cast<const Config&>(config));
    if (!transport.ok()) return transport.status();
    return std::unique_ptr<EgressTransport>(*std::move(transport));
  }
};

template <const char* kName, typename Config, typename Transport>
class TypedIngressTransportFactory final : public IngressTransportFactory {
 public:
  std::string name() const override { return kName; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const override {
    return std::make_unique<Config>();
  }
  absl::StatusOr<std::unique_ptr<IngressTransport>> Create(
      const google::protobuf::Message& config) const override {
    auto transport = Transport::Create(static_cast<const Config&>(config));
    if (!transport.ok()) return transport.status();
    return std::unique_ptr<IngressTransport>(*std::move(transport));
  }
};

template <typename Factory, typename Impl>
struct FactoryRegistrar {
  FactoryRegistrar() {
    Registry<Factory>::Get().Register(std::make_unique<Impl>());
  }
};

// Unpacks `config` (empty Any: the default config) into `factory`'s config
// type and creates the codec. Errors name `field` (e.g.
// "agencies[2].codec_config") and say what was expected.
absl::StatusOr<std::unique_ptr<Codec>> CreateCodec(
    const std::string& name, const google::protobuf::Any& config,
    const std::string& field);
absl::StatusOr<std::unique_ptr<EgressTransport>> CreateEgressTransport(
    const std::string& name, const google::protobuf::Any& config,
    const std::string& field);
absl::StatusOr<std::unique_ptr<IngressTransport>> CreateIngressTransport(
    const std::string& name, const google::protobuf::Any& config,
    const std::string& field);

}  // namespace sild::connectors

#define SILD_CONNECTORS_CONCAT_INNER_(a, b) a##b
#define SILD_CONNECTORS_CONCAT_(a, b) SILD_CONNECTORS_CONCAT_INNER_(a, b)
#define SILD_REGISTER_CODEC_FACTORY(Impl)      \
  static ::sild::connectors::FactoryRegistrar< \
      ::sild::connectors::CodecFactory, Impl>  \
  SILD_CONNECTORS_CONCAT_(sild_codec_registrar_, __LINE__)
#define SILD_REGISTER_EGRESS_TRANSPORT_FACTORY(Impl)    \
  static ::sild::connectors::FactoryRegistrar<          \
      ::sild::connectors::EgressTransportFactory, Impl> \
  SILD_CONNECTORS_CONCAT_(sild_egress_registrar_, __LINE__)
#define SILD_REGISTER_INGRESS_TRANSPORT_FACTORY(Impl)    \
  static ::sild::connectors::FactoryRegistrar<           \
      ::sild::connectors::IngressTransportFactory, Impl> \
  SILD_CONNECTORS_CONCAT_(sild_ingress_registrar_, __LINE__)

#endif  // SILD_CONNECTORS_SDK_REGISTRY_H_
