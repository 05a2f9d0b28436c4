// Audit verification and chain append throughput.
//
//   ninja -C build-audit audit_verify_bench
//   build-audit/tests/bench/audit_verify_bench
//   SILD_AUDIT_BENCH_BUNDLE=/tmp/million.sildaudit
//       build-audit/tests/bench/audit_verify_bench --benchmark_filter=none
// (the variable on the same command line) also writes that bundle.
//
// The bundle of one million records is built once (a few seconds) and
// shared by the verification benchmarks; the records/s counters are the
// figures docs/audit.md quotes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "gateway/audit/bundle.h"
#include "gateway/audit/canonical.h"
#include "gateway/audit/chain.h"
#include "gateway/audit/checkpoint.h"
#include "gateway/audit/verifier.h"
#include "tests/gateway/audit/audit_test_util.h"

namespace sild::audit {
namespace {

constexpr int64_t kBundleRecords = 1000000;
constexpr int64_t kCheckpointEvery = 1000;  // the gateway's default

// One million records with a checkpoint every 1000 and one at the end,
// assembled in place to keep a single copy in memory.
}  // namespace

const sild::v1::AuditBundle& MillionRecordBundle() {
  static const sild::v1::AuditBundle* const bundle = [] {
    auto* out = new sild::v1::AuditBundle;
    const CheckpointSigner signer = testing::NewSigner();
    AuditChain chain = *AuditChain::Create("sild-1");
    out->mutable_records()->Reserve(kBundleRecords);
    for (int64_t i = 1; i <= kBundleRecords; ++i) {
      *out->add_records() = *chain.Append(testing::Draft(i));
      if (i % kCheckpointEvery == 0 || i == kBundleRecords) {
        const auto& cps = out->checkpoints();
        const sild::v1::AuditCheckpoint* previous =
            cps.empty() ? nullptr : &cps[cps.size() - 1];
        *out->add_checkpoints() =
            *signer.SignHead(chain, testing::TimeAt(1767225600 + i), previous);
      }
    }
    out->set_chain_id("sild-1");
    out->set_first_sequence(1);
    out->set_last_sequence(kBundleRecords);
    out->set_anchor_previous_hash(GenesisHash());
    out->set_public_key_pem(signer.public_key_pem());
    *out->mutable_exported_time() = testing::TimeAt(1767312000);
    return out;
  }();
  return *bundle;
}

namespace {

void BM_VerifyBundle(benchmark::State& state) {
  const sild::v1::AuditBundle& bundle = MillionRecordBundle();
  for (auto _ : state) {
    const VerifyReport report = Verify(bundle);
    if (!report.ok()) state.SkipWithError(report.Describe().c_str());
    benchmark::DoNotOptimize(report.records_verified);
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(bundle.records_size()) * state.iterations(),
      benchmark::Counter::kIsRate);
  state.counters["checkpoints"] = bundle.checkpoints_size();
}
BENCHMARK(BM_VerifyBundle)->Unit(benchmark::kMillisecond)->UseRealTime();

// What `sild-audit verify` does after reading the file: parse, then verify.
void BM_ParseAndVerifyBundle(benchmark::State& state) {
  const std::string file = *SerializeBundle(MillionRecordBundle());
  for (auto _ : state) {
    absl::StatusOr<sild::v1::AuditBundle> bundle = ParseBundle(file);
    const VerifyReport report = Verify(*bundle);
    if (!report.ok()) state.SkipWithError(report.Describe().c_str());
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(kBundleRecords) * state.iterations(),
      benchmark::Counter::kIsRate);
  state.counters["MiB"] = static_cast<double>(file.size()) / (1 << 20);
}
BENCHMARK(BM_ParseAndVerifyBundle)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same with the bundle on an arena, as sild-audit parses it.
void BM_ParseOnArenaAndVerifyBundle(benchmark::State& state) {
  const std::string file = *SerializeBundle(MillionRecordBundle());
  for (auto _ : state) {
    google::protobuf::Arena arena;
    absl::StatusOr<sild::v1::AuditBundle*> bundle = ParseBundle(file, arena);
    const VerifyReport report = Verify(**bundle);
    if (!report.ok()) state.SkipWithError(report.Describe().c_str());
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(kBundleRecords) * state.iterations(),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParseOnArenaAndVerifyBundle)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Sealing records as the store's writer does (hashing only: no storage,
// no signatures). Includes copying the draft into Append.
void BM_ChainAppend(benchmark::State& state) {
  std::vector<sild::v1::AuditRecord> drafts;
  for (int i = 1; i <= 1024; ++i) drafts.push_back(testing::Draft(i));
  AuditChain chain = *AuditChain::Create("sild-1");
  size_t next = 0;
  for (auto _ : state) {
    absl::StatusOr<sild::v1::AuditRecord> sealed =
        chain.Append(drafts[next++ & 1023]);
    benchmark::DoNotOptimize(sealed);
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ChainAppend);

// The hash alone: canonical bytes plus two SHA-256 computations.
void BM_RecordHash(benchmark::State& state) {
  AuditChain chain = *AuditChain::Create("sild-1");
  const sild::v1::AuditRecord record = *chain.Append(testing::Draft(1));
  RecordHasher hasher = *RecordHasher::Create();
  Digest digest;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hasher.Hash(record, digest));
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["canonical_bytes"] =
      static_cast<double>(CanonicalRecord(record).size());
}
BENCHMARK(BM_RecordHash);

void BM_SignCheckpoint(benchmark::State& state) {
  const CheckpointSigner signer = testing::NewSigner();
  AuditChain chain = *AuditChain::Create("sild-1");
  chain.Append(testing::Draft(1)).IgnoreError();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        signer.SignHead(chain, testing::TimeAt(1767225600), nullptr));
  }
}
BENCHMARK(BM_SignCheckpoint);

}  // namespace
}  // namespace sild::audit

// SILD_AUDIT_BENCH_BUNDLE=path also writes the million-record bundle there,
// for trying `sild-audit verify` on a large file.
int main(int argc, char** argv) {
  if (const char* path = std::getenv("SILD_AUDIT_BENCH_BUNDLE")) {
    const absl::Status written =
        sild::audit::WriteBundleFile(sild::audit::MillionRecordBundle(), path);
    if (!written.ok()) {
      std::fprintf(stderr, "%s\n", written.ToString().c_str());
      return 1;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
