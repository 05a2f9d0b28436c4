// What deciding against the consent registry in the store costs, and why
// the exchange decides inside its write with Decide(request, reader) on one
// engine rather than building an engine per call.
//
//   ninja -C build consent_decide_bench
//   build/tests/bench/consent_decide_bench
//
// BM_BuildDecisionEngine: constructing a DecisionEngine from the demo rules.
// BM_DecideInMemory:       Decide() over InMemoryConsentReader (baseline).
// BM_DecideThroughStore:   Decide() over StoreConsentReader (a read
//                          transaction, pseudonym, AES-GCM open per consent).
// BM_DecideInTxn:          Decide(request, TxnConsentReader) inside one write
//                          request on the writer thread, per decision.
// BM_DecideInTxnCached:    the same with the writer's consent cache (as the
//                          gateway runs on SQLite): the subject's consents
//                          are read and unsealed once, then kept.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "benchmark/benchmark.h"
#include "gateway/audit/audit_log.h"
#include "gateway/consent/consent_registry.h"
#include "gateway/consent/consent_validation.h"
#include "gateway/consent/store_consent_reader.h"
#include "gateway/consent/writer_consent_cache.h"
#include "gateway/policy/decision.h"
#include "gateway/policy/in_memory_consent_reader.h"
#include "google/protobuf/text_format.h"

