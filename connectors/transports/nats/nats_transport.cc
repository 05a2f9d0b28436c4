#include "connectors/transports/nats/nats_transport.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/thread_name.h"

namespace sild::connectors {
namespace {

using sild::connectors::v1::NatsTransportConfig;

constexpr uint32_t kDefaultConnectTimeoutMs = 5000;
constexpr uint32_t kDefaultPublishTimeoutMs = 5000;
constexpr uint32_t kDefaultReconnectWaitMs = 500;
constexpr uint32_t kDefaultAckWaitMs = 30000;
constexpr uint32_t kDefaultDuplicateWindowMs = 120000;
constexpr uint32_t kDefaultMaxInFlight = 8192;
constexpr uint32_t kDefaultFetchBatch = 64;
constexpr uint32_t kDefaultRetryBackoffMs = 200;
constexpr uint32_t kDefaultMaxRetryBackoffMs = 30000;
constexpr int64_t kFetchWaitMs = 500;
constexpr int64_t kNanosPerMs = 1000000;

uint32_t Or(uint32_t value, uint32_t fallback) {
  return value == 0 ? fallback : value;
}

std::string Durable(const NatsTransportConfig& c) {
  return c.durable().empty() ? "sild" : c.durable();
}

// The library's text for the last failure on this thread.
std::string NatsError(natsStatus status) {
  natsStatus ignored;
  const char* text = nats_GetLastError(&ignored);
  std::string error = natsStatus_GetText(status);
  if (text != nullptr && *text != '\0' && error != text) {
    absl::StrAppend(&error, ": ", text);
  }
  return error;
}

bool IsPermanentRefusal(const absl::Status& status) {
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

// Host of the first server URL ("tls://broker-1:4222" -> "broker-1").
std::string FirstHost(const NatsTransportConfig& c) {
  absl::string_view url = c.servers(0);
  size_t scheme = url.find("://");
  if (scheme != absl::string_view::npos) url.remove_prefix(scheme + 3);
  size_t at = url.rfind('@');
  if (at != absl::string_view::npos) url.remove_prefix(at + 1);
  if (absl::StartsWith(url, "[")) {
    return std::string(url.substr(1, url.find(']') - 1));
  }
  return std::string(url.substr(0, url.find_first_of(":/")));
}

bool WantsTls(const NatsTransportConfig& c) {
  if (!c.tls().ca_file().empty()) return true;
  return std::any_of(
      c.servers().begin(), c.servers().end(),
      [](const std::string& s) { return absl::StartsWith(s, "tls://"); });
}

absl::StatusOr<std::string> ReadSecret(const std::string& path,
                                       const std::string& field) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return InvalidField(
        "INVALID_CONNECTOR_CONFIG", field,
        absl::StrCat("cannot read ", path, ": ", text.status().message()));
  }
  return std::string(absl::StripAsciiWhitespace(*text));
}

// One NATS connection and its JetStream context, with the state the
// library's callbacks report. The callbacks' closure is this object, so it
// is destroyed only after the library confirmed the connection closed.
class Connection {
 public:
  explicit Connection(const NatsTransportConfig& config) : config_(config) {
    servers_ = absl::StrJoin(config.servers(), ",");
  }
  ~Connection() { Close(); }

  // Connects if not connected yet (libnats reconnects on its own after the
  // first success). `js_options` set the JetStream context's async publish
  // behaviour.
  absl::Status EnsureConnected(const jsOptions* js_options) {
    absl::MutexLock lock(&connect_mu_);
    if (nc_ != nullptr) return absl::OkStatus();
    natsOptions* options = nullptr;
    natsStatus s = natsOptions_Create(&options);
    absl::Status status = Configure(options, s);
    natsConnection* nc = nullptr;
    if (status.ok()) {
      s = natsConnection_Connect(&nc, options);
      if (s != NATS_OK) {
        status = absl::UnavailableError(absl::StrCat(
            "nats: cannot connect to ", servers_, ": ", NatsError(s)));
      }
    }
    natsOptions_Destroy(options);
    if (status.ok()) {
      jsOptions js_opts;
      jsOptions_Init(&js_opts);
      if (js_options != nullptr) js_opts = *js_options;
      jsCtx* js = nullptr;
      s = natsConnection_JetStream(&js, nc, &js_opts);
      if (s != NATS_OK) {
        status = absl::InternalError(
            absl::StrCat("nats: JetStream context: ", NatsError(s)));
        natsConnection_Close(nc);
        natsConnection_Destroy(nc);
        nc = nullptr;
        // The close callback still comes for this connection.
        closed_.WaitForNotificationWithTimeout(absl::Seconds(5));
      } else {
        absl::MutexLock state_lock(&mu_);
        nc_ = nc;
        js_ = js;
      }
    }
    absl::MutexLock state_lock(&mu_);
    last_error_ = status.ok() ? "" : std::string(status.message());
    return status;
  }

