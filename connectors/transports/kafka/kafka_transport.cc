#include "connectors/transports/kafka/kafka_transport.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/log.h"
#include "gateway/base/thread_name.h"

namespace sild::connectors {
namespace {

using sild::connectors::v1::KafkaSecurity;
using sild::connectors::v1::KafkaTransportConfig;

constexpr uint32_t kDefaultDeliveryTimeoutMs = 30000;
constexpr uint32_t kDefaultSessionTimeoutMs = 10000;
constexpr uint32_t kDefaultRetryBackoffMs = 200;
constexpr uint32_t kDefaultMaxRetryBackoffMs = 30000;
constexpr uint32_t kDefaultMaxInFlight = 1000;
constexpr uint32_t kDefaultLingerMs = 5;
// How often a transport in error asks the brokers whether they answer again.
constexpr absl::Duration kProbeInterval = absl::Seconds(1);

template <typename T>
T OrDefault(T value, T fallback) {
  return value == 0 ? fallback : value;
}

// The properties the transport owns: overriding them would void the
// delivery guarantees or contradict the typed config.
bool IsReservedProperty(const std::string& key) {
  static const std::set<std::string>* reserved = new std::set<std::string>{
      "enable.idempotence",       "acks",
      "request.required.acks",    "enable.auto.commit",
      "enable.auto.offset.store", "bootstrap.servers",
      "metadata.broker.list",     "group.id",
      "enable.gapless.guarantee",
  };
  return reserved->count(key) > 0 || absl::StartsWith(key, "security.") ||
         absl::StartsWith(key, "ssl.") || absl::StartsWith(key, "sasl.");
}

bool IsPermanent(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    case absl::StatusCode::kResourceExhausted: {
      std::string reason = ErrorReason(status);
      return reason == "INPUT_TOO_LARGE" || reason == "INPUT_TOO_DEEP";
    }
    default:
      return false;
  }
}

// "REASON: field: text", as the other transports write refusals.
std::string RefusalText(const absl::Status& status) {
  std::string reason = ErrorReason(status);
  if (reason.empty()) reason = absl::StatusCodeToString(status.code());
  std::string text(status.message());
  if (absl::StartsWith(text, reason)) return text;
  return absl::StrCat(reason, ": ", ErrorField(status), ": ", text);
}

absl::Status CheckReadable(const std::string& path, const std::string& field) {
  if (path.empty()) return absl::OkStatus();
  auto bytes = ReadFileToString(path);
  if (!bytes.ok()) {
    return InvalidField("UNREADABLE_FILE", field,
                        absl::StrCat(path, ": ", bytes.status().message()));
  }
  return absl::OkStatus();
}

// The last connection problem librdkafka reported, until the brokers answer
// again. Shared by librdkafka's threads and health() callers.
class Health {
 public:
  void Fail(const std::string& error) {
    absl::MutexLock lock(&mu_);
    if (last_.ok()) LogWarning("kafka unavailable", {{"error", error}});
    last_ = absl::UnavailableError(error);
  }
  void Recover() {
    absl::MutexLock lock(&mu_);
    if (!last_.ok()) LogInfo("kafka recovered", {{"was", last_.ToString()}});
    last_ = absl::OkStatus();
  }
  absl::Status Get() const {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status last_ ABSL_GUARDED_BY(mu_);
};

void ReportError(Health* health, rd_kafka_t* rk, int err, const char* reason) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  std::string text =
      absl::StrCat("kafka: ", rd_kafka_err2name(code), ": ", reason);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    absl::StrAppend(&text, " (fatal: ", rd_kafka_err2name(orig), ": ", fatal,
                    ")");
  }
  health->Fail(text);
}

void LogCallback(const rd_kafka_t*, int level, const char* facility,
                 const char* message) {
  LogFields fields = {{"facility", facility}, {"detail", message}};
  if (level <= 3) {
    LogError("librdkafka", fields);
  } else if (level == 4) {
    LogWarning("librdkafka", fields);
  } else {
    LogDebug("librdkafka", fields);
  }
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

absl::Status Set(rd_kafka_conf_t* conf, const std::string& key,
                 const std::string& value, const std::string& field) {
  char error[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error,
                        sizeof(error)) != RD_KAFKA_CONF_OK) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", field,
                        absl::StrCat(key, ": ", error));
  }
  return absl::OkStatus();
}

#define SILD_KAFKA_RETURN_IF_ERROR(expr) \
  do {                                   \
    absl::Status status_ = (expr);       \
    if (!status_.ok()) return status_;   \
  } while (0)

