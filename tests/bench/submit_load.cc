// submit_load: a closed-loop load generator for sild-gateway's
// ReferralService.Submit and for its baseline, echo_baseline_server.
//
//   submit_load --target localhost:7443 --pki certs/ --service submit
//   submit_load --target localhost:7444 --pki certs/ --service echo --json
//
// Keeps exactly --in-flight unary calls outstanding (callback API: a call
// completes, the next one starts from its callback) spread round-robin over
// --channels mTLS connections (each channel has its own subchannel pool, so
// each is its own TCP + TLS connection). Calls finishing during the warm-up
// are not measured; latency is from issuing a call to its callback.
//
// Submit sends a realistic referral: school 75001017 refers a pupil
// (51205280105, born 2012-05-28) to social services 75001023 for a support
// service, with attendance, behaviour and a health concern (the health
// concern is withheld by minimisation). With --scenario consent (the default)
// social services first records a parent's consent through
// ConsentService.Grant so every decision is ALLOW; --scenario rule sends a
// child protection notification to 75001039 instead, allowed by the demo
// config's legal-basis rule. Every call has its own idempotency key.
// Echo sends a payload of the Submit request's serialized size.
//
// Prints throughput, latency percentiles and errors by status code (--json:
// one JSON object). Exit status: 0 when every call succeeded, 1 when any
// failed or the preflight call was refused, 2 for a bad command line.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "nlohmann/json.hpp"
#include "sild/v1/consent_service.grpc.pb.h"
#include "sild/v1/referral_service.grpc.pb.h"
#include "tests/bench/echo.grpc.pb.h"
#include "tests/testing/sample_messages.h"