  // OK while connected; otherwise what is known of why not.
  absl::Status Health() const {
    absl::MutexLock lock(&mu_);
    if (nc_ != nullptr &&
        natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED) {
      return absl::OkStatus();
    }
    if (nc_ == nullptr && last_error_.empty()) {
      return absl::UnavailableError(
          absl::StrCat("nats: not connected to ", servers_, " yet"));
    }
    return absl::UnavailableError(absl::StrCat(
        "nats: no connection to ", servers_, last_error_.empty() ? "" : " (",
        last_error_, last_error_.empty() ? "" : ")"));
  }

  void SetLastError(std::string error) {
    absl::MutexLock lock(&mu_);
    last_error_ = std::move(error);
  }

  jsCtx* js() const { return js_; }
  natsConnection* nc() const { return nc_; }
  const std::string& servers() const { return servers_; }

  void Close() {
    absl::MutexLock lock(&connect_mu_);
    natsConnection* nc;
    jsCtx* js;
    {
      absl::MutexLock state_lock(&mu_);
      nc = nc_;
      js = js_;
      nc_ = nullptr;
      js_ = nullptr;
    }
    if (nc == nullptr) return;
    natsConnection_Close(nc);
    // Callbacks may still be queued; the closed one is the last.
    closed_.WaitForNotificationWithTimeout(absl::Seconds(10));
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }

 private:
  absl::Status Configure(natsOptions* options, natsStatus s) {
    std::vector<const char*> servers;
    for (const std::string& server : config_.servers()) {
      servers.push_back(server.c_str());
    }
    if (s == NATS_OK) {
      s = natsOptions_SetServers(options, servers.data(),
                                 static_cast<int>(servers.size()));
    }
    if (s == NATS_OK) s = natsOptions_SetName(options, "sild");
    if (s == NATS_OK) {
      s = natsOptions_SetTimeout(
          options, Or(config_.connect_timeout_ms(), kDefaultConnectTimeoutMs));
    }
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options, -1);
    if (s == NATS_OK) {
      s = natsOptions_SetReconnectWait(
          options, Or(config_.reconnect_wait_ms(), kDefaultReconnectWaitMs));
    }
    if (s == NATS_OK) s = natsOptions_SetReconnectJitter(options, 100, 1000);
    if (s == NATS_OK) {
      s = natsOptions_SetDisconnectedCB(options, &Connection::OnDisconnected,
                                        this);
    }
    if (s == NATS_OK) {
      s = natsOptions_SetReconnectedCB(options, &Connection::OnReconnected,
                                       this);
    }
    if (s == NATS_OK) {
      s = natsOptions_SetClosedCB(options, &Connection::OnClosed, this);
    }
    if (s == NATS_OK) {
      s = natsOptions_SetErrorHandler(options, &Connection::OnError, this);
    }
    if (s != NATS_OK) {
      return absl::InternalError(absl::StrCat("nats: options: ", NatsError(s)));
    }
    if (WantsTls(config_)) {
      const auto& tls = config_.tls();
      s = natsOptions_SetSecure(options, true);
      if (s == NATS_OK && !tls.ca_file().empty()) {
        s = natsOptions_LoadCATrustedCertificates(options,
                                                  tls.ca_file().c_str());
        if (s != NATS_OK) {
          return InvalidField("INVALID_CONNECTOR_CONFIG", "tls.ca_file",
                              absl::StrCat(tls.ca_file(), ": ", NatsError(s)));
        }
      }
      if (s == NATS_OK && !tls.cert_file().empty()) {
        s = natsOptions_LoadCertificatesChain(options, tls.cert_file().c_str(),
                                              tls.key_file().c_str());
        if (s != NATS_OK) {
          return InvalidField("INVALID_CONNECTOR_CONFIG", "tls.cert_file",
                              absl::StrCat(tls.cert_file(), " / ",
                                           tls.key_file(), ": ", NatsError(s)));
        }
      }
      std::string host =
          tls.server_name().empty() ? FirstHost(config_) : tls.server_name();
      if (s == NATS_OK && !host.empty()) {
        s = natsOptions_SetExpectedHostname(options, host.c_str());
      }
      if (s != NATS_OK) {
        return absl::InternalError(absl::StrCat("nats: TLS: ", NatsError(s)));
      }
    }
    if (!config_.token_file().empty()) {
      auto token = ReadSecret(config_.token_file(), "token_file");
      if (!token.ok()) return token.status();
      s = natsOptions_SetToken(options, token->c_str());
    } else if (!config_.password_file().empty()) {
      auto password = ReadSecret(config_.password_file(), "password_file");
      if (!password.ok()) return password.status();
      s = natsOptions_SetUserInfo(options, config_.user().c_str(),
                                  password->c_str());
    } else if (!config_.creds_file().empty()) {
      s = natsOptions_SetUserCredentialsFromFiles(
          options, config_.creds_file().c_str(), nullptr);
    }
    if (s != NATS_OK) {
      return absl::InternalError(
          absl::StrCat("nats: credentials: ", NatsError(s)));
    }
    return absl::OkStatus();
  }