// The settings both directions share: brokers, security, extra properties.
absl::StatusOr<ConfPtr> BaseConf(const KafkaTransportConfig& config) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_t* c = conf.get();
  SILD_KAFKA_RETURN_IF_ERROR(Set(
      c, "bootstrap.servers", config.bootstrap_servers(), "bootstrap_servers"));
  // Defaults the extra properties may change. Nagle off: a delivery waits
  // for its broker's answer, and a small produce request held back until
  // the previous one is acknowledged costs a delayed ACK (40 ms on Linux)
  // per batch.
  SILD_KAFKA_RETURN_IF_ERROR(
      Set(c, "socket.nagle.disable", "true", "properties"));
  // Extra properties next, so nothing below can be overridden by them.
  for (const auto& [key, value] : config.properties()) {
    std::string field = absl::StrCat("properties[\"", key, "\"]");
    if (IsReservedProperty(key)) {
      return InvalidField("INVALID_CONNECTOR_CONFIG", field,
                          "set by the transport or its typed config");
    }
    SILD_KAFKA_RETURN_IF_ERROR(Set(c, key, value, field));
  }
  SILD_KAFKA_RETURN_IF_ERROR(Set(
      c, "client.id", config.client_id().empty() ? "sild" : config.client_id(),
      "client_id"));
  const KafkaSecurity& security = config.security();
  switch (security.protocol()) {
    case KafkaSecurity::PROTOCOL_UNSPECIFIED:
    case KafkaSecurity::PROTOCOL_PLAINTEXT:
      SILD_KAFKA_RETURN_IF_ERROR(
          Set(c, "security.protocol", "plaintext", "security.protocol"));
      break;
    case KafkaSecurity::PROTOCOL_SSL:
      SILD_KAFKA_RETURN_IF_ERROR(
          Set(c, "security.protocol", "ssl", "security.protocol"));
      break;
    case KafkaSecurity::PROTOCOL_SASL_SSL:
      SILD_KAFKA_RETURN_IF_ERROR(
          Set(c, "security.protocol", "sasl_ssl", "security.protocol"));
      break;
    default:
      return InvalidField("INVALID_CONNECTOR_CONFIG", "security.protocol",
                          "unknown protocol");
  }
  if (security.protocol() == KafkaSecurity::PROTOCOL_SSL ||
      security.protocol() == KafkaSecurity::PROTOCOL_SASL_SSL) {
    if (!security.ca_file().empty()) {
      SILD_KAFKA_RETURN_IF_ERROR(
          Set(c, "ssl.ca.location", security.ca_file(), "security.ca_file"));
    }
    if (!security.cert_file().empty()) {
      SILD_KAFKA_RETURN_IF_ERROR(Set(c, "ssl.certificate.location",
                                     security.cert_file(),
                                     "security.cert_file"));
      SILD_KAFKA_RETURN_IF_ERROR(
          Set(c, "ssl.key.location", security.key_file(), "security.key_file"));
    }
    // Brokers are verified by name, not only by CA.
    SILD_KAFKA_RETURN_IF_ERROR(
        Set(c, "ssl.endpoint.identification.algorithm", "https", "security"));
  }
  if (security.protocol() == KafkaSecurity::PROTOCOL_SASL_SSL) {
    SILD_KAFKA_RETURN_IF_ERROR(Set(c, "sasl.mechanisms",
                                   security.sasl_mechanism(),
                                   "security.sasl_mechanism"));
    SILD_KAFKA_RETURN_IF_ERROR(Set(c, "sasl.username", security.sasl_username(),
                                   "security.sasl_username"));
    auto password = ReadFileToString(security.sasl_password_file());
    if (!password.ok()) {
      return InvalidField("UNREADABLE_FILE", "security.sasl_password_file",
                          password.status().message());
    }
    std::string secret(absl::StripTrailingAsciiWhitespace(*password));
    SILD_KAFKA_RETURN_IF_ERROR(
        Set(c, "sasl.password", secret, "security.sasl_password_file"));
  }
  rd_kafka_conf_set_log_cb(c, LogCallback);
  return conf;
}

}  // namespace