namespace sild::bench {
namespace {

constexpr char kUsage[] =
    "usage: submit_load --target HOST:PORT --pki DIR [options]\n"
    "\n"
    "  --service submit|echo   what to call (default submit)\n"
    "  --scenario consent|rule submit: support-service referral allowed by a\n"
    "                          parent's consent granted first (default), or a\n"
    "                          child protection notification allowed by the\n"
    "                          demo config's legal-basis rule\n"
    "  --pki DIR               test PKI (ca.crt, school.crt/.key, ...)\n"
    "  --cert NAME             client certificate of the caller (default "
    "school)\n"
    "  --in-flight N           calls outstanding at any time (default 64)\n"
    "  --channels M            separate mTLS connections (default 4)\n"
    "  --duration S            measured seconds (default 10)\n"
    "  --warmup S              unmeasured seconds first (default 2)\n"
    "  --key-prefix P          idempotency key prefix (default unique per "
    "run)\n"
    "  --server-pid PID        also report that process's CPU time over the\n"
    "                          measured window (Linux /proc)\n"
    "  --json                  one JSON object on stdout\n";

constexpr char kSchool[] = "75001017";
constexpr char kSocialServices[] = "75001023";
constexpr char kChildProtection[] = "75001039";
constexpr char kPupil[] = "51205280105";  // born 2012-05-28
constexpr char kParent[] = "38001012341";

struct Options {
  std::string target;
  std::string service = "submit";
  std::string scenario = "consent";
  std::string pki;
  std::string cert = "school";
  int in_flight = 64;
  int channels = 4;
  double duration_s = 10;
  double warmup_s = 2;
  std::string key_prefix;
  int server_pid = 0;  // 0: the server's CPU is not measured
  bool json = false;
};

// CPU seconds (user + system) this process has used so far.
double SelfCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// CPU seconds (user + system) process `pid` has used so far, from
// /proc/PID/stat; a negative value when it cannot be read.
double ProcessCpuSeconds(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; fields after it are plain.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Fields 3..13 precede utime (14) and stime (15).
  for (int i = 3; i <= 13 && fields >> field; ++i) {
  }
  long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Each channel gets its own subchannel pool and a distinct argument, so gRPC
// never shares one connection between them.
std::shared_ptr<grpc::Channel> MakeChannel(const Options& options,
                                           const std::string& cert, int index) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(options.pki + "/ca.crt");
  ssl.pem_cert_chain = ReadFile(options.pki + "/" + cert + ".crt");
  ssl.pem_private_key = ReadFile(options.pki + "/" + cert + ".key");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("sild.bench.channel_index", index);
  return grpc::CreateCustomChannel(options.target, grpc::SslCredentials(ssl),
                                   args);
}

google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// The referral every Submit sends (the idempotency key is set per call).
sild::v1::SubmitReferralRequest SampleRequest(const Options& options) {
  sild::v1::SubmitReferralRequest request;
  sild::v1::Referral& r = *request.mutable_referral();
  bool rule = options.scenario == "rule";
  // The tests' referral, filled out like a school's form.
  r = testing::SupportReferral(absl::StrCat(options.key_prefix, "-000000000"),
                               kPupil,
                               rule ? kChildProtection : kSocialServices);
  if (rule) {
    r.mutable_header()->set_purpose(
        sild::v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION);
    r.set_service(sild::v1::SERVICE_TYPE_CHILD_PROTECTION_ASSESSMENT);
  }
  r.mutable_subject()->mutable_contact()->set_phone("+372 5555 0101");
  auto* parent = r.add_representatives();
  parent->set_relation(sild::v1::REPRESENTATIVE_RELATION_PARENT);
  parent->mutable_person()->mutable_id()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  parent->mutable_person()->mutable_id()->set_value(kParent);
  parent->mutable_person()->set_given_name("Parent");
  parent->mutable_person()->set_family_name("Tamm");
  auto* attendance = r.mutable_risk_indicators(0)->mutable_attendance();
  attendance->set_school_year(2026);
  attendance->set_quarter(2);
  attendance->set_excused_absences(4);
  // Academic and behaviour before the health concern, as the form has them.
  sild::v1::RiskIndicator health = r.risk_indicators(1);
  r.mutable_risk_indicators()->RemoveLast();
  r.add_risk_indicators()->mutable_academic()->add_failing_subjects(
      "mathematics");
  auto* behaviour = r.add_risk_indicators()->mutable_behaviour();
  behaviour->set_incidents(2);
  behaviour->set_description("Withdrawn in class, left lessons early twice.");
  *r.add_risk_indicators() = health;
  r.set_urgency(sild::v1::URGENCY_ROUTINE);
  r.set_summary("Absent most Mondays since October; parents agree to support.");
  r.mutable_requested_by()->set_id("teacher-17");
  r.mutable_requested_by()->set_name("Teacher Kask");
  r.mutable_requested_by()->set_role("class teacher");
  r.mutable_requested_by()->set_email("kask@raasiku.example");
  r.set_municipality("Raasiku vald");
  r.mutable_current_institution()->set_registry_code(kSchool);
  r.mutable_education_stage()->set_level(
      sild::v1::EDUCATION_LEVEL_BASIC_GRADES_7_9);
  r.mutable_education_stage()->set_grade(7);
  return request;
}

// The parent's consent that makes every support-service referral to social
// services ALLOW (health data is not covered, so it is withheld).
sild::v1::GrantConsentRequest ParentConsent() {
  sild::v1::GrantConsentRequest request;
  sild::v1::Consent& consent = *request.mutable_consent();
  consent.mutable_subject()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  consent.mutable_subject()->set_value(kPupil);
  auto* rep = consent.mutable_grantor()->mutable_representative();
  rep->set_relation(sild::v1::REPRESENTATIVE_RELATION_PARENT);
  rep->mutable_person()->mutable_id()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  rep->mutable_person()->mutable_id()->set_value(kParent);
  rep->mutable_person()->set_given_name("Parent");
  rep->mutable_person()->set_family_name("Tamm");
  consent.mutable_recipients()->add_registry_codes(kSocialServices);
  consent.add_purposes(sild::v1::PURPOSE_SUPPORT_SERVICE);
  for (auto category :
       {sild::v1::DATA_CATEGORY_IDENTITY, sild::v1::DATA_CATEGORY_CONTACT,
        sild::v1::DATA_CATEGORY_EDUCATION, sild::v1::DATA_CATEGORY_BEHAVIOUR,
        sild::v1::DATA_CATEGORY_FREE_TEXT}) {
    consent.add_data_categories(category);
  }
  absl::Time now = absl::Now();
  *consent.mutable_valid_from() = At(now - absl::Hours(1));
  *consent.mutable_valid_until() = At(now + absl::Hours(24 * 30));
  return request;
}

std::string Trailer(const grpc::ClientContext& context, const char* key) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(key);
  return it == trailers.end()
             ? std::string()
             : std::string(it->second.data(), it->second.size());
}

std::string Describe(const grpc::Status& status,
                     const grpc::ClientContext& context) {
  std::string reason = Trailer(context, "sild-reason");
  return absl::StrCat(status.error_code(), " ",
                      reason.empty() ? "" : absl::StrCat(reason, ": "),
                      status.error_message());
}

struct Result {
  int64_t ok = 0;
  // Completions (any status) inside the measured window.
  int64_t measured = 0;
  std::map<int, int64_t> errors;
  std::map<int, std::string> first_error;
  std::vector<int64_t> latencies_us;
  double window_s = 0;
  // CPU used inside the measured window; server_cpu_s < 0 when unmeasured.
  double load_cpu_s = 0;
  double server_cpu_s = -1;
};

const char* CodeName(int code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "?";
}

// The closed loop. Each of the in-flight slots runs one call at a time and
// starts its next call from the previous call's callback.
class LoadRun {
 public:
  LoadRun(const Options& options,
          std::vector<std::shared_ptr<grpc::Channel>> channels)
      : options_(options) {
    for (auto& channel : channels) {
      submit_stubs_.push_back(sild::v1::ReferralService::NewStub(channel));
      echo_stubs_.push_back(v1::EchoService::NewStub(channel));
    }
    submit_template_ = SampleRequest(options);
    size_t size = submit_template_.ByteSizeLong();
    // Echo request of the same serialized size: tag + length + payload.
    size_t payload = size > 3 ? size - 3 : 0;
    echo_template_.set_payload(std::string(payload, 'x'));
    while (echo_template_.ByteSizeLong() > size && payload > 0) {
      echo_template_.set_payload(std::string(--payload, 'x'));
    }
  }

