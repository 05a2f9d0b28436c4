// Shared pieces of the delivery, inbox and deadline tests.
//
// DeliveryTestEnv: a real SQLite store and audit log in a temporary folder,
// a ManualClock, the demo federation's directory and an ExchangeContext
// whose decisions the test steers (allow or deny), so components run alone
// without a gateway. Messages are queued through the real Dispatch.
//
// Also: a fault-injecting egress transport, and readers of a gateway's database
// for end-to-end tests.
#ifndef SILD_TESTS_GATEWAY_DELIVERY_DELIVERY_TEST_ENV_H_
#define SILD_TESTS_GATEWAY_DELIVERY_DELIVERY_TEST_ENV_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "gateway/audit/audit_log.h"
#include "gateway/base/proto_time.h"
#include "gateway/config/config_loader.h"
#include "gateway/delivery/egress.h"
#include "gateway/exchange/dispatch.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/minimise/projector.h"
#include "gateway/policy/decision.h"
#include "gateway/store/sqlite_connection.h"
#include "gateway/store/store.h"
#include "gtest/gtest.h"
#include "tests/testing/sample_messages.h"
#include "tests/testing/test_env.h"

namespace sild::testing {

inline constexpr char kSchoolCode[] = "75001017";
inline constexpr char kSocialCode[] = "75001023";
inline constexpr char kChildProtectionCode[] = "75001039";
inline constexpr char kUifCode[] = "75001052";
inline constexpr char kCaseManagerCode[] = "75001075";
// kPupil (tests/testing/sample_messages.h) is the subject.

// 2025-03-01 10:00 UTC.
inline absl::Time DeliveryTestStart() {
  return absl::FromCivil(absl::CivilSecond(2025, 3, 1, 10, 0, 0),
                         absl::UTCTimeZone());
}

// Where the canonical "file" form (transport "file" + transport_target)
// puts a message.
inline std::string EnvelopeFilePath(const std::string& folder,
                                    const std::string& message_id) {
  return absl::StrCat(folder, "/", message_id, ".binpb");
}

// An egress transport that answers from a script (then with `fallback`),
// counts its calls and can be slowed down. Thread-safe.
class ScriptedTransport final : public connectors::EgressTransport {
 public:
  explicit ScriptedTransport(std::string name,
                             connectors::DeliveryResult fallback =
                                 connectors::DeliveryResult::Delivered())
      : name_(std::move(name)), fallback_(std::move(fallback)) {}

  std::string name() const override { return name_; }
  connectors::DeliveryResult Deliver(
      const connectors::OutboundMessage& message) override {
    if (delay_ > absl::ZeroDuration()) absl::SleepFor(delay_);
    absl::MutexLock lock(&mu_);
    ++calls_;
    delivered_ids_.push_back(message.message_id);
    if (script_.empty()) return fallback_;
    connectors::DeliveryResult next = script_.front();
    script_.pop_front();
    return next;
  }

  bool pipelines() const override { return pipelines_; }
  std::vector<connectors::DeliveryResult> DeliverBatch(
      const std::vector<connectors::OutboundMessage>& messages) override {
    {
      absl::MutexLock lock(&mu_);
      batch_sizes_.push_back(static_cast<int>(messages.size()));
    }
    return EgressTransport::DeliverBatch(messages);
  }
  // Set before the workers start.
  void set_pipelines(bool pipelines) { pipelines_ = pipelines; }
  // The size of every DeliverBatch call, in order.
  std::vector<int> batch_sizes() const {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }

  void Then(connectors::DeliveryResult result) {
    absl::MutexLock lock(&mu_);
    script_.push_back(std::move(result));
  }
  void set_delay(absl::Duration delay) { delay_ = delay; }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  std::string name_;
  connectors::DeliveryResult fallback_;
  absl::Duration delay_ = absl::ZeroDuration();
  bool pipelines_ = false;
  mutable absl::Mutex mu_;
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::deque<connectors::DeliveryResult> script_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> delivered_ids_ ABSL_GUARDED_BY(mu_);
};

// Hands a borrowed transport to an endpoint (several recipients may share
// one scripted transport).
class BorrowedTransport final : public connectors::EgressTransport {
 public:
  explicit BorrowedTransport(connectors::EgressTransport* target)
      : target_(target) {}
  std::string name() const override { return target_->name(); }
  connectors::DeliveryResult Deliver(
      const connectors::OutboundMessage& message) override {
    return target_->Deliver(message);
  }
  std::vector<connectors::DeliveryResult> DeliverBatch(
      const std::vector<connectors::OutboundMessage>& messages) override {
    return target_->DeliverBatch(messages);
  }
  bool pipelines() const override { return target_->pipelines(); }
  absl::Status health() const override { return target_->health(); }