absl::Status CheckKafkaConfig(const KafkaTransportConfig& config,
                              bool ingress) {
  if (config.bootstrap_servers().empty()) {
    return InvalidField("MISSING_FIELD", "bootstrap_servers",
                        "the kafka transport needs its brokers");
  }
  if (!ingress && config.topic().empty()) {
    return InvalidField("MISSING_FIELD", "topic",
                        "kafka egress needs the topic it produces to");
  }
  if (ingress) {
    if (config.ingress_topics().empty()) {
      return InvalidField("MISSING_FIELD", "ingress_topics",
                          "kafka ingress needs the topics it consumes");
    }
    if (config.group_id().empty()) {
      return InvalidField("MISSING_FIELD", "group_id",
                          "kafka ingress needs a consumer group id");
    }
    if (config.dead_letter_topic().empty()) {
      return InvalidField("MISSING_FIELD", "dead_letter_topic",
                          "kafka ingress needs a topic for refused messages");
    }
    const std::string& reset = config.auto_offset_reset();
    if (!reset.empty() && reset != "earliest" && reset != "latest") {
      return InvalidField("INVALID_CONNECTOR_CONFIG", "auto_offset_reset",
                          "\"earliest\" or \"latest\"");
    }
  }
  const KafkaSecurity& security = config.security();
  bool tls = security.protocol() == KafkaSecurity::PROTOCOL_SSL ||
             security.protocol() == KafkaSecurity::PROTOCOL_SASL_SSL;
  if (!tls && (!security.ca_file().empty() || !security.cert_file().empty() ||
               !security.key_file().empty())) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "security.protocol",
                        "TLS files are set but the protocol is not ssl or "
                        "sasl_ssl");
  }
  if (security.cert_file().empty() != security.key_file().empty()) {
    return InvalidField("MISSING_FIELD",
                        security.cert_file().empty() ? "security.cert_file"
                                                     : "security.key_file",
                        "a client certificate needs its key and vice versa");
  }
  SILD_KAFKA_RETURN_IF_ERROR(
      CheckReadable(security.ca_file(), "security.ca_file"));
  SILD_KAFKA_RETURN_IF_ERROR(
      CheckReadable(security.cert_file(), "security.cert_file"));
  SILD_KAFKA_RETURN_IF_ERROR(
      CheckReadable(security.key_file(), "security.key_file"));
  if (security.protocol() == KafkaSecurity::PROTOCOL_SASL_SSL) {
    static const std::set<std::string> kMechanisms = {"PLAIN", "SCRAM-SHA-256",
                                                      "SCRAM-SHA-512"};
    if (kMechanisms.count(security.sasl_mechanism()) == 0) {
      return InvalidField("INVALID_CONNECTOR_CONFIG", "security.sasl_mechanism",
                          "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
    }
    if (security.sasl_username().empty()) {
      return InvalidField("MISSING_FIELD", "security.sasl_username",
                          "sasl_ssl needs a user name");
    }
    if (security.sasl_password_file().empty()) {
      return InvalidField("MISSING_FIELD", "security.sasl_password_file",
                          "sasl_ssl needs a password file");
    }
    SILD_KAFKA_RETURN_IF_ERROR(CheckReadable(security.sasl_password_file(),
                                             "security.sasl_password_file"));
  }
  return BaseConf(config).status();
}

// Where the delivery report of one produced message goes: Reported() is
// called exactly once, from the producer's polling thread (or its
// destructor's purge), for every message Produce queued.
class ReportSink {
 public:
  virtual void Reported(rd_kafka_resp_err_t err) = 0;

 protected:
  ~ReportSink() = default;
};

// A callback that frees itself once called.
class OwnedReport final : public ReportSink {
 public:
  explicit OwnedReport(std::function<void(rd_kafka_resp_err_t)> fn)
      : fn_(std::move(fn)) {}
  void Reported(rd_kafka_resp_err_t err) override {
    fn_(err);
    delete this;
  }

 private:
  std::function<void(rd_kafka_resp_err_t)> fn_;
};