namespace sild {
namespace {

constexpr char kChild[] = "51205280105";

absl::Time Now() {
  return absl::FromCivil(absl::CivilSecond(2025, 3, 1, 10, 0, 0),
                         absl::UTCTimeZone());
}

config::v1::GatewayConfig Config(const std::string& dir) {
  const std::string pki = std::string(SILD_BINARY_DIR) + "/test-pki";
  config::v1::GatewayConfig config;
  google::protobuf::TextFormat::ParseFromString(
      absl::StrCat(
          "store { sqlite { path: \"", dir,
          "/bench.db\" } payload_key_file: \"", pki, "/gateway-store.key\" }",
          R"pb(
            consent_policy {
              self_consent_age: 15
              representative_relations: REPRESENTATIVE_RELATION_PARENT
            }
            rules {
              id: "child-protection-notification"
              citation: "Child Protection Act § 27"
              recipient_kinds: AGENCY_KIND_CHILD_PROTECTION
              purposes: PURPOSE_CHILD_PROTECTION_NOTIFICATION
              categories: DATA_CATEGORY_IDENTITY
            }
            rules {
              id: "education-transition"
              citation: "Basic Schools and Upper Secondary Schools Act § 58"
              sender_kinds: AGENCY_KIND_SCHOOL
              recipient_kinds: AGENCY_KIND_SCHOOL
              purposes: PURPOSE_EDUCATION_TRANSITION
              categories: DATA_CATEGORY_EDUCATION
            }
          )pb"),
      &config);
  return config;
}

v1::Consent Consent(int i) {
  v1::Consent c;
  c.mutable_subject()->set_value(kChild);
  c.mutable_grantor()->mutable_representative()->set_relation(
      v1::REPRESENTATIVE_RELATION_PARENT);
  c.mutable_recipients()->add_registry_codes(i == 0 ? "75001046" : "75001052");
  c.add_purposes(v1::PURPOSE_SUPPORT_SERVICE);
  c.add_data_categories(v1::DATA_CATEGORY_HEALTH);
  c.add_data_categories(v1::DATA_CATEGORY_EDUCATION);
  c.mutable_valid_from()->set_seconds(absl::ToUnixSeconds(Now()) - 3600);
  return c;
}

DecisionRequest Request() {
  DecisionRequest r;
  r.sender.set_registry_code("75001017");
  r.sender.set_kind(v1::AGENCY_KIND_SCHOOL);
  r.recipient.set_registry_code("75001046");
  r.recipient.set_kind(v1::AGENCY_KIND_SCHOOL_HEALTH);
  r.purpose = v1::PURPOSE_SUPPORT_SERVICE;
  r.subject_personal_code = kChild;
  r.message_kind = v1::MESSAGE_KIND_REFERRAL;
  r.requested = {v1::DATA_CATEGORY_HEALTH, v1::DATA_CATEGORY_EDUCATION};
  r.time = Now();
  return r;
}

// A store holding three consents of the subject (one for the recipient).
struct Fixture {
  Fixture() : clock(Now()) {
    dir = absl::StrCat(SILD_BINARY_DIR, "/test-tmp/consent-bench-", getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    config = Config(dir);
    store = *Store::Open(config.store(), &clock,
                         {AuditLog::Schema(), ConsentRegistry::Schema()});
    AuditLog::Options options;
    options.chain_id = "bench";
    const std::string pki = std::string(SILD_BINARY_DIR) + "/test-pki";
    options.signing_key_file = pki + "/gateway-audit-signing.key";
    options.pseudonym_key_file = pki + "/gateway-pseudonym.key";
    audit_log = *AuditLog::Open(store.get(), options);
    store->writer().AddParticipant(audit_log.get());
    store->writer().AddParticipant(&writer_cache);
    store->Start();
    registry = std::make_unique<ConsentRegistry>(store.get(), audit_log.get());
    cached_registry =
        std::make_unique<ConsentRegistry>(store.get(), audit_log.get());
    cached_registry->UseWriterCache(&writer_cache);
    ConsentActor actor;
    actor.agency.set_registry_code("75001023");
    for (int i = 0; i < 3; ++i) {
      v1::Consent prepared = *PrepareConsentGrant(
          Consent(i), config.consent_policy(), Now(), absl::UTCTimeZone());
      (void)store->writer().Run([&](WriteTxn& txn) {
        auto change = registry->Grant(txn, actor, prepared);
        if (change.ok()) memory.Put(change->consent);
        return change.status();
      });
    }
  }
  ~Fixture() { store->Close(); }

  ManualClock clock;
  std::string dir;
  config::v1::GatewayConfig config;
  std::unique_ptr<Store> store;
  std::unique_ptr<AuditLog> audit_log;
  std::unique_ptr<ConsentRegistry> registry;
  WriterConsentCache writer_cache;
  std::unique_ptr<ConsentRegistry> cached_registry;
  InMemoryConsentReader memory;
};

Fixture& Shared() {
  static Fixture* fixture = new Fixture();
  return *fixture;
}

void BM_BuildDecisionEngine(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    DecisionEngine engine(f.config, &f.memory);
    benchmark::DoNotOptimize(&engine);
  }
}
BENCHMARK(BM_BuildDecisionEngine);

void BM_DecideInMemory(benchmark::State& state) {
  Fixture& f = Shared();
  DecisionEngine engine(f.config, &f.memory);
  DecisionRequest request = Request();
  for (auto _ : state) {
    Decision d = engine.Decide(request);
    if (!d.allow) state.SkipWithError("expected ALLOW");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecideInMemory);

void BM_DecideThroughStore(benchmark::State& state) {
  Fixture& f = Shared();
  StoreConsentReader reader(f.store.get(), f.registry.get());
  DecisionEngine engine(f.config, &reader);
  DecisionRequest request = Request();
  for (auto _ : state) {
    Decision d = engine.Decide(request);
    if (!d.allow) state.SkipWithError("expected ALLOW");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecideThroughStore);

// Decisions inside one writer transaction, 1,000 per write, read through
// `registry` (with or without the writer's consent cache).
void DecideInTxn(benchmark::State& state, const ConsentRegistry& registry) {
  Fixture& f = Shared();
  DecisionEngine engine(f.config, nullptr);
  DecisionRequest request = Request();
  const int per_write = 1000;
  for (auto _ : state) {
    (void)f.store->writer().Run([&](WriteTxn& txn) {
      TxnConsentReader reader(txn, registry);
      for (int i = 0; i < per_write; ++i) {
        Decision d = engine.Decide(request, reader);
        benchmark::DoNotOptimize(d);
      }
      return absl::OkStatus();
    });
  }
  state.SetItemsProcessed(state.iterations() * per_write);
}

void BM_DecideInTxn(benchmark::State& state) {
  DecideInTxn(state, *Shared().registry);
}
BENCHMARK(BM_DecideInTxn)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DecideInTxnCached(benchmark::State& state) {
  DecideInTxn(state, *Shared().cached_registry);
}
BENCHMARK(BM_DecideInTxnCached)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace sild

BENCHMARK_MAIN();