  size_t request_bytes() const {
    return options_.service == "echo" ? echo_template_.ByteSizeLong()
                                      : submit_template_.ByteSizeLong();
  }

  Result Run() {
    start_ = absl::Now();
    measure_from_ = start_ + absl::Seconds(options_.warmup_s);
    measure_until_ = measure_from_ + absl::Seconds(options_.duration_s);
    result_.latencies_us.reserve(1 << 20);
    {
      absl::MutexLock lock(&mu_);
      active_ = options_.in_flight;
    }
    for (int slot = 0; slot < options_.in_flight; ++slot) Issue(slot);
    // The calls run on gRPC's threads; this one samples CPU time at the
    // edges of the measured window.
    absl::SleepFor(measure_from_ - absl::Now());
    const double load_from = SelfCpuSeconds();
    const double server_from =
        options_.server_pid > 0 ? ProcessCpuSeconds(options_.server_pid) : -1;
    absl::SleepFor(measure_until_ - absl::Now());
    const double load_until = SelfCpuSeconds();
    const double server_until =
        options_.server_pid > 0 ? ProcessCpuSeconds(options_.server_pid) : -1;
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* active) { return *active == 0; }, &active_));
    result_.window_s = options_.duration_s;
    result_.load_cpu_s = load_until - load_from;
    if (server_from >= 0 && server_until >= 0) {
      result_.server_cpu_s = server_until - server_from;
    }
    return result_;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    sild::v1::SubmitReferralRequest submit_request;
    sild::v1::Receipt receipt;
    v1::EchoMessage echo_request;
    v1::EchoMessage echo_response;
    absl::Time started;
    int slot = 0;
  };

  void Issue(int slot) {
    absl::Time now = absl::Now();
    if (now >= measure_until_) {
      absl::MutexLock lock(&mu_);
      --active_;
      return;
    }
    auto* call = new Call;
    call->slot = slot;
    call->context.set_deadline(absl::ToChronoTime(now + absl::Seconds(30)));
    call->context.AddMetadata("x-sild-professional-id", "teacher-17");
    size_t channel = static_cast<size_t>(slot) % submit_stubs_.size();
    auto done = [this, call](grpc::Status status) { Done(call, status); };
    call->started = absl::Now();
    if (options_.service == "echo") {
      call->echo_request = echo_template_;
      echo_stubs_[channel]->async()->Echo(&call->context, &call->echo_request,
                                          &call->echo_response, done);
    } else {
      call->submit_request = submit_template_;
      call->submit_request.mutable_referral()
          ->mutable_header()
          ->set_idempotency_key(
              absl::StrCat(options_.key_prefix, "-", next_key_++));
      submit_stubs_[channel]->async()->Submit(
          &call->context, &call->submit_request, &call->receipt, done);
    }
  }

  void Done(Call* call, const grpc::Status& status) {
    absl::Time now = absl::Now();
    int slot = call->slot;
    {
      absl::MutexLock lock(&mu_);
      bool measured = now >= measure_from_ && now < measure_until_;
      if (status.ok()) {
        ++result_.ok;
      } else {
        ++result_.errors[status.error_code()];
        result_.first_error.emplace(status.error_code(),
                                    Describe(status, call->context));
      }
      if (measured) {
        ++result_.measured;
        if (status.ok()) {
          result_.latencies_us.push_back(
              absl::ToInt64Microseconds(now - call->started));
        }
      }
    }
    delete call;
    Issue(slot);
  }

  const Options& options_;
  std::vector<std::unique_ptr<sild::v1::ReferralService::Stub>> submit_stubs_;
  std::vector<std::unique_ptr<v1::EchoService::Stub>> echo_stubs_;
  sild::v1::SubmitReferralRequest submit_template_;
  v1::EchoMessage echo_template_;
  std::atomic<int64_t> next_key_{0};
  absl::Time start_, measure_from_, measure_until_;

  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  Result result_ ABSL_GUARDED_BY(mu_);
};

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)] / 1000.0;
}