// An idempotent producer with its own polling thread, which serves the
// delivery reports. Each produced message carries its ReportSink as its
// opaque.
class KafkaProducer {
 public:
  using Report = std::function<void(rd_kafka_resp_err_t)>;
  using Header = std::pair<absl::string_view, absl::string_view>;

  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(
      const KafkaTransportConfig& config) {
    auto conf = BaseConf(config);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_t* c = conf->get();
    SILD_KAFKA_RETURN_IF_ERROR(
        Set(c, "enable.idempotence", "true", "enable.idempotence"));
    SILD_KAFKA_RETURN_IF_ERROR(Set(c, "acks", "all", "acks"));
    SILD_KAFKA_RETURN_IF_ERROR(
        Set(c, "message.timeout.ms",
            absl::StrCat(OrDefault(config.delivery_timeout_ms(),
                                   kDefaultDeliveryTimeoutMs)),
            "delivery_timeout_ms"));
    SILD_KAFKA_RETURN_IF_ERROR(
        Set(c, "linger.ms",
            absl::StrCat(config.linger_ms() == 0 ? kDefaultLingerMs
                                                 : config.linger_ms()),
            "linger_ms"));
    std::unique_ptr<KafkaProducer> producer(new KafkaProducer());
    rd_kafka_conf_set_opaque(c, producer->health_.get());
    rd_kafka_conf_set_error_cb(
        c, [](rd_kafka_t* rk, int err, const char* reason, void* opaque) {
          ReportError(static_cast<Health*>(opaque), rk, err, reason);
        });
    rd_kafka_conf_set_dr_msg_cb(
        c, [](rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
          auto* sink = static_cast<ReportSink*>(message->_private);
          if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            static_cast<Health*>(opaque)->Recover();
          }
          if (sink != nullptr) sink->Reported(message->err);
        });
    char error[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, error, sizeof(error));
    if (rk == nullptr) {
      return InvalidField("INVALID_CONNECTOR_CONFIG", "",
                          absl::StrCat("kafka producer: ", error));
    }
    (void)conf->release();  // rd_kafka_new owns it now
    producer->rk_ = rk;
    producer->poller_ = std::thread([p = producer.get()] {
      NameThisThread("sild-kafka-prod");
      p->Poll();
    });
    return producer;
  }

  ~KafkaProducer() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    poller_.join();
    rd_kafka_flush(rk_, 2000);
    // Whatever the brokers did not take in time: its reports free the
    // callbacks.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_, 1000);
    rd_kafka_destroy(rk_);
  }

  // Queues one message; `report` is called once, from the polling thread,
  // unless an error is returned (then never).
  rd_kafka_resp_err_t Produce(
      const std::string& topic, const std::string& key,
      const std::string& value,
      const std::vector<std::pair<std::string, std::string>>& headers,
      Report report) {
    std::vector<Header> views(headers.begin(), headers.end());
    auto* owned = new OwnedReport(std::move(report));
    rd_kafka_resp_err_t err =
        Produce(topic, key, value, views.data(), views.size(), owned);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) delete owned;
    return err;
  }

  // As above without an allocation of its own: `sink` (owned by the caller,
  // alive until its report) hears of the message unless an error is
  // returned.
  rd_kafka_resp_err_t Produce(const std::string& topic, absl::string_view key,
                              absl::string_view value, const Header* headers,
                              size_t header_count, ReportSink* sink) {
    std::optional<absl::Time> deadline;
    while (true) {
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(header_count);
      for (size_t h = 0; h < header_count; ++h) {
        rd_kafka_header_add(hdrs, headers[h].first.data(),
                            static_cast<ssize_t>(headers[h].first.size()),
                            headers[h].second.data(),
                            static_cast<ssize_t>(headers[h].second.size()));
      }
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
          RD_KAFKA_V_OPAQUE(sink), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return err;
      rd_kafka_headers_destroy(hdrs);
      if (!deadline) deadline = absl::Now() + absl::Seconds(10);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || absl::Now() > *deadline) {
        return err;
      }
      // The local queue is full: let reports drain it, then try again.
      rd_kafka_poll(rk_, 10);
    }
  }

  // Sends what is queued at once (linger.ms does not apply while it runs)
  // and serves delivery reports until none is outstanding or `timeout_ms`.
  void Flush(int timeout_ms) {
    {
      absl::MutexLock lock(&mu_);
      ++flushers_;
    }
    rd_kafka_flush(rk_, timeout_ms);
    absl::MutexLock lock(&mu_);
    --flushers_;
  }

  // True after a fatal error: this producer can deliver nothing more.
  bool Fatal() const {
    char error[512];
    return rd_kafka_fatal_error(rk_, error, sizeof(error)) !=
           RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  // For tests: raises a fatal error as librdkafka would.
  void TestFatalError(const char* reason) {
    rd_kafka_test_fatal_error(
        rk_, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason);
  }

  absl::Status health() const {
    char error[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_, error, sizeof(error));
    if (fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat(
          "kafka producer failed: ", rd_kafka_err2name(fatal), ": ", error));
    }
    return health_->Get();
  }

 private:
  KafkaProducer() : health_(std::make_unique<Health>()) {}

  void Poll() {
    absl::Time last_probe = absl::InfinitePast();
    while (true) {
      bool serve = false;
      {
        // While a DeliverBatch caller flushes, it serves the reports
        // itself: polling here too would take them from it, and it would
        // notice only when its flush slice ends.
        absl::MutexLock lock(&mu_);
        auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || flushers_ == 0;
        };
        mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Milliseconds(100));
        if (stopping_) return;
        serve = flushers_ == 0;
      }
      if (serve && rd_kafka_poll(rk_, 100) > 0) {
        // A DeliverBatch that began flushing while this thread waited in
        // rd_kafka_poll may be asleep in its own poll, unaware that its
        // reports were served here: wake it.
        bool flushing = false;
        {
          absl::MutexLock lock(&mu_);
          flushing = flushers_ > 0;
        }
        if (flushing) {
          rd_kafka_queue_t* queue = rd_kafka_queue_get_main(rk_);
          rd_kafka_queue_yield(queue);
          rd_kafka_queue_destroy(queue);
        }
      }
      if (!health_->Get().ok() && absl::Now() - last_probe > kProbeInterval) {
        last_probe = absl::Now();
        const rd_kafka_metadata_t* metadata = nullptr;
        if (rd_kafka_metadata(rk_, 0, nullptr, &metadata, 500) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_metadata_destroy(metadata);
          health_->Recover();
        }
      }
    }
  }

  rd_kafka_t* rk_ = nullptr;
  std::unique_ptr<Health> health_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int flushers_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread poller_;
};

