#include "connectors/transports/amqp/amqp_transport.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/thread_name.h"

namespace sild::connectors {
namespace {

using sild::connectors::v1::AmqpTransportConfig;

constexpr uint32_t kDefaultConnectTimeoutMs = 5000;
constexpr uint32_t kDefaultConfirmTimeoutMs = 5000;
constexpr uint32_t kDefaultReconnectWaitMs = 500;
constexpr uint32_t kDefaultHeartbeatS = 30;
constexpr uint32_t kDefaultPrefetch = 64;
constexpr amqp_channel_t kChannel = 1;
// How long one consume waits, so acks and Stop() are handled promptly.
constexpr int kConsumeWaitMs = 50;

uint32_t Or(uint32_t value, uint32_t fallback) {
  return value == 0 ? fallback : value;
}

int Port(const AmqpTransportConfig& c) {
  if (c.port() != 0) return static_cast<int>(c.port());
  return c.tls().ca_file().empty() ? 5672 : 5671;
}

std::string Where(const AmqpTransportConfig& c) {
  return absl::StrCat(c.tls().ca_file().empty() ? "amqp://" : "amqps://",
                      c.host(), ":", Port(c),
                      c.vhost().empty() ? "/" : c.vhost());
}

std::string Text(amqp_bytes_t bytes) {
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

timeval Timeval(int64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000),
                 static_cast<suseconds_t>((ms % 1000) * 1000)};
}

// The broker's or the library's words for a failed RPC.
std::string ReplyError(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "";
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return absl::StrCat("connection closed by the broker: ", m->reply_code,
                            " ", Text(m->reply_text));
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return absl::StrCat("channel closed by the broker: ", m->reply_code,
                            " ", Text(m->reply_text));
      }
      return "broker error";
  }
  return "unknown error";
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

std::string TableString(const amqp_table_t& table, const std::string& key) {
  for (int i = 0; i < table.num_entries; ++i) {
    if (Text(table.entries[i].key) == key &&
        (table.entries[i].value.kind == AMQP_FIELD_KIND_UTF8 ||
         table.entries[i].value.kind == AMQP_FIELD_KIND_BYTES)) {
      return Text(table.entries[i].value.value.bytes);
    }
  }
  return "";
}

// Headers as an AMQP table; the strings must outlive the table.
class Headers {
 public:
  void Add(const std::string& key, const std::string& value) {
    if (value.empty()) return;
    // Kept here: the table points into these strings.
    const std::string& k = strings_.emplace_back(key);
    const std::string& v = strings_.emplace_back(value);
    amqp_table_entry_t entry;
    entry.key = Bytes(k);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = Bytes(v);
    entries_.push_back(entry);
  }
  amqp_table_t table() {
    return amqp_table_t{static_cast<int>(entries_.size()), entries_.data()};
  }

 private:
  std::deque<std::string> strings_;
  std::vector<amqp_table_entry_t> entries_;
};

// One AMQP connection with channel 1 open. Not thread-safe: its owner
// serialises the calls.
class Connection {
 public:
  explicit Connection(const AmqpTransportConfig& config) : config_(config) {}
  ~Connection() { Close(); }

  bool connected() const { return conn_ != nullptr; }
  amqp_connection_state_t conn() const { return conn_; }