// One synchronous call before the run: the consent grant (consent scenario)
// and one call of the measured kind, so a refusal is reported once and
// clearly instead of as thousands of errors.
bool Preflight(const Options& options, grpc::Channel* channel) {
  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
    std::cerr << "submit_load: cannot connect to " << options.target << "\n";
    return false;
  }
  if (options.service == "echo") {
    grpc::ClientContext context;
    v1::EchoMessage request, response;
    request.set_payload("preflight");
    grpc::Status status = v1::EchoService::NewStub(channel->shared_from_this())
                              ->Echo(&context, request, &response);
    if (!status.ok()) {
      std::cerr << "submit_load: echo refused: " << Describe(status, context)
                << "\n";
      return false;
    }
    return true;
  }
  if (options.scenario == "consent") {
    auto recorder = MakeChannel(options, "social-services", -1);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    sild::v1::GrantConsentResponse response;
    grpc::Status status = sild::v1::ConsentService::NewStub(recorder)->Grant(
        &context, ParentConsent(), &response);
    if (!status.ok()) {
      std::cerr << "submit_load: consent grant refused: "
                << Describe(status, context) << "\n";
      return false;
    }
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  sild::v1::SubmitReferralRequest request = SampleRequest(options);
  request.mutable_referral()->mutable_header()->set_idempotency_key(
      absl::StrCat(options.key_prefix, "-preflight"));
  sild::v1::Receipt receipt;
  grpc::Status status =
      sild::v1::ReferralService::NewStub(channel->shared_from_this())
          ->Submit(&context, request, &receipt);
  if (!status.ok()) {
    std::cerr << "submit_load: submit refused: " << Describe(status, context)
              << "\n";
    return false;
  }
  for (const auto& outcome : receipt.recipients()) {
    if (!outcome.allowed()) {
      std::cerr << "submit_load: recipient "
                << outcome.recipient().registry_code()
                << " refused: " << outcome.reason_code() << "\n";
      return false;
    }
  }
  return true;
}

bool ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--json") {
      options->json = true;
    } else if (arg == "--target") {
      if (!value(&options->target)) return false;
    } else if (arg == "--service") {
      if (!value(&options->service)) return false;
    } else if (arg == "--scenario") {
      if (!value(&options->scenario)) return false;
    } else if (arg == "--pki") {
      if (!value(&options->pki)) return false;
    } else if (arg == "--cert") {
      if (!value(&options->cert)) return false;
    } else if (arg == "--key-prefix") {
      if (!value(&options->key_prefix)) return false;
    } else if (arg == "--server-pid") {
      if (!value(&v) || !absl::SimpleAtoi(v, &options->server_pid) ||
          options->server_pid <= 0) {
        return false;
      }
    } else if (arg == "--in-flight") {
      if (!value(&v) || !absl::SimpleAtoi(v, &options->in_flight)) return false;
    } else if (arg == "--channels") {
      if (!value(&v) || !absl::SimpleAtoi(v, &options->channels)) return false;
    } else if (arg == "--duration") {
      if (!value(&v) || !absl::SimpleAtod(v, &options->duration_s)) {
        return false;
      }
    } else if (arg == "--warmup") {
      if (!value(&v) || !absl::SimpleAtod(v, &options->warmup_s)) return false;
    } else {
      return false;
    }
  }
  return !options->target.empty() && !options->pki.empty() &&
         (options->service == "submit" || options->service == "echo") &&
         (options->scenario == "consent" || options->scenario == "rule") &&
         options->in_flight > 0 && options->channels > 0 &&
         options->duration_s > 0 && options->warmup_s >= 0;
}

