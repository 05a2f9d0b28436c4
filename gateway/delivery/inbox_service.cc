#include "gateway/delivery/inbox_service.h"

#include <algorithm>
#include <deque>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/status_macros.h"
#include "gateway/base/thread_name.h"
#include "gateway/delivery/delivery_audit.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"

namespace sild::delivery {

using exchange::ExchangeContext;
using exchange::LoadMessageSummary;

using sild::v1::InboxMessage;

namespace {

constexpr int kMaxAckCursors = 1000;
constexpr absl::Duration kMinAckTimeout = absl::Milliseconds(100);
constexpr absl::Duration kMaxAckTimeout = absl::Hours(1);

// A reactor that only reports an error (authentication, bad request).
class FailedStream final : public grpc::ServerWriteReactor<InboxMessage> {
 public:
  explicit FailedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
}

}  // namespace

// What the pump, the service and the reactor share about one stream. The
// reactor may be used only under `mu` while `reactor` is set and `finishing`
// is false: gRPC calls OnDone (which clears `reactor`) only after Finish.
struct InboxServiceImpl::StreamCore {
  struct Entry {
    // Hand-overs before the latest one (InboxMessage.redelivery).
    int32_t redelivery = 0;
    // On the wire and waiting for an ack since `sent`; false while queued.
    bool written = false;
    absl::Time sent;
  };

  // Set at subscription, then immutable.
  std::string agency;
  absl::Duration ack_timeout;
  int window = 0;
  const Clock* clock = nullptr;

  absl::Mutex mu;
  Stream* reactor ABSL_GUARDED_BY(mu) = nullptr;
  bool finishing ABSL_GUARDED_BY(mu) = false;
  bool finish_requested ABSL_GUARDED_BY(mu) = false;
  grpc::Status finish_status ABSL_GUARDED_BY(mu);
  bool write_pending ABSL_GUARDED_BY(mu) = false;
  // The message gRPC is writing; untouched until OnWriteDone.
  InboxMessage current ABSL_GUARDED_BY(mu);
  // Highest delivery id fetched so far.
  int64_t cursor ABSL_GUARDED_BY(mu) = 0;
  // Fetched and not known to be acknowledged: queued or on the wire.
  std::map<int64_t, Entry> outstanding ABSL_GUARDED_BY(mu);
  std::deque<InboxMessage> queue ABSL_GUARDED_BY(mu);

  bool Live() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return reactor != nullptr && !finishing && !finish_requested;
  }
  void KickLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

class InboxServiceImpl::Stream final
    : public grpc::ServerWriteReactor<InboxMessage> {
 public:
  Stream(InboxServiceImpl* service, std::shared_ptr<StreamCore> core)
      : service_(service), core_(std::move(core)) {}

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&core_->mu);
    core_->write_pending = false;
    if (!ok) {
      // The client went away or the call was cancelled.
      core_->FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    auto it = core_->outstanding.find(core_->current.cursor());
    if (it != core_->outstanding.end()) {
      it->second.written = true;
      it->second.sent = core_->clock->Now();
    }
    core_->current.Clear();
    core_->KickLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&core_->mu);
    core_->FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&core_->mu);
      core_->reactor = nullptr;
    }
    service_->Unregister(core_);
    LogDebug("inbox stream closed", {{"agency", core_->agency}});
    delete this;
  }

 private:
  InboxServiceImpl* service_;
  std::shared_ptr<StreamCore> core_;
};

void InboxServiceImpl::StreamCore::KickLocked() {
  if (reactor == nullptr || finishing || write_pending) return;
  if (finish_requested) {
    finishing = true;
    reactor->Finish(finish_status);
    return;
  }
  while (!queue.empty()) {
    current = std::move(queue.front());
    queue.pop_front();
    // Acknowledged while it waited in the queue: nothing to send.
    if (!outstanding.contains(current.cursor())) continue;
    write_pending = true;
    reactor->StartWrite(&current);
    return;
  }
}

void InboxServiceImpl::StreamCore::FinishLocked(grpc::Status status) {
  if (reactor == nullptr || finishing) return;
  if (!finish_requested) {
    finish_requested = true;
    finish_status = std::move(status);
  }
  // With a write on the wire, Finish follows in OnWriteDone.
  KickLocked();
}

InboxServiceImpl::InboxServiceImpl(const ExchangeContext* context,
                                   Options options)
    : context_(context), options_(options) {}

InboxServiceImpl::~InboxServiceImpl() { Shutdown(); }

void InboxServiceImpl::Start() {
  absl::MutexLock lock(&mu_);
  if (stopping_ || pump_.joinable()) return;
  pump_ = std::thread([this] {
    NameThisThread("sild-inbox-pump");
    Pump();
  });
}

void InboxServiceImpl::Notify() {
  absl::MutexLock lock(&mu_);
  ++notify_seq_;
  wake_.Signal();
}

void InboxServiceImpl::Shutdown() {
  std::vector<std::shared_ptr<StreamCore>> streams;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
    streams.assign(streams_.begin(), streams_.end());
  }
  if (pump_.joinable()) pump_.join();
  for (const auto& core : streams) {
    absl::MutexLock lock(&core->mu);
    core->FinishLocked(ShuttingDown());
  }
}