namespace {

DeliveryResult FromError(rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return DeliveryResult::Delivered();
  std::string text = absl::StrCat("kafka: ", rd_kafka_err2name(err), ": ",
                                  rd_kafka_err2str(err));
  switch (err) {
    // librdkafka reports an oversized message with the broker's code, both
    // when it refuses it locally (message.max.bytes) and when a broker does.
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return DeliveryResult::Permanent(std::move(text));
    default:
      return DeliveryResult::Retryable(std::move(text));
  }
}

// The reports of one DeliverBatch call: one slot a message, each written
// once by its report before the count drops (release), read by the caller
// once the count is zero (acquire).
struct BatchWait {
  struct Slot final : ReportSink {
    BatchWait* wait = nullptr;
    DeliveryResult* result = nullptr;
    void Reported(rd_kafka_resp_err_t err) override {
      *result = FromError(err);
      wait->remaining.fetch_sub(1, std::memory_order_release);
    }
  };
  std::atomic<size_t> remaining{0};
  std::vector<DeliveryResult> results;
  std::vector<Slot> slots;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaEgressTransport>>
KafkaEgressTransport::Create(const KafkaTransportConfig& config) {
  SILD_KAFKA_RETURN_IF_ERROR(CheckKafkaConfig(config, /*ingress=*/false));
  auto producer = KafkaProducer::Create(config);
  if (!producer.ok()) return producer.status();
  std::unique_ptr<KafkaEgressTransport> egress(new KafkaEgressTransport());
  egress->config_ = config;
  absl::MutexLock lock(&egress->mu_);
  egress->producer_ = *std::move(producer);
  return egress;
}

std::shared_ptr<KafkaProducer> KafkaEgressTransport::Producer() {
  absl::MutexLock lock(&mu_);
  if (!producer_->Fatal()) return producer_;
  LogWarning(
      "kafka producer replaced after a fatal error",
      {{"topic", config_.topic()}, {"error", producer_->health().ToString()}});
  auto fresh = KafkaProducer::Create(config_);
  if (!fresh.ok()) return producer_;  // config was valid; retried next time
  // The old producer goes when its last batch is done with it.
  producer_ = *std::move(fresh);
  return producer_;
}

KafkaEgressTransport::~KafkaEgressTransport() = default;

DeliveryResult KafkaEgressTransport::Deliver(const OutboundMessage& message) {
  return DeliverBatch({message})[0];
}

std::vector<DeliveryResult> KafkaEgressTransport::DeliverBatch(
    const std::vector<OutboundMessage>& messages) {
  std::shared_ptr<KafkaProducer> producer = Producer();
  // Lives until every report arrived: the call returns only then.
  BatchWait wait;
  wait.results.resize(messages.size());
  wait.slots.resize(messages.size());
  wait.remaining.store(messages.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < messages.size(); ++i) {
    const OutboundMessage& m = messages[i];
    BatchWait::Slot& slot = wait.slots[i];
    slot.wait = &wait;
    slot.result = &wait.results[i];
    const KafkaProducer::Header headers[] = {
        {kKafkaMessageIdHeader, m.message_id},
        {kKafkaKindHeader, m.kind},
        {kKafkaContentTypeHeader, m.content_type}};
    rd_kafka_resp_err_t err =
        producer->Produce(config_.topic(), m.key, m.bytes, headers, 3, &slot);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) slot.Reported(err);
  }
  // The batch is complete: send it now instead of after linger.ms (while
  // rd_kafka_flush runs, the broker threads treat linger as elapsed, for
  // every caller's messages). Flushing in short slices, since flush waits
  // for other callers' messages too; message.timeout.ms bounds every report.
  while (wait.remaining.load(std::memory_order_acquire) != 0) {
    producer->Flush(/*timeout_ms=*/10);
  }
  return std::move(wait.results);
}

void KafkaEgressTransport::RaiseFatalErrorForTesting() {
  absl::MutexLock lock(&mu_);
  producer_->TestFatalError("raised by a test");
}

absl::Status KafkaEgressTransport::health() const {
  absl::MutexLock lock(&mu_);
  return producer_->health();
}

// Shared with done callbacks, which may outlive the transport.
struct KafkaIngressTransport::State {
  KafkaTransportConfig config;
  Health health;
  rd_kafka_t* consumer = nullptr;
  std::unique_ptr<KafkaProducer> dead_letters;
  InboundHandler handler;
  absl::Duration first_backoff;
  absl::Duration max_backoff;
  int max_in_flight = 0;

  struct Record {
    InboundMessage message;
    std::string key;
    int64_t offset = 0;
  };
  struct Partition {
    std::string topic;
    int32_t partition = 0;
    bool assigned = true;
    // Offsets handed over and not yet committed: offset -> done(OK) seen.
    std::map<int64_t, bool> outstanding;
    int64_t committed = -1;
    // Polled while an earlier record waits for its retry: kept back so the
    // partition's order holds.
    std::deque<Record> held;
    int retrying = 0;
  };
  struct Retry {
    absl::Time at;
    absl::Duration backoff;
    std::shared_ptr<Partition> partition;
    Record record;
  };

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool closed ABSL_GUARDED_BY(mu) = false;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  // Records polled and kept back in some partition's `held`: they count
  // against max_in_flight too, so a partition stuck on a retry does not
  // buffer its whole backlog in memory.
  int held_count ABSL_GUARDED_BY(mu) = 0;
  std::map<std::pair<std::string, int32_t>, std::shared_ptr<Partition>>
      partitions ABSL_GUARDED_BY(mu);
  std::vector<Retry> retries ABSL_GUARDED_BY(mu);