  static void OnDisconnected(natsConnection* nc, void* closure) {
    auto* self = static_cast<Connection*>(closure);
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    self->SetLastError(absl::StrCat(
        "disconnected", text != nullptr && *text != '\0' ? ": " : "",
        text != nullptr ? text : ""));
  }
  static void OnReconnected(natsConnection*, void* closure) {
    static_cast<Connection*>(closure)->SetLastError("");
  }
  static void OnClosed(natsConnection*, void* closure) {
    auto* self = static_cast<Connection*>(closure);
    if (!self->closed_.HasBeenNotified()) self->closed_.Notify();
  }
  static void OnError(natsConnection*, natsSubscription*, natsStatus err,
                      void* closure) {
    static_cast<Connection*>(closure)->SetLastError(natsStatus_GetText(err));
  }

  NatsTransportConfig config_;
  std::string servers_;
  absl::Mutex connect_mu_;
  // Written under connect_mu_ and mu_: Health() reads them under mu_,
  // callers of js() after their own EnsureConnected().
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  absl::Notification closed_;
  mutable absl::Mutex mu_;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

// Creates the stream if the config asks for it and it is missing.
absl::Status EnsureStream(jsCtx* js, const NatsTransportConfig& c) {
  if (c.has_create_stream() && !c.create_stream()) return absl::OkStatus();
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetStreamInfo(&info, js, c.stream().c_str(), nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return absl::OkStatus();
  }
  if (s != NATS_NOT_FOUND) {
    return absl::UnavailableError(
        absl::StrCat("nats: stream ", c.stream(), ": ", NatsError(s)));
  }
  std::vector<const char*> subjects = {c.subject().c_str()};
  if (!c.dead_letter_subject().empty()) {
    subjects.push_back(c.dead_letter_subject().c_str());
  }
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = c.stream().c_str();
  config.Subjects = subjects.data();
  config.SubjectsLen = static_cast<int>(subjects.size());
  config.Storage = js_FileStorage;
  config.Duplicates =
      int64_t{Or(c.duplicate_window_ms(), kDefaultDuplicateWindowMs)} *
      kNanosPerMs;
  s = js_AddStream(&info, js, &config, nullptr, &code);
  if (s != NATS_OK) {
    std::string error = NatsError(s);
    // Another instance may have created it meanwhile.
    if (js_GetStreamInfo(&info, js, c.stream().c_str(), nullptr, &code) ==
        NATS_OK) {
      jsStreamInfo_Destroy(info);
      return absl::OkStatus();
    }
    return absl::UnavailableError(
        absl::StrCat("nats: cannot create stream ", c.stream(), ": ", error));
  }
  jsStreamInfo_Destroy(info);
  return absl::OkStatus();
}

std::string Header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) {
    return "";
  }
  return value;
}

}  // namespace