int InboxServiceImpl::open_streams() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

void InboxServiceImpl::Unregister(const std::shared_ptr<StreamCore>& core) {
  absl::MutexLock lock(&mu_);
  streams_.erase(core);
}

grpc::ServerWriteReactor<InboxMessage>* InboxServiceImpl::Subscribe(
    grpc::CallbackServerContext* context,
    const sild::v1::SubscribeRequest* request) {
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    return new FailedStream(ToGrpcStatus(caller.status(), context));
  }
  auto fail = [&](absl::string_view reason, absl::string_view field,
                  absl::string_view message) {
    return new FailedStream(
        ToGrpcStatus(InvalidField(reason, field, message), context));
  };
  if (request->after_cursor() < 0) {
    return fail("INVALID_CURSOR", "after_cursor", "must not be negative");
  }
  absl::Duration ack_timeout = options_.default_ack_timeout;
  if (request->ack_timeout_ms() != 0) {
    ack_timeout = absl::Milliseconds(request->ack_timeout_ms());
    if (ack_timeout < kMinAckTimeout || ack_timeout > kMaxAckTimeout) {
      return fail("INVALID_ACK_TIMEOUT", "ack_timeout_ms",
                  "must be 0 (the gateway's default) or 100 to 3600000");
    }
  }
  if (request->max_in_flight() < 0) {
    return fail("INVALID_MAX_IN_FLIGHT", "max_in_flight",
                "must not be negative");
  }
  int window =
      request->max_in_flight() == 0
          ? options_.default_max_in_flight
          : std::min(request->max_in_flight(), options_.max_in_flight_limit);

  auto core = std::make_shared<StreamCore>();
  core->agency = caller->agency->ref.registry_code();
  core->ack_timeout = ack_timeout;
  core->window = std::max(window, 1);
  core->clock = context_->store->clock();
  auto* stream = new Stream(this, core);
  absl::MutexLock lock(&mu_);
  absl::MutexLock core_lock(&core->mu);
  core->reactor = stream;
  core->cursor = request->after_cursor();
  if (stopping_) {
    core->FinishLocked(ShuttingDown());
    return stream;
  }
  streams_.insert(core);
  ++notify_seq_;
  wake_.Signal();
  LogDebug("inbox stream opened",
           {{"agency", core->agency},
            {"after_cursor", absl::StrCat(request->after_cursor())}});
  return stream;
}

void InboxServiceImpl::Pump() {
  int64_t seen = -1;
  while (true) {
    std::vector<std::shared_ptr<StreamCore>> streams;
    {
      absl::MutexLock lock(&mu_);
      absl::Duration poll = options_.fallback_poll;
      for (const auto& core : streams_) {
        poll = std::min(poll, core->ack_timeout);
      }
      absl::Time deadline = absl::Now() + poll;
      while (!stopping_ && notify_seq_ == seen) {
        if (wake_.WaitWithDeadline(&mu_, deadline)) break;
      }
      if (stopping_) return;
      seen = notify_seq_;
      streams.assign(streams_.begin(), streams_.end());
    }
    for (const auto& core : streams) Refill(*core);
  }
}