  void Hand(const std::shared_ptr<State>& self,
            const std::shared_ptr<Partition>& partition, Record record,
            absl::Duration backoff) {
    {
      absl::MutexLock lock(&mu);
      ++in_flight;
      partition->outstanding.emplace(record.offset, false);
    }
    InboundMessage message = record.message;
    handler(message, [self, partition, record = std::move(record),
                      backoff](absl::Status status) mutable {
      self->Finish(self, partition, std::move(record), backoff, status);
    });
  }

  void Finish(const std::shared_ptr<State>& self,
              const std::shared_ptr<Partition>& partition, Record record,
              absl::Duration backoff, const absl::Status& status) {
    {
      // A done after Stop() (every record handed over was done by then):
      // ignored, the record is redelivered to the group's next consumer.
      absl::MutexLock lock(&mu);
      if (closed) return;
    }
    if (status.ok()) {
      Acknowledge(partition, record.offset);
      return;
    }
    if (IsPermanent(status)) {
      std::string text = RefusalText(status);
      std::string reason = ErrorReason(status);
      if (reason.empty()) reason = absl::StatusCodeToString(status.code());
      std::vector<std::pair<std::string, std::string>> headers;
      for (const auto& [name, value] : record.message.headers) {
        if (name == kKafkaReasonHeader || name == kKafkaErrorHeader ||
            name == kKafkaMessageIdHeader) {
          continue;
        }
        headers.emplace_back(name, value);
      }
      headers.emplace_back(kKafkaMessageIdHeader, record.message.message_id);
      headers.emplace_back(kKafkaReasonHeader, reason);
      headers.emplace_back(kKafkaErrorHeader, text);
      auto shared = std::make_shared<Record>(record);
      rd_kafka_resp_err_t err = dead_letters->Produce(
          config.dead_letter_topic(), record.key, record.message.bytes, headers,
          [self, partition, shared, backoff](rd_kafka_resp_err_t report) {
            if (report == RD_KAFKA_RESP_ERR_NO_ERROR) {
              self->Acknowledge(partition, shared->offset);
            } else {
              self->RetryLater(partition, std::move(*shared), backoff,
                               rd_kafka_err2name(report));
            }
          });
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        RetryLater(partition, std::move(record), backoff,
                   rd_kafka_err2name(err));
      }
      return;
    }
    RetryLater(partition, std::move(record), backoff, status.ToString());
  }

  void Acknowledge(const std::shared_ptr<Partition>& partition,
                   int64_t offset) {
    absl::MutexLock lock(&mu);
    --in_flight;
    partition->outstanding[offset] = true;
    int64_t next = -1;
    while (!partition->outstanding.empty() &&
           partition->outstanding.begin()->second) {
      next = partition->outstanding.begin()->first + 1;
      partition->outstanding.erase(partition->outstanding.begin());
    }
    if (next > partition->committed) {
      partition->committed = next;
      // Under mu, so commits of one partition are queued in offset order.
      if (partition->assigned && !closed) Commit(*partition);
    }
  }

