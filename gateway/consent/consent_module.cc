#include "gateway/consent/consent_module.h"

#include "gateway/consent/consent_registry.h"
#include "gateway/consent/consent_service.h"
#include "gateway/consent/store_consent_reader.h"
#include "gateway/policy/decision.h"

namespace sild {
namespace {

class ConsentModule final : public GatewayModule {
 public:
  std::string name() const override { return "consent"; }

  std::vector<Migration> Migrations() const override {
    return {ConsentRegistry::Schema()};
  }

  absl::Status Init(GatewayComponents& components) override {
    registry_ = std::make_unique<ConsentRegistry>(components.store,
                                                  components.audit_log);
    if (components.store->backend() == "sqlite") {
      // One writer for the whole database: it sees every consent change.
      components.store->writer().AddParticipant(&writer_cache_);
      registry_->UseWriterCache(&writer_cache_);
    }
    reader_ =
        std::make_unique<StoreConsentReader>(components.store, registry_.get());
    decisions_ =
        std::make_unique<DecisionEngine>(components.config, reader_.get());
    components.consent_reader = reader_.get();
    components.decisions = decisions_.get();
    const ConsentRegistry* registry = registry_.get();
    const DecisionEngine* decisions = decisions_.get();
    components.decide_in_txn =
        [registry, decisions](WriteTxn& txn, const DecisionRequest& request) {
          return decisions->Decide(request, TxnConsentReader(txn, *registry));
        };
    components.record_disclosure = [registry](WriteTxn& txn,
                                              const v1::ConsentRef& consent,
                                              const std::string& recipient,
                                              const std::string& message_id) {
      return registry->RecordDisclosure(
          txn, consent.consent_id(), consent.version(), recipient, message_id);
    };
    service_ = std::make_unique<ConsentServiceImpl>(ConsentServiceDeps{
        &components.config, components.clock, components.directory,
        components.store, registry_.get(), decisions_.get()});
    return absl::OkStatus();
  }

  std::vector<grpc::Service*> Services() override { return {service_.get()}; }

  std::vector<std::string> ServiceNames() const override {
    return {"sild.v1.ConsentService"};
  }

 private:
  WriterConsentCache writer_cache_;
  std::unique_ptr<ConsentRegistry> registry_;
  std::unique_ptr<StoreConsentReader> reader_;
  std::unique_ptr<DecisionEngine> decisions_;
  std::unique_ptr<ConsentServiceImpl> service_;
};

}  // namespace

std::unique_ptr<GatewayModule> MakeConsentModule() {
  return std::make_unique<ConsentModule>();
}

}  // namespace sild
