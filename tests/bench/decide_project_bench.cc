// Per-recipient cost of the policy stage: Decide() plus minimisation of a
// realistic referral (a basic school refers a 14-year-old to the municipal
// social services: subject, parent, four risk indicators incl. one health,
// summary, professional), with five consents on record for the subject.
//
//   ninja -C build tests/bench/decide_project_bench
//   build/tests/bench/decide_project_bench --benchmark_min_time=1
//
// Target: under 5 microseconds per recipient (BM_DecideAndProject).
#include <vector>

#include "absl/time/civil_time.h"
#include "benchmark/benchmark.h"
#include "gateway/minimise/projector.h"
#include "gateway/policy/decision.h"
#include "gateway/policy/in_memory_consent_reader.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/text_format.h"
#include "tests/testing/sample_messages.h"

namespace sild {
namespace {

absl::Time At(int y, int m, int d) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, 9, 0, 0),
                         absl::UTCTimeZone());
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

config::v1::GatewayConfig Config() {
  config::v1::GatewayConfig config;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        rules {
          id: "cp-notify"
          citation: "Child Protection Act § 27 (1)"
          sender_kinds: [ AGENCY_KIND_SCHOOL, AGENCY_KIND_SCHOOL_HEALTH ]
          recipient_kinds: [ AGENCY_KIND_CHILD_PROTECTION ]
          purposes: [ PURPOSE_CHILD_PROTECTION_NOTIFICATION ]
          message_kinds: [ MESSAGE_KIND_REFERRAL, MESSAGE_KIND_ESCALATION ]
          categories: [
            DATA_CATEGORY_IDENTITY,
            DATA_CATEGORY_CONTACT,
            DATA_CATEGORY_EDUCATION,
            DATA_CATEGORY_SOCIAL_WELFARE
          ]
        }
        rules {
          id: "yg-transition"
          citation: "Labour Market Services and Benefits Act § 10"
          sender_kinds: [ AGENCY_KIND_SCHOOL, AGENCY_KIND_VOCATIONAL_SCHOOL ]
          recipient_kinds: [ AGENCY_KIND_UNEMPLOYMENT_INSURANCE_FUND ]
          purposes: [ PURPOSE_YOUTH_GUARANTEE ]
          message_kinds: [ MESSAGE_KIND_TRANSITION ]
          categories: [
            DATA_CATEGORY_IDENTITY,
            DATA_CATEGORY_CONTACT,
            DATA_CATEGORY_EDUCATION
          ]
        }
        consent_policy {
          self_consent_age: 15
          representative_relations: [
            REPRESENTATIVE_RELATION_PARENT,
            REPRESENTATIVE_RELATION_GUARDIAN
          ]
        }
      )pb",
      &config);
  return config;
}