  absl::Status Connect(bool confirms) {
    if (conn_ != nullptr) return absl::OkStatus();
    std::string password = "guest";
    if (!config_.password_file().empty()) {
      auto text = ReadFileToString(config_.password_file());
      if (!text.ok()) {
        return InvalidField(
            "INVALID_CONNECTOR_CONFIG", "password_file",
            absl::StrCat("cannot read ", config_.password_file(), ": ",
                         text.status().message()));
      }
      password = std::string(absl::StripAsciiWhitespace(*text));
    }
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = nullptr;
    const auto& tls = config_.tls();
    if (!tls.ca_file().empty()) {
      socket = amqp_ssl_socket_new(conn_);
      if (socket == nullptr) return Fail("cannot create a TLS socket");
      if (amqp_ssl_socket_set_cacert(socket, tls.ca_file().c_str()) !=
          AMQP_STATUS_OK) {
        Close(/*graceful=*/false);  // nothing was opened
        return InvalidField("INVALID_CONNECTOR_CONFIG", "tls.ca_file",
                            absl::StrCat(tls.ca_file(), ": not a CA bundle"));
      }
      if (!tls.cert_file().empty() &&
          amqp_ssl_socket_set_key(socket, tls.cert_file().c_str(),
                                  tls.key_file().c_str()) != AMQP_STATUS_OK) {
        Close(/*graceful=*/false);  // nothing was opened
        return InvalidField(
            "INVALID_CONNECTOR_CONFIG", "tls.cert_file",
            absl::StrCat(tls.cert_file(), " / ", tls.key_file(),
                         ": cannot load the client certificate"));
      }
      amqp_ssl_socket_set_verify_peer(socket, 1);
      amqp_ssl_socket_set_verify_hostname(
          socket, tls.has_verify_hostname() ? tls.verify_hostname() : 1);
    } else {
      socket = amqp_tcp_socket_new(conn_);
      if (socket == nullptr) return Fail("cannot create a socket");
    }
    timeval timeout =
        Timeval(Or(config_.connect_timeout_ms(), kDefaultConnectTimeoutMs));
    int rc = amqp_socket_open_noblock(socket, config_.host().c_str(),
                                      Port(config_), &timeout);
    if (rc != AMQP_STATUS_OK) return Fail(amqp_error_string2(rc));
    amqp_set_handshake_timeout(conn_, &timeout);
    amqp_set_rpc_timeout(conn_, &timeout);
    const std::string user = config_.user().empty() ? "guest" : config_.user();
    const std::string vhost = config_.vhost().empty() ? "/" : config_.vhost();
    amqp_rpc_reply_t reply = amqp_login(
        conn_, vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE,
        static_cast<int>(Or(config_.heartbeat_s(), kDefaultHeartbeatS)),
        AMQP_SASL_METHOD_PLAIN, user.c_str(), password.c_str());
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      return Fail(absl::StrCat("login as ", user, ": ", ReplyError(reply)));
    }
    amqp_channel_open(conn_, kChannel);
    reply = amqp_get_rpc_reply(conn_);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      return Fail(absl::StrCat("channel: ", ReplyError(reply)));
    }
    if (confirms) {
      amqp_confirm_select(conn_, kChannel);
      reply = amqp_get_rpc_reply(conn_);
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        return Fail(absl::StrCat("confirm.select: ", ReplyError(reply)));
      }
    }
    next_tag_ = 1;
    return absl::OkStatus();
  }

  // Declares `queue` (durable) and binds it to `exchange` by `key` when the
  // exchange is not the default one.
  absl::Status DeclareQueue(const std::string& queue,
                            const std::string& exchange,
                            const std::string& key) {
    if (queue.empty() ||
        (config_.has_declare_topology() && !config_.declare_topology())) {
      return absl::OkStatus();
    }
    amqp_queue_declare(conn_, kChannel, Bytes(queue), 0, 1, 0, 0,
                       amqp_empty_table);
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn_);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      return Fail(
          absl::StrCat("declare queue ", queue, ": ", ReplyError(reply)));
    }
    if (!exchange.empty()) {
      amqp_queue_bind(conn_, kChannel, Bytes(queue), Bytes(exchange),
                      Bytes(key.empty() ? queue : key), amqp_empty_table);
      reply = amqp_get_rpc_reply(conn_);
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        return Fail(absl::StrCat("bind queue ", queue, " to ", exchange, ": ",
                                 ReplyError(reply)));
      }
    }
    return absl::OkStatus();
  }

  // Publishes; returns the delivery tag the confirm will carry.
  absl::StatusOr<uint64_t> Publish(const std::string& exchange,
                                   const std::string& key,
                                   const amqp_basic_properties_t& props,
                                   const std::string& body) {
    if (conn_ == nullptr) return Fail("not connected");
    int rc = amqp_basic_publish(conn_, kChannel, Bytes(exchange), Bytes(key),
                                /*mandatory=*/1, /*immediate=*/0, &props,
                                Bytes(body));
    if (rc != AMQP_STATUS_OK) {
      return Fail(absl::StrCat("publish: ", amqp_error_string2(rc)));
    }
    return next_tag_++;
  }

  // Results of publisher confirms: tag -> error ("" = acked).
  using Confirms = std::map<uint64_t, std::string>;

  // Reads frames until every tag in [first, last] is confirmed or the
  // deadline passes. ids[t - first] is the message id published with tag t:
  // a returned (unroutable) message is matched to its tag by that id and
  // reported with the broker's reason, whether its ack comes alone or in a
  // multiple ack together with routable messages.
  absl::Status WaitConfirms(uint64_t first, uint64_t last,
                            const std::vector<std::string>& ids,
                            absl::Time deadline, Confirms& confirms) {
    // Returned message id -> reason, in the order returned.
    std::multimap<std::string, std::string> returned;
    auto settle = [&](uint64_t tag, bool multiple, const std::string& error) {
      const uint64_t from = std::max(multiple ? first : tag, first);
      for (uint64_t t = from; t <= std::min(tag, last); ++t) {
        if (confirms.contains(t)) continue;
        std::string result = error;
        if (result.empty()) {
          auto it = returned.lower_bound(ids[t - first]);
          if (it != returned.end() && it->first == ids[t - first]) {
            result = it->second;
            returned.erase(it);
          }
        }
        confirms[t] = std::move(result);
      }
    };
    while (confirms.size() < last - first + 1) {
      // A failure while publishing the batch closed the connection: its
      // confirms can never arrive.
      if (conn_ == nullptr) {
        return absl::UnavailableError(absl::StrCat(
            "amqp: ", Where(config_),
            ": the connection closed before the publisher confirms"));
      }
      const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left <= 0) return absl::OkStatus();
      amqp_frame_t frame;
      timeval timeout = Timeval(left);
      int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &timeout);
      if (rc == AMQP_STATUS_TIMEOUT) return absl::OkStatus();
      if (rc != AMQP_STATUS_OK) {
        return Fail(
            absl::StrCat("waiting for confirms: ", amqp_error_string2(rc)));
      }
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
          auto* ack =
              static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          // A returned message is acked too (the return came first):
          // settle() reports it with the return's reason.
          settle(ack->delivery_tag, ack->multiple, "");
          break;
        }
        case AMQP_BASIC_NACK_METHOD: {
          auto* nack =
              static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
          settle(nack->delivery_tag, nack->multiple,
                 "amqp: the broker refused the message (nack)");
          break;
        }
        case AMQP_BASIC_RETURN_METHOD: {
          auto* ret =
              static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
          std::string reason =
              absl::StrCat("amqp: unroutable: exchange \"", Text(ret->exchange),
                           "\" routing key \"", Text(ret->routing_key),
                           "\": ", ret->reply_code, " ", Text(ret->reply_text));
          amqp_message_t message;
          amqp_rpc_reply_t reply =
              amqp_read_message(conn_, kChannel, &message, 0);
          if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            return Fail(absl::StrCat("reading a returned message: ",
                                     ReplyError(reply)));
          }
          returned.emplace(Text(message.properties.message_id), reason);
          amqp_destroy_message(&message);
          break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
          auto* close =
              static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
          std::string error =
              absl::StrCat("channel closed by the broker: ", close->reply_code,
                           " ", Text(close->reply_text));
          amqp_channel_close_ok_t ok{};
          amqp_send_method(conn_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
          return Fail(error);
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
          auto* close = static_cast<amqp_connection_close_t*>(
              frame.payload.method.decoded);
          return Fail(absl::StrCat(
              "connection closed by the broker: ", close->reply_code, " ",
              Text(close->reply_text)));
        }
        default:
          break;
      }
    }
    amqp_maybe_release_buffers(conn_);
    return absl::OkStatus();
  }

  // Whether the open connection still works, found without waiting: reads
  // what the broker sent meanwhile (and sends a heartbeat if one is due).
  // An idle connection gets no heartbeats, so the broker drops it after two
  // missed intervals; a restarting broker closes it. Such a connection (or
  // one with any unexpected frame pending) is closed here, so the caller
  // opens a new one instead of losing a publish on it.
  bool Alive() {
    if (conn_ == nullptr) return false;
    amqp_frame_t frame;
    timeval now{0, 0};
    int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &now);
    if (rc == AMQP_STATUS_TIMEOUT) return true;
    Close(/*graceful=*/false);
    return false;
  }

  // Drops the connection after an error; the error is returned.
  absl::Status Fail(const std::string& error) {
    Close(/*graceful=*/false);
    return absl::UnavailableError(
        absl::StrCat("amqp: ", Where(config_), ": ", error));
  }

  void Close(bool graceful = true) {
    if (conn_ == nullptr) return;
    if (graceful) {
      amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
  }

 private:
  AmqpTransportConfig config_;
  amqp_connection_state_t conn_ = nullptr;
  uint64_t next_tag_ = 1;
};