 private:
  connectors::EgressTransport* target_;
};

class DeliveryTestEnv {
 public:
  // `adjust` edits the demo config before anything is opened.
  explicit DeliveryTestEnv(
      const std::string& name,
      const std::function<void(config::v1::GatewayConfig&)>& adjust = nullptr)
      : dir_(MakeTempDir(name)),
        config_(Config(dir_, adjust)),
        clock_(DeliveryTestStart()),
        directory_(config_) {
    std::vector<Migration> migrations = exchange::Schemas();
    migrations.push_back(AuditLog::Schema());
    auto store = Store::Open(config_.store(), &clock_, std::move(migrations));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return;
    store_ = std::move(*store);
    AuditLog::Options options;
    options.chain_id = "sild-test";
    options.signing_key_file = config_.audit().signing_key_file();
    options.pseudonym_key_file = config_.audit().pseudonym_key_file();
    auto log = AuditLog::Open(store_.get(), options);
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return;
    audit_log_ = std::move(*log);
    store_->writer().AddParticipant(audit_log_.get());
    store_->Start();

    context_.config = &config_;
    context_.directory = &directory_;
    context_.store = store_.get();
    context_.audit_log = audit_log_.get();
    context_.projector = &Projector::Default();
    context_.decide = [this](WriteTxn&, const DecisionRequest& request) {
      Decision decision;
      if (!allow_.load()) {
        decision.allow = false;
        decision.reason = ReasonCode::kConsentWithdrawn;
        decision.detail = "test: no basis";
        return decision;
      }
      decision.allow = true;
      decision.reason = ReasonCode::kOk;
      decision.permitted = request.requested | CategorySet::AlwaysPermitted();
      decision.basis.set_rule_id("test-rule");
      decision.detail = "test: allowed";
      return decision;
    };
    context_.on_outbox_changed = [this] {
      ++outbox_changes_;
      if (on_outbox_changed_) on_outbox_changed_();
    };
  }

  ~DeliveryTestEnv() {
    if (store_) store_->Close();
  }

  static config::v1::GatewayConfig Config(
      const std::string& dir,
      const std::function<void(config::v1::GatewayConfig&)>& adjust) {
    config::v1::GatewayConfig config = DemoGatewayConfig(dir);
    auto* d = config.mutable_delivery();
    d->set_max_attempts(3);
    d->set_initial_backoff_ms(1000);
    d->set_max_backoff_ms(8000);
    d->set_workers(1);
    d->set_inbox_ack_timeout_ms(30000);
    config.mutable_deadlines()->set_transition_acknowledge_within_days(14);
    config.mutable_deadlines()->set_scan_interval_ms(60000);
    if (adjust) adjust(config);
    // The loader's defaults (agency identities among them).
    absl::Status valid = ValidateConfig(config, "", /*check_files=*/false);
    EXPECT_TRUE(valid.ok()) << valid;
    return config;
  }

  // The egress endpoints the gateway builds from this config (file agencies
  // get the SDK file transport), with `scripted` (may be null: none) serving
  // the agencies whose transport is "scripted".
  std::unique_ptr<delivery::EgressEndpoints> Endpoints(
      connectors::EgressTransport* scripted) const {
    config::v1::GatewayConfig copy = config_;
    std::vector<std::string> scripted_codes;
    for (auto& agency : *copy.mutable_agencies()) {
      if (agency.transport() == "scripted") {
        scripted_codes.push_back(agency.registry_code());
        agency.clear_transport();
      }
    }
    auto endpoints = delivery::EgressEndpoints::Create(copy, audit_log_.get());
    EXPECT_TRUE(endpoints.ok()) << endpoints.status();
    if (!endpoints.ok()) return std::make_unique<delivery::EgressEndpoints>();
    if (scripted != nullptr) {
      for (const std::string& code : scripted_codes) {
        (*endpoints)
            ->Add(std::make_unique<delivery::EgressEndpoint>(
                code, "scripted", std::make_unique<BorrowedTransport>(scripted),
                nullptr, audit_log_.get()));
      }
    }
    return *std::move(endpoints);
  }