int Main(int argc, char** argv) {
  Options options;
  if (argc > 1 &&
      (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  if (!ParseArgs(argc, argv, &options)) {
    std::cerr << kUsage;
    return 2;
  }
  if (options.key_prefix.empty()) {
    options.key_prefix =
        absl::StrCat("bench-", absl::ToUnixNanos(absl::Now()), "-", getpid());
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < options.channels; ++i) {
    channels.push_back(MakeChannel(options, options.cert, i));
  }
  if (!Preflight(options, channels[0].get())) return 1;
  for (auto& channel : channels) {
    if (!channel->WaitForConnected(
            absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
      std::cerr << "submit_load: cannot connect to " << options.target << "\n";
      return 1;
    }
  }

  LoadRun run(options, channels);
  Result result = run.Run();
  std::sort(result.latencies_us.begin(), result.latencies_us.end());
  const auto& lat = result.latencies_us;
  int64_t measured_ok = static_cast<int64_t>(lat.size());
  double throughput = measured_ok / result.window_s;
  int64_t failed = 0;
  for (const auto& [code, count] : result.errors) failed += count;
  // CPU per measured call: on a saturated machine throughput is the cores
  // divided by the CPU a call costs client and server together.
  auto per_call_us = [&](double cpu_s) {
    return measured_ok > 0 ? cpu_s * 1e6 / static_cast<double>(measured_ok)
                           : 0.0;
  };

  if (options.json) {
    nlohmann::json out;
    out["service"] = options.service;
    if (options.service == "submit") out["scenario"] = options.scenario;
    out["target"] = options.target;
    out["in_flight"] = options.in_flight;
    out["channels"] = options.channels;
    out["duration_s"] = options.duration_s;
    out["warmup_s"] = options.warmup_s;
    out["request_bytes"] = run.request_bytes();
    out["calls_ok"] = result.ok;
    out["calls_failed"] = failed;
    out["measured_calls"] = measured_ok;
    out["throughput_per_s"] = throughput;
    out["latency_ms"] = {{"p50", Percentile(lat, 0.50)},
                         {"p90", Percentile(lat, 0.90)},
                         {"p99", Percentile(lat, 0.99)},
                         {"max", lat.empty() ? 0.0 : lat.back() / 1000.0}};
    nlohmann::json errors = nlohmann::json::object();
    for (const auto& [code, count] : result.errors) {
      errors[CodeName(code)] = {{"count", count},
                                {"first", result.first_error[code]}};
    }
    out["errors"] = errors;
    out["cpu_us_per_call"]["load"] = per_call_us(result.load_cpu_s);
    out["cpu_cores"]["load"] = result.load_cpu_s / result.window_s;
    if (result.server_cpu_s >= 0) {
      out["cpu_us_per_call"]["server"] = per_call_us(result.server_cpu_s);
      out["cpu_cores"]["server"] = result.server_cpu_s / result.window_s;
    }
    std::cout << out.dump() << std::endl;
  } else {
    std::cout << "service:     " << options.service
              << (options.service == "submit"
                      ? absl::StrCat(" (", options.scenario, ")")
                      : std::string())
              << " at " << options.target << "\n"
              << "load:        " << options.in_flight << " in flight over "
              << options.channels << " channels, " << options.warmup_s
              << " s warm-up + " << options.duration_s << " s measured, "
              << run.request_bytes() << "-byte requests\n"
              << "calls:       " << result.ok << " ok, " << failed
              << " failed (" << measured_ok << " measured)\n"
              << "throughput:  " << static_cast<int64_t>(throughput)
              << " calls/s\n"
              << "latency ms:  p50 " << Percentile(lat, 0.50) << "  p90 "
              << Percentile(lat, 0.90) << "  p99 " << Percentile(lat, 0.99)
              << "  max " << (lat.empty() ? 0.0 : lat.back() / 1000.0) << "\n"
              << "cpu/call:    load " << per_call_us(result.load_cpu_s)
              << " us";
    if (result.server_cpu_s >= 0) {
      std::cout << ", server " << per_call_us(result.server_cpu_s) << " us ("
                << result.server_cpu_s / result.window_s << " cores)";
    }
    std::cout << "\n";
    for (const auto& [code, count] : result.errors) {
      std::cout << "errors:      " << CodeName(code) << " x" << count
                << " (first: " << result.first_error[code] << ")\n";
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace sild::bench

int main(int argc, char** argv) { return sild::bench::Main(argc, argv); }