amqp_basic_properties_t Properties(const std::string& message_id,
                                   const std::string& kind,
                                   const std::string& content_type,
                                   Headers& headers) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.headers = headers.table();
  if (!message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = Bytes(message_id);
  }
  if (!kind.empty()) {
    props._flags |= AMQP_BASIC_TYPE_FLAG;
    props.type = Bytes(kind);
  }
  if (!content_type.empty()) {
    props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = Bytes(content_type);
  }
  return props;
}

// A confirmed publisher: one connection under a mutex.
class Publisher {
 public:
  explicit Publisher(const AmqpTransportConfig& config)
      : config_(config), connection_(config) {}

  absl::Status Connect() {
    absl::MutexLock lock(&mu_);
    return ConnectLocked();
  }

  struct Item {
    std::string message_id;
    std::string kind;
    std::string content_type;
    const std::string* body;
    Headers headers;
  };

  // One error per item ("" = confirmed).
  std::vector<std::string> Publish(const std::string& exchange,
                                   const std::string& key,
                                   std::vector<Item>& items) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> errors(items.size());
    absl::Status status = ConnectLocked();
    if (!status.ok()) {
      errors.assign(items.size(), std::string(status.message()));
      return errors;
    }
    std::vector<uint64_t> tags(items.size(), 0);
    for (size_t i = 0; i < items.size(); ++i) {
      Item& item = items[i];
      amqp_basic_properties_t props = Properties(
          item.message_id, item.kind, item.content_type, item.headers);
      auto tag = connection_.Publish(exchange, key, props, *item.body);
      if (!tag.ok()) {
        // The failed publish closed the connection, so the items published
        // before it are unconfirmed too: all of them fail and are retried
        // (the recipient drops duplicates by message id).
        SetError(tag.status());
        for (size_t j = 0; j < items.size(); ++j) {
          errors[j] = j < i ? absl::StrCat("no publisher confirm, ",
                                           tag.status().message())
                            : std::string(tag.status().message());
        }
        return errors;
      }
      tags[i] = *tag;
    }
    if (items.empty()) return errors;
    const absl::Time deadline =
        absl::Now() + absl::Milliseconds(Or(config_.confirm_timeout_ms(),
                                            kDefaultConfirmTimeoutMs));
    std::vector<std::string> ids;
    ids.reserve(items.size());
    for (const Item& item : items) ids.push_back(item.message_id);
    Connection::Confirms confirms;
    status = connection_.WaitConfirms(tags[0], tags[items.size() - 1], ids,
                                      deadline, confirms);
    if (!status.ok()) SetError(status);
    for (size_t i = 0; i < items.size(); ++i) {
      auto it = confirms.find(tags[i]);
      if (it != confirms.end()) {
        errors[i] = it->second;
      } else {
        errors[i] = status.ok() ? "amqp: no publisher confirm in time"
                                : std::string(status.message());
        // Confirms after the deadline would be read as another batch's.
        if (status.ok()) connection_.Close(false);
      }
    }
    return errors;
  }

  absl::Status Health() const {
    absl::MutexLock lock(&mu_);
    if (!last_error_.empty()) return absl::UnavailableError(last_error_);
    return absl::OkStatus();
  }

 private:
  absl::Status ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (connection_.Alive()) return absl::OkStatus();
    absl::Status status = connection_.Connect(/*confirms=*/true);
    if (status.ok()) {
      status = connection_.DeclareQueue(config_.queue(), config_.exchange(),
                                        config_.routing_key());
    }
    if (status.ok() && !config_.dead_letter_queue().empty()) {
      status = connection_.DeclareQueue(config_.dead_letter_queue(),
                                        config_.dead_letter_exchange(),
                                        config_.dead_letter_queue());
    }
    SetError(status);
    return status;
  }
  void SetError(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    last_error_ = status.ok() ? "" : std::string(status.message());
  }

  AmqpTransportConfig config_;
  mutable absl::Mutex mu_;
  Connection connection_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status CheckAmqpConfig(const AmqpTransportConfig& c, bool ingress) {
  if (c.host().empty()) {
    return InvalidField("MISSING_FIELD", "host", "the broker's host name");
  }
  if (c.port() > 65535) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "port",
                        absl::StrCat(c.port(), " is not a port"));
  }
  if (ingress && c.queue().empty()) {
    return InvalidField("MISSING_FIELD", "queue", "ingress needs a queue");
  }
  if (ingress && c.dead_letter_queue().empty()) {
    return InvalidField("MISSING_FIELD", "dead_letter_queue",
                        "ingress needs a queue for refused messages");
  }
  if (!ingress && c.exchange().empty() && c.routing_key().empty() &&
      c.queue().empty()) {
    return InvalidField("MISSING_FIELD", "routing_key",
                        "egress needs an exchange, a routing key or a queue");
  }
  if (c.tls().cert_file().empty() != c.tls().key_file().empty()) {
    return InvalidField(
        "MISSING_FIELD",
        c.tls().cert_file().empty() ? "tls.cert_file" : "tls.key_file",
        "a client certificate needs both cert_file and key_file");
  }
  if (!c.tls().cert_file().empty() && c.tls().ca_file().empty()) {
    return InvalidField("MISSING_FIELD", "tls.ca_file",
                        "TLS needs the CA bundle");
  }
  const std::pair<std::string, std::string> files[] = {
      {"password_file", c.password_file()},
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

struct AmqpEgressTransport::State {
  explicit State(const AmqpTransportConfig& c) : config(c), publisher(c) {}
  AmqpTransportConfig config;
  Publisher publisher;
};

AmqpEgressTransport::AmqpEgressTransport(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

AmqpEgressTransport::~AmqpEgressTransport() = default;

absl::StatusOr<std::unique_ptr<AmqpEgressTransport>>
AmqpEgressTransport::Create(AmqpTransportConfig config) {
  absl::Status status = CheckAmqpConfig(config, /*ingress=*/false);
  if (!status.ok()) return status;
  auto state = std::make_unique<State>(config);
  // Not fatal: health() reports it and Deliver() tries again.
  status = state->publisher.Connect();
  if (ErrorReason(status) == "INVALID_CONNECTOR_CONFIG") return status;
  return std::unique_ptr<AmqpEgressTransport>(
      new AmqpEgressTransport(std::move(state)));
}

DeliveryResult AmqpEgressTransport::Deliver(const OutboundMessage& message) {
  return DeliverBatch({message})[0];
}

std::vector<DeliveryResult> AmqpEgressTransport::DeliverBatch(
    const std::vector<OutboundMessage>& messages) {
  const AmqpTransportConfig& c = state_->config;
  std::vector<Publisher::Item> items(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const OutboundMessage& m = messages[i];
    items[i].message_id = m.message_id;
    items[i].kind = m.kind;
    items[i].content_type = m.content_type;
    items[i].body = &m.bytes;
    items[i].headers.Add("Sild-Kind", m.kind);
    items[i].headers.Add("Sild-Recipient", m.recipient);
    items[i].headers.Add("Sild-Key", m.key);
  }
  const std::string key =
      !c.routing_key().empty() ? c.routing_key() : c.queue();
  std::vector<std::string> errors =
      state_->publisher.Publish(c.exchange(), key, items);
  std::vector<DeliveryResult> results;
  results.reserve(errors.size());
  for (std::string& error : errors) {
    results.push_back(error.empty() ? DeliveryResult::Delivered()
                                    : DeliveryResult::Retryable(error));
  }
  return results;
}

absl::Status AmqpEgressTransport::health() const {
  return state_->publisher.Health();
}

// ---------------------------------------------------------------- ingress

struct AmqpIngressTransport::State {
  explicit State(const AmqpTransportConfig& c)
      : config(c), connection(c), dead_letters(c) {}

  // A handler's verdict, for the consumer thread.
  struct Verdict {
    uint64_t tag;
    // The connection generation the tag belongs to.
    int generation;
    absl::Status status;
    std::string message_id;
    std::string content_type;
    std::string bytes;
  };

  AmqpTransportConfig config;
  // Only the consumer thread touches it.
  Connection connection;
  int generation = 0;
  Publisher dead_letters;
  InboundHandler handler;

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  std::deque<Verdict> verdicts ABSL_GUARDED_BY(mu);
  std::string last_error ABSL_GUARDED_BY(mu) = "not connected yet";

  void SetError(std::string error) {
    absl::MutexLock lock(&mu);
    last_error = std::move(error);
  }

  absl::Status Setup() {
    absl::Status status = connection.Connect(/*confirms=*/false);
    if (status.ok()) {
      status = connection.DeclareQueue(config.queue(), "", "");
    }
    if (status.ok()) {
      amqp_basic_qos(connection.conn(), kChannel, 0,
                     static_cast<uint16_t>(std::min<uint32_t>(
                         Or(config.prefetch(), kDefaultPrefetch), 65535)),
                     0);
      amqp_rpc_reply_t reply = amqp_get_rpc_reply(connection.conn());
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        status = connection.Fail(absl::StrCat("qos: ", ReplyError(reply)));
      }
    }
    if (status.ok()) {
      amqp_basic_consume(connection.conn(), kChannel, Bytes(config.queue()),
                         amqp_empty_bytes, 0, /*no_ack=*/0, 0,
                         amqp_empty_table);
      amqp_rpc_reply_t reply = amqp_get_rpc_reply(connection.conn());
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        status = connection.Fail(
            absl::StrCat("consume ", config.queue(), ": ", ReplyError(reply)));
      }
    }
    if (status.ok()) ++generation;
    SetError(status.ok() ? "" : std::string(status.message()));
    return status;
  }

  // Acts on one verdict on the consumer connection.
  void Settle(Verdict& v) {
    // A tag of an older connection is void: the broker redelivers it.
    if (v.generation != generation || !connection.connected()) return;
    amqp_connection_state_t conn = connection.conn();
    int rc = AMQP_STATUS_OK;
    if (v.status.ok()) {
      rc = amqp_basic_ack(conn, kChannel, v.tag, 0);
    } else if (IsPermanentRefusal(v.status)) {
      std::string reason = ErrorReason(v.status);
      if (reason.empty()) reason = absl::StatusCodeToString(v.status.code());
      std::vector<Publisher::Item> items(1);
      Publisher::Item& item = items[0];
      item.message_id = v.message_id;
      item.content_type = v.content_type;
      item.body = &v.bytes;
      const std::string field = ErrorField(v.status);
      const std::string text(v.status.message());
      item.headers.Add("Sild-Message-Id", v.message_id);
      item.headers.Add("Sild-Reason", reason);
      item.headers.Add("Sild-Field", field);
      item.headers.Add("Sild-Error", text);
      item.headers.Add("Sild-Source-Queue", config.queue());
      std::vector<std::string> errors = dead_letters.Publish(
          config.dead_letter_exchange(), config.dead_letter_queue(), items);
      if (errors[0].empty()) {
        rc = amqp_basic_ack(conn, kChannel, v.tag, 0);
      } else {
        SetError(errors[0]);
        rc = amqp_basic_nack(conn, kChannel, v.tag, 0, /*requeue=*/1);
      }
    } else {
      rc = amqp_basic_nack(conn, kChannel, v.tag, 0, /*requeue=*/1);
    }
    if (rc != AMQP_STATUS_OK) {
      SetError(std::string(
          connection.Fail(absl::StrCat("ack: ", amqp_error_string2(rc)))
              .message()));
    }
  }

  // Settles the queued verdicts; true once stopping and nothing in flight.
  bool SettleAll() {
    std::deque<Verdict> batch;
    bool done;
    {
      absl::MutexLock lock(&mu);
      batch.swap(verdicts);
      in_flight -= static_cast<int>(batch.size());
      done = stopping && in_flight == 0;
    }
    for (Verdict& v : batch) Settle(v);
    return done;
  }

  bool WaitStopping(absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto stop = [this] {
      mu.AssertHeld();
      return stopping || !verdicts.empty();
    };
    mu.AwaitWithTimeout(absl::Condition(&stop), timeout);
    return stopping;
  }

  void Run(const std::shared_ptr<State>& self) {
    const absl::Duration first_wait = absl::Milliseconds(
        Or(config.reconnect_wait_ms(), kDefaultReconnectWaitMs));
    absl::Duration wait = first_wait;
    while (true) {
      if (SettleAll()) break;
      bool stopping_now;
      {
        absl::MutexLock lock(&mu);
        stopping_now = stopping;
      }
      if (!connection.connected()) {
        if (stopping_now) {
          // Nothing can be acked any more; the broker redelivers.
          absl::MutexLock lock(&mu);
          auto idle = [this] {
            mu.AssertHeld();
            return !verdicts.empty() || in_flight == 0;
          };
          mu.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(1));
          continue;
        }
        if (!Setup().ok()) {
          WaitStopping(wait);
          wait = std::min(wait * 2, absl::Seconds(30));
          continue;
        }
        wait = first_wait;
      }
      if (stopping_now) {
        // No new messages: only wait for the in-flight verdicts.
        absl::MutexLock lock(&mu);
        auto ready = [this] {
          mu.AssertHeld();
          return !verdicts.empty() || in_flight == 0;
        };
        mu.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
        continue;
      }
      amqp_envelope_t envelope;
      timeval timeout = Timeval(kConsumeWaitMs);
      amqp_maybe_release_buffers(connection.conn());
      amqp_rpc_reply_t reply =
          amqp_consume_message(connection.conn(), &envelope, &timeout, 0);
      if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          reply.library_error == AMQP_STATUS_TIMEOUT) {
        continue;
      }
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        std::string error =
            reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                    reply.library_error == AMQP_STATUS_UNEXPECTED_STATE
                ? "the broker closed the channel or cancelled the consumer"
                : ReplyError(reply);
        SetError(std::string(connection.Fail(error).message()));
        continue;
      }
      InboundMessage message;
      message.bytes = Text(envelope.message.body);
      const amqp_basic_properties_t& p = envelope.message.properties;
      if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        message.message_id = Text(p.message_id);
      }
      if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) {
        message.content_type = Text(p.content_type);
      }
      if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
        for (int i = 0; i < p.headers.num_entries; ++i) {
          const std::string key = Text(p.headers.entries[i].key);
          const std::string value = TableString(p.headers, key);
          if (!value.empty()) message.headers[key] = value;
        }
      }
      message.headers["exchange"] = Text(envelope.exchange);
      message.headers["routing_key"] = Text(envelope.routing_key);
      if (envelope.redelivered) message.headers["redelivered"] = "true";
      const uint64_t tag = envelope.delivery_tag;
      amqp_destroy_envelope(&envelope);
      {
        absl::MutexLock lock(&mu);
        ++in_flight;
      }
      const int gen = generation;
      auto shared = std::make_shared<InboundMessage>(message);
      handler(message, [self, tag, gen, shared](absl::Status status) {
        absl::MutexLock lock(&self->mu);
        self->verdicts.push_back({tag, gen, std::move(status),
                                  shared->message_id, shared->content_type,
                                  shared->bytes});
      });
    }
    connection.Close();
  }
};