  // Dispatches a referral about kPupil from `sender` to `recipient` (with
  // the case manager as party) and returns the recipient's delivery id.
  int64_t Queue(const std::string& sender, const std::string& recipient,
                std::string* message_id_out = nullptr) {
    std::string message_id = exchange::NewUuid();
    exchange::DispatchRequest dispatch;
    sild::v1::Envelope& envelope = dispatch.envelope;
    envelope.set_message_id(message_id);
    envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
    sild::v1::Referral* referral = envelope.mutable_referral();
    auto* header = referral->mutable_header();
    header->set_message_id(message_id);
    header->set_case_id(message_id);
    header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
    header->set_purpose(sild::v1::PURPOSE_SUPPORT_SERVICE);
    const Agency* from = directory_.FindByRegistryCode(sender);
    const Agency* to = directory_.FindByRegistryCode(recipient);
    *header->mutable_sender() = from->ref;
    *header->add_recipients() = to->ref;
    *header->mutable_created_time() = ToProtoTime(clock_.Now());
    referral->mutable_subject()->mutable_id()->set_scheme(
        sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    referral->mutable_subject()->mutable_id()->set_value(kPupil);
    referral->mutable_subject()->set_given_name("Mari");
    referral->set_summary("Absent most Mondays since October.");
    referral->set_status(sild::v1::REFERRAL_STATUS_SUBMITTED);
    dispatch.subject_personal_code = kPupil;
    dispatch.recipients = {to};
    dispatch.sender = from;
    dispatch.professional_id = "teacher-17";
    dispatch.case_managers = {kCaseManagerCode};
    absl::Status status = store_->writer().Run([&](WriteTxn& txn) {
      return exchange::Dispatch(txn, context_, dispatch).status();
    });
    EXPECT_TRUE(status.ok()) << status;
    if (message_id_out != nullptr) *message_id_out = message_id;
    auto row = OutboxFor(message_id, recipient);
    return row ? row->delivery_id : 0;
  }

  std::optional<delivery::OutboxRow> OutboxFor(const std::string& message_id,
                                               const std::string& recipient) {
    std::optional<delivery::OutboxRow> out;
    absl::Status status = store_->Read([&](SqlConnection& sql) -> absl::Status {
      auto row =
          delivery::LoadOutboxFor(sql, store_->cipher(), message_id, recipient);
      if (!row.ok()) return row.status();
      out = *row;
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  delivery::OutboxRow Row(int64_t delivery_id) {
    delivery::OutboxRow out;
    absl::Status status = store_->Read([&](SqlConnection& sql) -> absl::Status {
      auto row = delivery::LoadOutbox(sql, store_->cipher(), delivery_id);
      if (!row.ok()) return row.status();
      if (!*row) return absl::NotFoundError("no such delivery");
      out = **row;
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  int64_t QueryInt(const std::string& query,
                   const std::vector<SqlValue>& params = {}) {
    int64_t value = -1;
    absl::Status status = store_->Read([&](SqlConnection& sql) -> absl::Status {
      auto rows = sql.Query(query, params);
      if (!rows.ok()) return rows.status();
      if (rows->size() == 1) value = (*rows)[0].Int(0);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return value;
  }

  std::vector<sild::v1::AuditRecord> Records(
      sild::v1::AuditAction action = sild::v1::AUDIT_ACTION_UNSPECIFIED) {
    std::vector<sild::v1::AuditRecord> out;
    absl::Status status = store_->Read([&](SqlConnection& sql) -> absl::Status {
      auto records = AuditLog::ReadRecords(sql, "sild-test", 1, 0);
      if (!records.ok()) return records.status();
      for (auto& r : *records) {
        if (action == sild::v1::AUDIT_ACTION_UNSPECIFIED ||
            r.action() == action) {
          out.push_back(r);
        }
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  const std::string& dir() const { return dir_; }
  config::v1::GatewayConfig& config() { return config_; }
  ManualClock& clock() { return clock_; }
  const AgencyDirectory& directory() const { return directory_; }
  Store* store() { return store_.get(); }
  AuditLog* audit_log() { return audit_log_.get(); }
  exchange::ExchangeContext& context() { return context_; }
  void set_allow(bool allow) { allow_.store(allow); }
  int outbox_changes() const { return outbox_changes_.load(); }
  void set_on_outbox_changed(std::function<void()> fn) {
    on_outbox_changed_ = std::move(fn);
  }

 private:
  std::string dir_;
  config::v1::GatewayConfig config_;
  ManualClock clock_;
  AgencyDirectory directory_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> audit_log_;
  exchange::ExchangeContext context_;
  std::atomic<bool> allow_{true};
  std::atomic<int> outbox_changes_{0};
  std::function<void()> on_outbox_changed_;
};

// The audit records of a running gateway's database (read-only connection).
inline std::vector<sild::v1::AuditRecord> GatewayAuditRecords(
    const std::string& db_path) {
  auto sql = SqliteConnection::Open(db_path, {.read_only = true});
  EXPECT_TRUE(sql.ok()) << sql.status();
  if (!sql.ok()) return {};
  auto records = AuditLog::ReadRecords(**sql, "sild-test", 1, 0);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *records : std::vector<sild::v1::AuditRecord>{};
}

}  // namespace sild::testing

#endif  // SILD_TESTS_GATEWAY_DELIVERY_DELIVERY_TEST_ENV_H_