absl::Status CheckNatsConfig(const NatsTransportConfig& c, bool ingress) {
  if (c.servers().empty()) {
    return InvalidField("MISSING_FIELD", "servers",
                        "the nats transport needs a server URL");
  }
  for (int i = 0; i < c.servers_size(); ++i) {
    if (c.servers(i).empty()) {
      return InvalidField("INVALID_CONNECTOR_CONFIG",
                          absl::StrCat("servers[", i, "]"), "empty URL");
    }
  }
  if (c.stream().empty()) {
    return InvalidField("MISSING_FIELD", "stream", "a JetStream stream name");
  }
  if (c.subject().empty()) {
    return InvalidField("MISSING_FIELD", "subject", "a subject");
  }
  if (ingress && c.dead_letter_subject().empty()) {
    return InvalidField("MISSING_FIELD", "dead_letter_subject",
                        "ingress needs a subject for refused messages");
  }
  int kinds = (c.token_file().empty() ? 0 : 1) +
              (c.password_file().empty() ? 0 : 1) +
              (c.creds_file().empty() ? 0 : 1);
  if (kinds > 1) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "password_file",
                        "set one of password_file, token_file, creds_file");
  }
  if (!c.password_file().empty() && c.user().empty()) {
    return InvalidField("MISSING_FIELD", "user", "password_file needs a user");
  }
  if (c.tls().cert_file().empty() != c.tls().key_file().empty()) {
    return InvalidField(
        "MISSING_FIELD",
        c.tls().cert_file().empty() ? "tls.cert_file" : "tls.key_file",
        "a client certificate needs both cert_file and "
        "key_file");
  }
  const std::pair<std::string, std::string> files[] = {
      {"password_file", c.password_file()},
      {"token_file", c.token_file()},
      {"creds_file", c.creds_file()},
      {"tls.ca_file", c.tls().ca_file()},
      {"tls.cert_file", c.tls().cert_file()},
      {"tls.key_file", c.tls().key_file()}};
  for (const auto& [field, path] : files) {
    std::error_code error;
    if (!path.empty() && !std::filesystem::is_regular_file(path, error)) {
      return InvalidField("INVALID_CONNECTOR_CONFIG", field,
                          absl::StrCat(path, ": no such file"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- egress

struct NatsEgressTransport::State {
  explicit State(const NatsTransportConfig& c) : config(c), connection(c) {}

  // One DeliverBatch call waiting for its acknowledgements.
  struct Batch {
    std::vector<DeliveryResult> results;
    std::vector<bool> done;
    size_t remaining = 0;
  };
  struct Pending {
    Batch* batch;
    size_t index;
  };

  NatsTransportConfig config;
  Connection connection;
  absl::Mutex mu;
  std::map<natsMsg*, Pending> pending ABSL_GUARDED_BY(mu);
  bool stream_ready ABSL_GUARDED_BY(mu) = false;

  jsOptions JsOptions() {
    jsOptions options;
    jsOptions_Init(&options);
    options.Wait = Or(config.publish_timeout_ms(), kDefaultPublishTimeoutMs);
    options.PublishAsync.MaxPending =
        Or(config.max_in_flight(), kDefaultMaxInFlight);
    options.PublishAsync.AckHandler = &State::OnAck;
    options.PublishAsync.AckHandlerClosure = this;
    options.PublishAsync.StallWait = options.Wait;
    return options;
  }

  // Called by the library for every asynchronous publish, once.
  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
                    void* closure) {
    auto* self = static_cast<State*>(closure);
    {
      absl::MutexLock lock(&self->mu);
      auto it = self->pending.find(msg);
      if (it != self->pending.end()) {
        Batch* batch = it->second.batch;
        size_t index = it->second.index;
        self->pending.erase(it);
        if (ack != nullptr) {
          batch->results[index] = DeliveryResult::Delivered();
        } else {
          std::string text =
              error == nullptr
                  ? "no acknowledgement"
                  : absl::StrCat(
                        natsStatus_GetText(error->Err),
                        error->ErrText != nullptr ? ": " : "",
                        error->ErrText != nullptr ? error->ErrText : "");
          batch->results[index] = DeliveryResult::Retryable(
              absl::StrCat("nats: publish to ", self->config.subject(),
                           " not acknowledged: ", text));
        }
        batch->done[index] = true;
        --batch->remaining;
      }
    }
    natsMsg_Destroy(msg);
  }
};

NatsEgressTransport::NatsEgressTransport(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

NatsEgressTransport::~NatsEgressTransport() {
  if (state_->connection.js() != nullptr) {
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = 1000;
    js_PublishAsyncComplete(state_->connection.js(), &options);
  }
  state_->connection.Close();
}

absl::StatusOr<std::unique_ptr<NatsEgressTransport>>
NatsEgressTransport::Create(NatsTransportConfig config) {
  absl::Status status = CheckNatsConfig(config, /*ingress=*/false);
  if (!status.ok()) return status;
  auto state = std::make_unique<State>(config);
  // Not fatal: health() reports it and Deliver() tries again.
  jsOptions options = state->JsOptions();
  status = state->connection.EnsureConnected(&options);
  if (ErrorReason(status) == "INVALID_CONNECTOR_CONFIG") return status;
  return std::unique_ptr<NatsEgressTransport>(
      new NatsEgressTransport(std::move(state)));
}

DeliveryResult NatsEgressTransport::Deliver(const OutboundMessage& message) {
  return DeliverBatch({message})[0];
}

std::vector<DeliveryResult> NatsEgressTransport::DeliverBatch(
    const std::vector<OutboundMessage>& messages) {
  State& s = *state_;
  State::Batch batch;
  batch.results.assign(messages.size(), DeliveryResult::Retryable(""));
  batch.done.assign(messages.size(), false);
  jsOptions js_options = s.JsOptions();
  absl::Status status = s.connection.EnsureConnected(&js_options);
  bool stream_ready;
  {
    absl::MutexLock lock(&s.mu);
    stream_ready = s.stream_ready;
  }
  if (status.ok() && !stream_ready) {
    status = EnsureStream(s.connection.js(), s.config);
    absl::MutexLock lock(&s.mu);
    s.stream_ready = status.ok();
  }
  if (!status.ok()) {
    for (DeliveryResult& r : batch.results) {
      r = DeliveryResult::Retryable(std::string(status.message()));
    }
    return batch.results;
  }
  const uint32_t timeout_ms =
      Or(s.config.publish_timeout_ms(), kDefaultPublishTimeoutMs);
  std::vector<natsMsg*> sent(messages.size(), nullptr);
  for (size_t i = 0; i < messages.size(); ++i) {
    const OutboundMessage& m = messages[i];
    natsMsg* msg = nullptr;
    natsStatus ns =
        natsMsg_Create(&msg, s.config.subject().c_str(), nullptr,
                       m.bytes.data(), static_cast<int>(m.bytes.size()));
    if (ns == NATS_OK && !m.kind.empty()) {
      ns = natsMsgHeader_Set(msg, "Sild-Kind", m.kind.c_str());
    }
    if (ns == NATS_OK && !m.content_type.empty()) {
      ns = natsMsgHeader_Set(msg, "Content-Type", m.content_type.c_str());
    }
    if (ns == NATS_OK && !m.recipient.empty()) {
      ns = natsMsgHeader_Set(msg, "Sild-Recipient", m.recipient.c_str());
    }
    if (ns == NATS_OK && !m.key.empty()) {
      ns = natsMsgHeader_Set(msg, "Sild-Key", m.key.c_str());
    }
    if (ns != NATS_OK) {
      natsMsg_Destroy(msg);
      batch.results[i] = DeliveryResult::Permanent(
          absl::StrCat("nats: cannot build the message: ", NatsError(ns)));
      batch.done[i] = true;
      continue;
    }
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MsgId = m.message_id.c_str();
    options.MaxWait = timeout_ms;
    {
      absl::MutexLock lock(&s.mu);
      s.pending[msg] = {&batch, i};
      ++batch.remaining;
    }
    natsMsg* owned = msg;
    ns = js_PublishMsgAsync(s.connection.js(), &owned, &options);
    if (ns != NATS_OK) {
      // Not taken: no acknowledgement will come for it.
      std::string error = NatsError(ns);
      absl::MutexLock lock(&s.mu);
      s.pending.erase(msg);
      --batch.remaining;
      batch.done[i] = true;
      batch.results[i] = ns == NATS_MAX_PAYLOAD
                             ? DeliveryResult::Permanent(absl::StrCat(
                                   "nats: message too large: ", error))
                             : DeliveryResult::Retryable(absl::StrCat(
                                   "nats: cannot publish: ", error));
      natsMsg_Destroy(owned);
      continue;
    }
    sent[i] = msg;
  }
  absl::MutexLock lock(&s.mu);
  auto all_done = [&batch] { return batch.remaining == 0; };
  // The library times each publish out after MaxWait; the margin covers
  // the time the publishes took to send.
  s.mu.AwaitWithTimeout(absl::Condition(&all_done),
                        absl::Milliseconds(timeout_ms) + absl::Seconds(2));
  for (size_t i = 0; i < messages.size(); ++i) {
    if (batch.done[i]) continue;
    s.pending.erase(sent[i]);
    batch.results[i] = DeliveryResult::Retryable(absl::StrCat(
        "nats: no publish acknowledgement within ", timeout_ms, " ms"));
  }
  return batch.results;
}

absl::Status NatsEgressTransport::health() const {
  return state_->connection.Health();
}

// ---------------------------------------------------------------- ingress

struct NatsIngressTransport::State {
  explicit State(const NatsTransportConfig& c) : config(c), connection(c) {}
  ~State() {
    if (subscription != nullptr) natsSubscription_Destroy(subscription);
    connection.Close();
  }

  NatsTransportConfig config;
  Connection connection;
  InboundHandler handler;
  // Only the fetching thread touches it (and the destructor).
  natsSubscription* subscription = nullptr;

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  std::string setup_error ABSL_GUARDED_BY(mu);

  // Connects, creates the stream and the durable consumer if missing and
  // binds a pull subscription to it.
  absl::Status Setup() {
    absl::Status status = connection.EnsureConnected(nullptr);
    if (!status.ok()) return status;
    jsCtx* js = connection.js();
    status = EnsureStream(js, config);
    if (!status.ok()) return status;
    const std::string durable = Durable(config);
    jsConsumerInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&info, js, config.stream().c_str(),
                                      durable.c_str(), nullptr, &code);
    if (s == NATS_NOT_FOUND) {
      jsConsumerConfig consumer;
      jsConsumerConfig_Init(&consumer);
      consumer.Durable = durable.c_str();
      consumer.AckPolicy = js_AckExplicit;
      consumer.DeliverPolicy = js_DeliverAll;
      consumer.AckWait =
          int64_t{Or(config.ack_wait_ms(), kDefaultAckWaitMs)} * kNanosPerMs;
      consumer.MaxDeliver =
          config.max_deliver() <= 0 ? -1 : config.max_deliver();
      consumer.FilterSubject = config.subject().c_str();
      s = js_AddConsumer(&info, js, config.stream().c_str(), &consumer, nullptr,
                         &code);
    }
    if (s != NATS_OK) {
      return absl::UnavailableError(absl::StrCat("nats: consumer ", durable,
                                                 " on stream ", config.stream(),
                                                 ": ", NatsError(s)));
    }
    jsConsumerInfo_Destroy(info);
    jsSubOptions options;
    jsSubOptions_Init(&options);
    // Bound to the durable: the library never deletes a consumer it did
    // not create, so unsubscribing keeps the position.
    options.Stream = config.stream().c_str();
    options.Consumer = durable.c_str();
    s = js_PullSubscribe(&subscription, js, config.subject().c_str(),
                         durable.c_str(), nullptr, &options, &code);
    if (s != NATS_OK) {
      subscription = nullptr;
      return absl::UnavailableError(absl::StrCat(
          "nats: pull subscription on ", config.subject(), ": ", NatsError(s)));
    }
    return absl::OkStatus();
  }

  int64_t BackoffMs(natsMsg* msg) const {
    jsMsgMetaData* meta = nullptr;
    uint64_t delivered = 1;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      delivered = std::max<uint64_t>(meta->NumDelivered, 1);
      jsMsgMetaData_Destroy(meta);
    }
    int64_t delay = Or(config.retry_backoff_ms(), kDefaultRetryBackoffMs);
    const int64_t limit =
        Or(config.max_retry_backoff_ms(), kDefaultMaxRetryBackoffMs);
    for (uint64_t i = 1; i < delivered && delay < limit; ++i) delay *= 2;
    return std::min(delay, limit);
  }

  // Publishes the refused message to the dead-letter subject and waits for
  // the stream's acknowledgement.
  absl::Status DeadLetter(natsMsg* msg, const std::string& message_id,
                          const absl::Status& refusal) {
    natsMsg* dead = nullptr;
    natsStatus s =
        natsMsg_Create(&dead, config.dead_letter_subject().c_str(), nullptr,
                       natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    std::string reason = ErrorReason(refusal);
    if (reason.empty()) reason = absl::StatusCodeToString(refusal.code());
    const std::string field = ErrorField(refusal);
    const std::string text(refusal.message());
    const std::string content_type = Header(msg, "Content-Type");
    if (s == NATS_OK && !message_id.empty()) {
      s = natsMsgHeader_Set(dead, "Sild-Message-Id", message_id.c_str());
    }
    if (s == NATS_OK)
      s = natsMsgHeader_Set(dead, "Sild-Reason", reason.c_str());
    if (s == NATS_OK && !field.empty()) {
      s = natsMsgHeader_Set(dead, "Sild-Field", field.c_str());
    }
    if (s == NATS_OK) s = natsMsgHeader_Set(dead, "Sild-Error", text.c_str());
    if (s == NATS_OK) {
      s = natsMsgHeader_Set(dead, "Sild-Source-Subject",
                            natsMsg_GetSubject(msg));
    }
    if (s == NATS_OK && !content_type.empty()) {
      s = natsMsgHeader_Set(dead, "Content-Type", content_type.c_str());
    }
    // Its own id: the original's id is already in the stream's window.
    const std::string dead_id = absl::StrCat(message_id, ".dead-letter");
    jsPubOptions options;
    jsPubOptions_Init(&options);
    if (!message_id.empty()) options.MsgId = dead_id.c_str();
    options.MaxWait = Or(config.publish_timeout_ms(), kDefaultPublishTimeoutMs);
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (s == NATS_OK) {
      s = js_PublishMsg(&ack, connection.js(), dead, &options, &code);
    }
    std::string error = s == NATS_OK ? "" : NatsError(s);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(dead);
    if (s != NATS_OK) {
      return absl::UnavailableError(absl::StrCat(
          "nats: dead letter to ", config.dead_letter_subject(), ": ", error));
    }
    return absl::OkStatus();
  }

  void Finish(natsMsg* msg, const std::string& message_id,
              const absl::Status& status) {
    if (status.ok()) {
      natsMsg_Ack(msg, nullptr);
    } else if (IsPermanentRefusal(status)) {
      absl::Status dead = DeadLetter(msg, message_id, status);
      if (dead.ok()) {
        natsMsg_Term(msg, nullptr);
      } else {
        connection.SetLastError(std::string(dead.message()));
        natsMsg_NakWithDelay(msg, BackoffMs(msg), nullptr);
      }
    } else {
      natsMsg_NakWithDelay(msg, BackoffMs(msg), nullptr);
    }
    natsMsg_Destroy(msg);
    absl::MutexLock lock(&mu);
    --in_flight;
  }

  bool WaitStopping(absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto stop = [this] {
      mu.AssertHeld();
      return stopping;
    };
    return mu.AwaitWithTimeout(absl::Condition(&stop), timeout);
  }

  void Run(const std::shared_ptr<State>& self) {
    const absl::Duration retry_wait = absl::Milliseconds(
        Or(config.reconnect_wait_ms(), kDefaultReconnectWaitMs));
    const int batch =
        static_cast<int>(Or(config.fetch_batch(), kDefaultFetchBatch));
    while (true) {
      {
        absl::MutexLock lock(&mu);
        if (stopping) return;
      }
      if (subscription == nullptr) {
        absl::Status status = Setup();
        {
          absl::MutexLock lock(&mu);
          setup_error = status.ok() ? "" : std::string(status.message());
        }
        if (!status.ok()) {
          if (WaitStopping(retry_wait)) return;
          continue;
        }
      }
      natsMsgList list{};
      jsErrCode code = static_cast<jsErrCode>(0);
      natsStatus s = natsSubscription_Fetch(&list, subscription, batch,
                                            kFetchWaitMs, &code);
      if (s == NATS_TIMEOUT) continue;
      if (s != NATS_OK) {
        // Disconnected or JetStream not ready after a restart: libnats
        // reconnects; look again shortly.
        natsMsgList_Destroy(&list);
        if (WaitStopping(retry_wait)) return;
        continue;
      }
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* msg = list.Msgs[i];
        list.Msgs[i] = nullptr;
        InboundMessage message;
        message.bytes.assign(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
        message.message_id = Header(msg, "Nats-Msg-Id");
        message.content_type = Header(msg, "Content-Type");
        const char** keys = nullptr;
        int count = 0;
        if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
          for (int k = 0; k < count; ++k) {
            message.headers[keys[k]] = Header(msg, keys[k]);
          }
          free(keys);
        }
        message.headers["subject"] = natsMsg_GetSubject(msg);
        {
          absl::MutexLock lock(&mu);
          ++in_flight;
        }
        std::string id = message.message_id;
        handler(message, [self, msg, id](absl::Status status) {
          self->Finish(msg, id, status);
        });
      }
      natsMsgList_Destroy(&list);
    }
  }
};

NatsIngressTransport::NatsIngressTransport(std::shared_ptr<State> state)
    : state_(std::move(state)) {}

NatsIngressTransport::~NatsIngressTransport() { Stop(); }

absl::StatusOr<std::unique_ptr<NatsIngressTransport>>
NatsIngressTransport::Create(NatsTransportConfig config) {
  absl::Status status = CheckNatsConfig(config, /*ingress=*/true);
  if (!status.ok()) return status;
  return std::unique_ptr<NatsIngressTransport>(
      new NatsIngressTransport(std::make_shared<State>(config)));
}

absl::Status NatsIngressTransport::Start(InboundHandler handler) {
  if (fetcher_.joinable()) {
    return absl::FailedPreconditionError("nats ingress already started");
  }
  state_->handler = std::move(handler);
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = false;
  }
  std::shared_ptr<State> state = state_;
  fetcher_ = std::thread([state] {
    NameThisThread("sild-nats");
    state->Run(state);
  });
  return absl::OkStatus();
}

void NatsIngressTransport::Stop() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  if (fetcher_.joinable()) fetcher_.join();
  absl::MutexLock lock(&state_->mu);
  auto idle = [this] {
    state_->mu.AssertHeld();
    return state_->in_flight == 0;
  };
  state_->mu.Await(absl::Condition(&idle));
}

absl::Status NatsIngressTransport::health() const {
  absl::Status status = state_->connection.Health();
  if (!status.ok()) return status;
  absl::MutexLock lock(&state_->mu);
  if (!state_->setup_error.empty()) {
    return absl::UnavailableError(state_->setup_error);
  }
  return absl::OkStatus();
}

namespace {

using NatsEgressFactory =
    TypedEgressTransportFactory<kNatsTransportName, NatsTransportConfig,
                                NatsEgressTransport>;
using NatsIngressFactory =
    TypedIngressTransportFactory<kNatsTransportName, NatsTransportConfig,
                                 NatsIngressTransport>;
SILD_REGISTER_EGRESS_TRANSPORT_FACTORY(NatsEgressFactory);
SILD_REGISTER_INGRESS_TRANSPORT_FACTORY(NatsIngressFactory);

}  // namespace
}  // namespace sild::connectors