v1::Consent Consent(const char* id, v1::ConsentStatus status) {
  v1::Consent c;
  c.set_consent_id(id);
  c.set_version(2);
  c.mutable_subject()->set_scheme(v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  c.mutable_subject()->set_value(testing::kSamplePupilCode);
  c.mutable_grantor()->mutable_representative()->set_relation(
      v1::REPRESENTATIVE_RELATION_PARENT);
  c.mutable_grantor()
      ->mutable_representative()
      ->mutable_person()
      ->set_family_name("Tamm");
  c.mutable_recipients()->add_registry_codes(
      testing::kSampleSocialServicesCode);
  c.add_purposes(v1::PURPOSE_SUPPORT_SERVICE);
  c.add_purposes(v1::PURPOSE_CASE_MANAGEMENT);
  for (v1::DataCategory category :
       {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_CONTACT,
        v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_BEHAVIOUR,
        v1::DATA_CATEGORY_SOCIAL_WELFARE, v1::DATA_CATEGORY_FREE_TEXT}) {
    c.add_data_categories(category);
  }
  *c.mutable_valid_from() = Ts(At(2025, 9, 1));
  *c.mutable_valid_until() = Ts(At(2026, 8, 31));
  c.set_status(status);
  c.set_external_reference("nk-2025-88412");
  *c.mutable_recorded_by() = testing::SampleSchool();
  *c.mutable_recorded_time() = Ts(At(2025, 9, 1));
  *c.mutable_updated_time() = Ts(At(2025, 9, 1));
  return c;
}

struct Fixture {
  Fixture() : engine(Config(), &reader) {
    // Five consents: the one that applies (no health), an older withdrawn
    // one, one for school health care, an expired one, a pending request.
    reader.Put(Consent("c-social", v1::CONSENT_STATUS_APPROVED));
    reader.Put(Consent("c-old", v1::CONSENT_STATUS_WITHDRAWN));
    v1::Consent health = Consent("c-health", v1::CONSENT_STATUS_APPROVED);
    health.mutable_recipients()->clear_registry_codes();
    health.mutable_recipients()->add_kinds(v1::AGENCY_KIND_SCHOOL_HEALTH);
    health.add_data_categories(v1::DATA_CATEGORY_HEALTH);
    reader.Put(health);
    v1::Consent expired = Consent("c-2024", v1::CONSENT_STATUS_APPROVED);
    *expired.mutable_valid_until() = Ts(At(2025, 6, 30));
    reader.Put(expired);
    reader.Put(Consent("c-yg", v1::CONSENT_STATUS_REQUESTED));

    referral = testing::SampleReferral();
    request.sender = testing::SampleSchool();
    request.recipient = testing::SampleSocialServices();
    request.purpose = v1::PURPOSE_SUPPORT_SERVICE;
    request.subject_personal_code = testing::kSamplePupilCode;
    request.message_kind = v1::MESSAGE_KIND_REFERRAL;
    request.requested = Projector::Default().CategoriesPresent(referral);
    request.time = At(2026, 3, 2);
  }

  InMemoryConsentReader reader;
  DecisionEngine engine;
  v1::Referral referral;
  DecisionRequest request;
};

Fixture& F() {
  static Fixture* fixture = new Fixture();
  return *fixture;
}

// Once per message, before the per-recipient loop.
void BM_CategoriesPresent(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        Projector::Default().CategoriesPresent(f.referral));
  }
}
BENCHMARK(BM_CategoriesPresent);

// For comparison: what reading the five consents costs through
// ConsentsForSubject, which returns copies. BM_Decide does not pay it: the
// engine calls VisitConsentsForSubject, which the in-memory reader serves
// without copying. A store that only implements ConsentsForSubject adds this
// (plus its own query) to every decision.
void BM_ReadConsents(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    auto consents = f.reader.ConsentsForSubject(testing::kSamplePupilCode);
    benchmark::DoNotOptimize(consents);
  }
}
BENCHMARK(BM_ReadConsents);

void BM_Decide(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    Decision d = f.engine.Decide(f.request);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_Decide);

void BM_ProjectCopy(benchmark::State& state) {
  Fixture& f = F();
  const CategorySet permitted = f.engine.Decide(f.request).permitted;
  v1::Referral out;
  for (auto _ : state) {
    Projector::Default().ProjectCopy(permitted, f.referral, &out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_ProjectCopy);

// The per-recipient work of the exchange pipeline: decide, then a minimised
// copy for that recipient (into a message reused across recipients).
void BM_DecideAndProject(benchmark::State& state) {
  Fixture& f = F();
  v1::Referral out;
  for (auto _ : state) {
    Decision d = f.engine.Decide(f.request);
    if (d.allow)
      Projector::Default().ProjectCopy(d.permitted, f.referral, &out);
    benchmark::DoNotOptimize(out);
  }
  state.counters["recipients/s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecideAndProject);

// As above with each recipient's copy on an arena whose first block is
// reused, as a pipeline that serialises the copy and drops it would do.
void BM_DecideAndProjectOnArena(benchmark::State& state) {
  Fixture& f = F();
  std::vector<char> block(32 * 1024);
  google::protobuf::ArenaOptions options;
  options.initial_block = block.data();
  options.initial_block_size = block.size();
  for (auto _ : state) {
    google::protobuf::Arena arena(options);
    Decision d = f.engine.Decide(f.request);
    auto* out = google::protobuf::Arena::CreateMessage<v1::Referral>(&arena);
    if (d.allow) Projector::Default().ProjectCopy(d.permitted, f.referral, out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_DecideAndProjectOnArena);

// As above with a fresh output message per recipient (no reuse).
void BM_DecideAndProjectFreshCopy(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    Decision d = f.engine.Decide(f.request);
    v1::Referral out;
    if (d.allow)
      Projector::Default().ProjectCopy(d.permitted, f.referral, &out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_DecideAndProjectFreshCopy);

}  // namespace
}  // namespace sild

BENCHMARK_MAIN();