AmqpIngressTransport::AmqpIngressTransport(std::shared_ptr<State> state)
    : state_(std::move(state)) {}

AmqpIngressTransport::~AmqpIngressTransport() { Stop(); }

absl::StatusOr<std::unique_ptr<AmqpIngressTransport>>
AmqpIngressTransport::Create(AmqpTransportConfig config) {
  absl::Status status = CheckAmqpConfig(config, /*ingress=*/true);
  if (!status.ok()) return status;
  return std::unique_ptr<AmqpIngressTransport>(
      new AmqpIngressTransport(std::make_shared<State>(config)));
}

absl::Status AmqpIngressTransport::Start(InboundHandler handler) {
  if (consumer_.joinable()) {
    return absl::FailedPreconditionError("amqp ingress already started");
  }
  state_->handler = std::move(handler);
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = false;
  }
  std::shared_ptr<State> state = state_;
  consumer_ = std::thread([state] {
    NameThisThread("sild-amqp");
    state->Run(state);
  });
  return absl::OkStatus();
}

void AmqpIngressTransport::Stop() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  if (consumer_.joinable()) consumer_.join();
}

absl::Status AmqpIngressTransport::health() const {
  absl::MutexLock lock(&state_->mu);
  if (!state_->last_error.empty()) {
    return absl::UnavailableError(state_->last_error);
  }
  return absl::OkStatus();
}

namespace {

using AmqpEgressFactory =
    TypedEgressTransportFactory<kAmqpTransportName, AmqpTransportConfig,
                                AmqpEgressTransport>;
using AmqpIngressFactory =
    TypedIngressTransportFactory<kAmqpTransportName, AmqpTransportConfig,
                                 AmqpIngressTransport>;
SILD_REGISTER_EGRESS_TRANSPORT_FACTORY(AmqpEgressFactory);
SILD_REGISTER_INGRESS_TRANSPORT_FACTORY(AmqpIngressFactory);

}  // namespace
}  // namespace sild::connectors