  void Commit(const Partition& partition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, partition.topic.c_str(),
                                      partition.partition)
        ->offset = partition.committed;
    rd_kafka_commit(consumer, list, /*async=*/1);
    rd_kafka_topic_partition_list_destroy(list);
  }

  void RetryLater(const std::shared_ptr<Partition>& partition, Record record,
                  absl::Duration backoff, const std::string& why) {
    LogWarning("kafka ingress retries a message",
               {{"topic", partition->topic},
                {"partition", absl::StrCat(partition->partition)},
                {"offset", absl::StrCat(record.offset)},
                {"error", why}});
    absl::MutexLock lock(&mu);
    --in_flight;
    if (stopping || !partition->assigned) return;  // redelivered later
    ++partition->retrying;
    retries.push_back({absl::Now() + backoff,
                       std::min(backoff * 2, max_backoff), partition,
                       std::move(record)});
  }

  static void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* list, void* opaque) {
    auto* state = static_cast<State*>(opaque);
    // properties may choose a cooperative assignor (cooperative-sticky):
    // then partitions come and go incrementally.
    const bool cooperative =
        std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        LogIfError("kafka incremental assign",
                   rd_kafka_incremental_assign(rk, list));
      } else {
        rd_kafka_assign(rk, list);
      }
      absl::MutexLock lock(&state->mu);
      for (int i = 0; i < list->cnt; ++i) {
        auto partition = std::make_shared<Partition>();
        partition->topic = list->elems[i].topic;
        partition->partition = list->elems[i].partition;
        state->partitions[{partition->topic, partition->partition}] = partition;
      }
      return;
    }
    {
      absl::MutexLock lock(&state->mu);
      for (int i = 0; i < list->cnt; ++i) {
        auto it = state->partitions.find(
            {list->elems[i].topic, list->elems[i].partition});
        if (it == state->partitions.end()) continue;
        it->second->assigned = false;
        state->held_count -= static_cast<int>(it->second->held.size());
        state->partitions.erase(it);
      }
      state->retries.erase(
          std::remove_if(state->retries.begin(), state->retries.end(),
                         [](const Retry& r) { return !r.partition->assigned; }),
          state->retries.end());
    }
    if (cooperative) {
      LogIfError("kafka incremental unassign",
                 rd_kafka_incremental_unassign(rk, list));
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }

  static void LogIfError(const char* what, rd_kafka_error_t* error) {
    if (error == nullptr) return;
    LogWarning(what, {{"error", rd_kafka_error_string(error)}});
    rd_kafka_error_destroy(error);
  }

  void Poll(const std::shared_ptr<State>& self) {
    absl::Time last_probe = absl::InfinitePast();
    while (true) {
      std::vector<Retry> due;
      std::vector<std::pair<std::shared_ptr<Partition>, Record>> released;
      {
        absl::MutexLock lock(&mu);
        if (stopping) return;
        absl::Time now = absl::Now();
        for (auto it = retries.begin(); it != retries.end();) {
          if (it->at <= now) {
            due.push_back(std::move(*it));
            it = retries.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (Retry& retry : due) {
        {
          absl::MutexLock lock(&mu);
          --retry.partition->retrying;
        }
        Hand(self, retry.partition, std::move(retry.record), retry.backoff);
      }
      {
        absl::MutexLock lock(&mu);
        for (auto& [key, partition] : partitions) {
          while (partition->retrying == 0 && !partition->held.empty()) {
            released.emplace_back(partition,
                                  std::move(partition->held.front()));
            partition->held.pop_front();
            --held_count;
          }
        }
      }
      for (auto& [partition, record] : released) {
        Hand(self, partition, std::move(record), first_backoff);
      }
      {
        absl::MutexLock lock(&mu);
        auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
          return in_flight + held_count < max_in_flight || stopping;
        };
        if (!mu.AwaitWithTimeout(absl::Condition(&room),
                                 absl::Milliseconds(50))) {
          continue;
        }
      }
      if (!health.Get().ok() && absl::Now() - last_probe > kProbeInterval) {
        last_probe = absl::Now();
        const rd_kafka_metadata_t* metadata = nullptr;
        if (rd_kafka_metadata(consumer, 0, nullptr, &metadata, 500) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_metadata_destroy(metadata);
          health.Recover();
        }
      }
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 50);
      if (message == nullptr) continue;
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          health.Fail(absl::StrCat("kafka: ", rd_kafka_err2name(message->err),
                                   ": ", rd_kafka_message_errstr(message)));
        }
        rd_kafka_message_destroy(message);
        continue;
      }
      Record record = ToRecord(message);
      std::string topic = rd_kafka_topic_name(message->rkt);
      int32_t partition_id = message->partition;
      rd_kafka_message_destroy(message);
      std::shared_ptr<Partition> partition;
      {
        absl::MutexLock lock(&mu);
        auto it = partitions.find({topic, partition_id});
        if (it == partitions.end()) continue;  // revoked meanwhile
        partition = it->second;
        if (partition->retrying > 0 || !partition->held.empty()) {
          partition->held.push_back(std::move(record));
          ++held_count;
          continue;
        }
      }
      Hand(self, partition, std::move(record), first_backoff);
    }
  }

  static Record ToRecord(const rd_kafka_message_t* message) {
    Record record;
    record.offset = message->offset;
    if (message->payload != nullptr) {
      record.message.bytes.assign(static_cast<const char*>(message->payload),
                                  message->len);
    }
    if (message->key != nullptr) {
      record.key.assign(static_cast<const char*>(message->key),
                        message->key_len);
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message, &headers) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
           RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        record.message.headers[name] =
            value == nullptr
                ? std::string()
                : std::string(static_cast<const char*>(value), size);
      }
    }
    auto& h = record.message.headers;
    if (auto it = h.find(kKafkaMessageIdHeader); it != h.end()) {
      record.message.message_id = it->second;
    } else {
      // Stable across redeliveries of the same record.
      record.message.message_id =
          absl::StrCat(rd_kafka_topic_name(message->rkt), "/",
                       message->partition, "/", message->offset);
    }
    if (auto it = h.find(kKafkaContentTypeHeader); it != h.end()) {
      record.message.content_type = it->second;
    } else if (auto ct = h.find("content-type"); ct != h.end()) {
      record.message.content_type = ct->second;
    }
    return record;
  }
};

absl::StatusOr<std::unique_ptr<KafkaIngressTransport>>
KafkaIngressTransport::Create(const KafkaTransportConfig& config) {
  SILD_KAFKA_RETURN_IF_ERROR(CheckKafkaConfig(config, /*ingress=*/true));
  std::unique_ptr<KafkaIngressTransport> ingress(new KafkaIngressTransport());
  ingress->state_ = std::make_shared<State>();
  State& state = *ingress->state_;
  state.config = config;
  state.first_backoff = absl::Milliseconds(
      OrDefault(config.retry_backoff_ms(), kDefaultRetryBackoffMs));
  state.max_backoff = absl::Milliseconds(
      OrDefault(config.max_retry_backoff_ms(), kDefaultMaxRetryBackoffMs));
  state.max_in_flight =
      static_cast<int>(OrDefault(config.max_in_flight(), kDefaultMaxInFlight));
  KafkaTransportConfig dead_letter_config = config;
  dead_letter_config.set_topic(config.dead_letter_topic());
  auto producer = KafkaProducer::Create(dead_letter_config);
  if (!producer.ok()) return producer.status();
  state.dead_letters = *std::move(producer);
  return ingress;
}

