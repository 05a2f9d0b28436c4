// Audit trail throughput in the real store: appending records inside group
// commits (SQLite file, WAL, synchronous=FULL) from 1, 8 and 64 client
// threads, and verifying a million stored records (the auditor service's
// Verify path). Run as docs/audit.md says; the files live in a temporary
// folder that is removed afterwards.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "gateway/audit/audit_log.h"
#include "gateway/auditsvc/store_verifier.h"
#include "gateway/base/clock.h"
#include "gateway/base/log.h"

namespace sild {
namespace {

using sild::v1::AuditRecord;

std::string NewSigningKeyPem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// A store with one audit log in a fresh temporary folder.
class BenchStore {
 public:
  explicit BenchStore(int64_t checkpoint_every_records) {
    char pattern[] = "/tmp/sild-audit-bench-XXXXXX";
    dir_ = mkdtemp(pattern);
    Write("signing.pem", NewSigningKeyPem());
    Write("pseudonym.key", std::string(64, 'a'));
    Write("payload.key", std::string(64, 'b'));
    config::v1::StoreConfig config;
    config.mutable_sqlite()->set_path(dir_ + "/sild.db");
    config.set_payload_key_file(dir_ + "/payload.key");
    store_ = *Store::Open(config, RealClock::Get(), {AuditLog::Schema()});
    AuditLog::Options options;
    options.chain_id = "sild-bench";
    options.signing_key_file = dir_ + "/signing.pem";
    options.pseudonym_key_file = dir_ + "/pseudonym.key";
    options.checkpoint_every_records = checkpoint_every_records;
    log_ = *AuditLog::Open(store_.get(), options);
    store_->writer().AddParticipant(log_.get());
    store_->Start();
    key_.emplace(*audit::CheckpointVerifier::FromPublicKeyPem(
        log_->signer().public_key_pem()));
  }
  ~BenchStore() {
    store_->Close();
    log_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A disclosure as the exchange records it.
  AuditRecord Draft(int64_t n) const {
    AuditRecord draft;
    draft.mutable_actor()->set_registry_code("75001017");
    draft.mutable_actor()->set_professional_id(
        absl::StrCat("teacher-", n % 17));
    draft.set_action(sild::v1::AUDIT_ACTION_DISCLOSURE);
    draft.set_message_id(
        absl::StrCat("6f1c2a9e-0000-4000-8000-", 100000000000 + n));
    draft.set_message_kind(sild::v1::MESSAGE_KIND_REFERRAL);
    draft.set_subject_pseudonym(
        log_->Pseudonym(absl::StrCat(50000000000 + n % 5000)));
    draft.set_purpose(sild::v1::PURPOSE_SUPPORT_SERVICE);
    draft.mutable_basis()->mutable_consent()->set_consent_id(
        absl::StrCat("consent-", n));
    draft.mutable_basis()->mutable_consent()->set_version(3);
    draft.add_categories(sild::v1::DATA_CATEGORY_IDENTITY);
    draft.add_categories(sild::v1::DATA_CATEGORY_EDUCATION);
    draft.set_outcome(sild::v1::AUDIT_OUTCOME_ALLOW);
    draft.set_reason_code("OK");
    draft.set_counterparty("75001039");
    draft.set_detail("Disclosed under consent.");
    return draft;
  }

  Store& store() { return *store_; }
  AuditLog& log() { return *log_; }
  const audit::CheckpointVerifier& key() const { return *key_; }

 private:
  void Write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << data;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> log_;
  std::optional<audit::CheckpointVerifier> key_;
};

// Each of state.range(0) client threads Run()s writes that append one audit
// record, as a disclosure does; group commit batches them.
void BM_AppendInGroupCommit(benchmark::State& state) {
  SetLogLevel(LogLevel::kWarning);
  const int threads = static_cast<int>(state.range(0));
  constexpr int kRecordsPerIteration = 1024;
  BenchStore bench(/*checkpoint_every_records=*/1000);
  std::atomic<int64_t> next{0};
  const int64_t batches_before = bench.store().writer().batches();
  const int64_t requests_before = bench.store().writer().requests();
  int64_t failures = 0;
  for (auto _ : state) {
    std::atomic<int64_t> failed{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < threads; ++t) {
      clients.emplace_back([&] {
        for (int i = 0; i < kRecordsPerIteration / threads; ++i) {
          const int64_t n = next++;
          absl::Status s = bench.store().writer().Run([&](WriteTxn& txn) {
            return bench.log().Append(txn, bench.Draft(n)).status();
          });
          if (!s.ok()) ++failed;
        }
      });
    }
    for (auto& client : clients) client.join();
    failures += failed.load();
  }
  const int64_t requests = bench.store().writer().requests() - requests_before;
  const int64_t batches = bench.store().writer().batches() - batches_before;
  if (failures > 0) state.SkipWithError("appends failed");
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(requests), benchmark::Counter::kIsRate);
  state.counters["mean_batch"] =
      batches > 0 ? static_cast<double>(requests) / batches : 0;
}
BENCHMARK(BM_AppendInGroupCommit)
    ->Arg(1)
    ->Arg(8)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1);

// Verification straight from the store (auditsvc::VerifyStore: batched
// reads, record hashes, checkpoint signatures) over a million records with
// a checkpoint every 1000, filled once.
void BM_VerifyStoreMillion(benchmark::State& state) {
  SetLogLevel(LogLevel::kWarning);
  constexpr int64_t kRecords = 1000000;
  constexpr int64_t kPerWrite = 1000;
  BenchStore bench(/*checkpoint_every_records=*/1000);
  for (int64_t first = 0; first < kRecords; first += kPerWrite) {
    absl::Status s = bench.store().writer().Run([&](WriteTxn& txn) {
      for (int64_t n = first; n < first + kPerWrite; ++n) {
        auto sealed = bench.log().Append(txn, bench.Draft(n));
        if (!sealed.ok()) return sealed.status();
      }
      return absl::OkStatus();
    });
    if (!s.ok()) {
      state.SkipWithError("fill failed");
      return;
    }
  }
  int64_t verified = 0;
  for (auto _ : state) {
    auto result = auditsvc::VerifyStore(bench.store(), bench.key(), {});
    if (!result.ok() || !result->ok() ||
        result->records_verified() != kRecords) {
      state.SkipWithError("verification failed");
      return;
    }
    verified += result->records_verified();
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(verified), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifyStoreMillion)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

}  // namespace
}  // namespace sild

BENCHMARK_MAIN();
