// sild.v1.InboxService: agencies whose transport is the gRPC inbox (the
// default) pull their messages here.
//
// Subscribe streams the caller's own outbox rows (the agency its
// certificate names; nobody reads another agency's inbox) in delivery_id
// order as InboxMessage{cursor = delivery_id, redelivery, envelope}, starting
// after `after_cursor`, or from the oldest unacknowledged message when it is
// 0. Rows committed later are pushed as they commit (Notify() wakes the
// streams; a short fallback poll covers anything missed). A message sent and
// not acknowledged within the ack timeout is sent again on the stream with
// redelivery + 1; at most max_in_flight messages are outstanding per stream.
// Ack(cursors) marks the caller's rows DELIVERED with an audit DELIVERY
// record each, in one write; acknowledging twice is harmless. A reconnecting
// agency gets every unacknowledged message again (redelivery counts the
// earlier hand-overs), so it resumes from its last acknowledged cursor.
//
// Delivery is at-least-once: recipients drop duplicates by message id. Each
// stream gets all of the agency's messages; several streams of one agency
// each see them (and either may acknowledge).
//
// Threads: one pump thread reads the store for every stream; gRPC callback
// threads only hand prepared messages to the wire. Shutdown() ends every
// stream with UNAVAILABLE "shutting down" and refuses new ones. Thread-safe.
#ifndef SILD_GATEWAY_DELIVERY_INBOX_SERVICE_H_
#define SILD_GATEWAY_DELIVERY_INBOX_SERVICE_H_

#include <memory>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/delivery/outbox_store.h"
#include "gateway/exchange/dispatch.h"
#include "sild/v1/inbox_service.grpc.pb.h"

namespace sild::delivery {

class InboxServiceImpl final : public sild::v1::InboxService::CallbackService {
 public:
  struct Options {
    absl::Duration default_ack_timeout = absl::Seconds(30);
    int default_max_in_flight = 128;
    int max_in_flight_limit = 1024;
    // Longest a stream waits without a notification before looking again.
    absl::Duration fallback_poll = absl::Seconds(1);
  };

  // Borrows `context`, which must outlive the service.
  InboxServiceImpl(const exchange::ExchangeContext* context, Options options);
  ~InboxServiceImpl() override;

  grpc::ServerWriteReactor<sild::v1::InboxMessage>* Subscribe(
      grpc::CallbackServerContext* context,
      const sild::v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* context,
                                const sild::v1::AckRequest* request,
                                sild::v1::AckResponse* response) override;

  // Starts the pump thread.
  void Start();
  // Rows were queued or acknowledged: streams look again. Cheap; safe on
  // the store's writer thread (AfterCommit hooks).
  void Notify();
  // Ends every stream (UNAVAILABLE "shutting down"), refuses new ones and
  // stops the pump. Idempotent.
  void Shutdown();

  int open_streams() const;

 private:
  struct StreamCore;
  class Stream;

  void Pump();
  void Refill(StreamCore& core);
  void Unregister(const std::shared_ptr<StreamCore>& core);

  const exchange::ExchangeContext* context_;
  Options options_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  std::set<std::shared_ptr<StreamCore>> streams_ ABSL_GUARDED_BY(mu_);
  int64_t notify_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread pump_;
};

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_INBOX_SERVICE_H_