KafkaIngressTransport::~KafkaIngressTransport() {
  Stop();
  // The dead-letter producer's delivery reports hold references to the
  // state; destroying the producer here joins its polling thread, so the
  // state is never destroyed on that thread (which would join itself).
  if (state_ != nullptr) state_->dead_letters.reset();
}

absl::Status KafkaIngressTransport::Start(InboundHandler handler) {
  if (poller_.joinable() || state_->consumer != nullptr) {
    return absl::FailedPreconditionError("kafka ingress already started");
  }
  const KafkaTransportConfig& config = state_->config;
  auto conf = BaseConf(config);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_t* c = conf->get();
  SILD_KAFKA_RETURN_IF_ERROR(Set(c, "group.id", config.group_id(), "group_id"));
  SILD_KAFKA_RETURN_IF_ERROR(
      Set(c, "enable.auto.commit", "false", "enable.auto.commit"));
  SILD_KAFKA_RETURN_IF_ERROR(
      Set(c, "enable.auto.offset.store", "false", "enable.auto.offset.store"));
  SILD_KAFKA_RETURN_IF_ERROR(Set(c, "auto.offset.reset",
                                 config.auto_offset_reset().empty()
                                     ? "earliest"
                                     : config.auto_offset_reset(),
                                 "auto_offset_reset"));
  SILD_KAFKA_RETURN_IF_ERROR(
      Set(c, "session.timeout.ms",
          absl::StrCat(
              OrDefault(config.session_timeout_ms(), kDefaultSessionTimeoutMs)),
          "session_timeout_ms"));
  rd_kafka_conf_set_opaque(c, state_.get());
  rd_kafka_conf_set_error_cb(
      c, [](rd_kafka_t* rk, int err, const char* reason, void* opaque) {
        ReportError(&static_cast<State*>(opaque)->health, rk, err, reason);
      });
  rd_kafka_conf_set_rebalance_cb(c, &State::Rebalance);
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, error, sizeof(error));
  if (rk == nullptr) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "",
                        absl::StrCat("kafka consumer: ", error));
  }
  (void)conf->release();  // rd_kafka_new owns it now
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(config.ingress_topics_size());
  for (const std::string& topic : config.ingress_topics()) {
    rd_kafka_topic_partition_list_add(topics, topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk);
    return absl::UnavailableError(
        absl::StrCat("kafka subscribe: ", rd_kafka_err2str(err)));
  }
  state_->consumer = rk;
  state_->handler = std::move(handler);
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = false;
    state_->closed = false;
  }
  std::shared_ptr<State> state = state_;
  poller_ = std::thread([state] {
    NameThisThread("sild-kafka-cons");
    state->Poll(state);
  });
  return absl::OkStatus();
}

void KafkaIngressTransport::Stop() {
  if (state_ == nullptr || state_->consumer == nullptr) return;
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  if (poller_.joinable()) poller_.join();
  {
    // Every handed-over record's done, dead-letter reports included.
    absl::MutexLock lock(&state_->mu);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
      return state_->in_flight == 0;
    };
    state_->mu.Await(absl::Condition(&idle));
    state_->closed = true;
    // One synchronous commit of what is done, so a successor in the group
    // resumes right after it.
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(
        static_cast<int>(state_->partitions.size()));
    for (const auto& [key, partition] : state_->partitions) {
      if (partition->committed < 0) continue;
      rd_kafka_topic_partition_list_add(list, partition->topic.c_str(),
                                        partition->partition)
          ->offset = partition->committed;
    }
    if (list->cnt > 0) rd_kafka_commit(state_->consumer, list, /*async=*/0);
    rd_kafka_topic_partition_list_destroy(list);
    state_->partitions.clear();
    state_->retries.clear();
    state_->held_count = 0;
  }
  rd_kafka_consumer_close(state_->consumer);
  rd_kafka_destroy(state_->consumer);
  state_->consumer = nullptr;
}

absl::Status KafkaIngressTransport::health() const {
  absl::Status status = state_->health.Get();
  if (!status.ok()) return status;
  return state_->dead_letters->health();
}

namespace {

using KafkaEgressFactory =
    TypedEgressTransportFactory<kKafkaTransportName, KafkaTransportConfig,
                                KafkaEgressTransport>;
using KafkaIngressFactory =
    TypedIngressTransportFactory<kKafkaTransportName, KafkaTransportConfig,
                                 KafkaIngressTransport>;
SILD_REGISTER_EGRESS_TRANSPORT_FACTORY(KafkaEgressFactory);
SILD_REGISTER_INGRESS_TRANSPORT_FACTORY(KafkaIngressFactory);

}  // namespace
}  // namespace sild::connectors