void InboxServiceImpl::Refill(StreamCore& core) {
  std::vector<int64_t> known;
  std::vector<int64_t> expired;
  int64_t cursor;
  absl::Time now = core.clock->Now();
  {
    absl::MutexLock lock(&core.mu);
    if (!core.Live()) return;
    for (const auto& [id, entry] : core.outstanding) {
      known.push_back(id);
      if (entry.written && entry.sent + core.ack_timeout <= now) {
        expired.push_back(id);
      }
    }
    cursor = core.cursor;
  }

  std::vector<int64_t> still_pending;
  std::vector<InboxRow> fresh;
  std::vector<InboxRow> resend;
  const PayloadCipher& cipher = context_->store->cipher();
  absl::Status read = context_->store->Read([&](SqlConnection& sql)
                                                -> absl::Status {
    if (!known.empty()) {
      SILD_ASSIGN_OR_RETURN(still_pending, StillPendingDeliveries(sql, known));
    }
    std::sort(still_pending.begin(), still_pending.end());
    int room = core.window - static_cast<int>(still_pending.size());
    if (room > 0) {
      SILD_ASSIGN_OR_RETURN(
          fresh, LoadInboxRows(sql, cipher, core.agency, cursor, room));
    }
    std::vector<int64_t> due;
    for (int64_t id : expired) {
      if (std::binary_search(still_pending.begin(), still_pending.end(), id)) {
        due.push_back(id);
      }
    }
    if (!due.empty()) {
      SILD_ASSIGN_OR_RETURN(
          resend, LoadPendingInboxRowsById(sql, cipher, core.agency, due));
    }
    return absl::OkStatus();
  });
  if (!read.ok()) {
    LogWarning("inbox read failed", {{"agency", core.agency},
                                     {"error", std::string(read.message())}});
    return;
  }

  std::vector<int64_t> handed_over;
  {
    absl::MutexLock lock(&core.mu);
    if (!core.Live()) return;
    // Acknowledged (or otherwise settled) since they were sent.
    for (int64_t id : known) {
      if (!std::binary_search(still_pending.begin(), still_pending.end(), id)) {
        core.outstanding.erase(id);
      }
    }
    for (InboxRow& row : resend) {
      auto it = core.outstanding.find(row.row.delivery_id);
      if (it == core.outstanding.end() || !it->second.written) continue;
      it->second.written = false;
      ++it->second.redelivery;
      InboxMessage message;
      message.set_cursor(row.row.delivery_id);
      message.set_redelivery(it->second.redelivery);
      *message.mutable_envelope() = std::move(row.row.envelope);
      core.queue.push_back(std::move(message));
      handed_over.push_back(row.row.delivery_id);
    }
    for (InboxRow& row : fresh) {
      int64_t id = row.row.delivery_id;
      if (id <= core.cursor) continue;
      core.cursor = id;
      core.outstanding[id] = StreamCore::Entry{row.sends, false, now};
      InboxMessage message;
      message.set_cursor(id);
      message.set_redelivery(row.sends);
      *message.mutable_envelope() = std::move(row.row.envelope);
      core.queue.push_back(std::move(message));
      handed_over.push_back(id);
    }
    core.KickLocked();
  }
  if (!handed_over.empty()) {
    // Best effort: the count only makes redelivery hints survive reconnects.
    context_->store->writer().Submit(
        [ids = std::move(handed_over)](WriteTxn& txn) {
          return MarkInboxSent(txn, ids);
        },
        [](absl::Status status) {
          if (!status.ok()) {
            LogDebug("inbox send count not recorded",
                     {{"error", std::string(status.message())}});
          }
        });
  }
}

grpc::ServerUnaryReactor* InboxServiceImpl::Ack(
    grpc::CallbackServerContext* context, const sild::v1::AckRequest* request,
    sild::v1::AckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *context_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  if (request->cursors_size() > kMaxAckCursors) {
    reactor->Finish(ToGrpcStatus(
        InvalidField("TOO_MANY_CURSORS", "cursors",
                     absl::StrCat("acknowledge at most ", kMaxAckCursors,
                                  " cursors per call")),
        context));
    return reactor;
  }
  std::vector<int64_t> cursors(request->cursors().begin(),
                               request->cursors().end());
  std::sort(cursors.begin(), cursors.end());
  cursors.erase(std::unique(cursors.begin(), cursors.end()), cursors.end());
  struct Counts {
    int acknowledged = 0;
    int ignored = 0;
  };
  auto counts = std::make_shared<Counts>();
  const ExchangeContext* ctx = context_;
  Caller who = *caller;
  context_->store->writer().Submit(
      [this, ctx, who, cursors, counts](WriteTxn& txn) -> absl::Status {
        *counts = Counts();
        const std::string& me = who.agency->ref.registry_code();
        const PayloadCipher& cipher = ctx->store->cipher();
        for (int64_t cursor : cursors) {
          SILD_ASSIGN_OR_RETURN(auto row,
                                LoadOutbox(txn.sql(), cipher, cursor));
          if (!row || row->recipient != me ||
              row->transport != kGrpcInboxTransport) {
            ++counts->ignored;
            continue;
          }
          if (row->state == sild::v1::DELIVERY_STATE_DELIVERED) {
            ++counts->acknowledged;
            continue;
          }
          if (row->state != sild::v1::DELIVERY_STATE_PENDING) {
            ++counts->ignored;
            continue;
          }
          SILD_ASSIGN_OR_RETURN(bool marked, MarkDelivered(txn, cursor));
          if (!marked) continue;
          SILD_ASSIGN_OR_RETURN(auto message,
                                LoadMessageSummary(txn.sql(), row->message_id));
          sild::v1::AuditRecord draft =
              DeliveryAuditDraft(*row, message ? &*message : nullptr);
          // The recipient confirmed receipt: it is the actor.
          draft.mutable_actor()->set_registry_code(me);
          draft.mutable_actor()->set_professional_id(who.professional_id);
          draft.set_action(sild::v1::AUDIT_ACTION_DELIVERY);
          draft.set_outcome(sild::v1::AUDIT_OUTCOME_SUCCESS);
          draft.set_reason_code("ACKNOWLEDGED");
          draft.set_detail(absl::StrCat(
              "acknowledged by the recipient over the gRPC inbox (cursor ",
              cursor, ")"));
          SILD_RETURN_IF_ERROR(
              ctx->audit_log->Append(txn, std::move(draft)).status());
          ++counts->acknowledged;
        }
        txn.AfterCommit([this] { Notify(); });
        return absl::OkStatus();
      },
      [reactor, context, response, counts](absl::Status status) {
        if (!status.ok()) {
          reactor->Finish(ToGrpcStatus(status, context));
          return;
        }
        response->set_acknowledged(counts->acknowledged);
        response->set_ignored(counts->ignored);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace sild::delivery
