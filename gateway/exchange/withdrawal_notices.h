// Sends the withdrawal notices the consent registry owes: when a consent is
// withdrawn, every agency that received data under it gets a
// sild.v1.ConsentWithdrawalNotice naming the messages concerned, through the
// same dispatch path (decided, audited, delivered) as any message.
//
// The notice is sent on behalf of the agency that recorded the consent. The
// subject's identity travels only where a legal-basis rule permits it (a
// rule for MESSAGE_KIND_CONSENT_NOTICE, e.g. GDPR Art. 19); otherwise the
// recipient gets the consent id and message ids, which identify what it
// must stop processing without disclosing more.
//
// Runs a background thread (Start/Stop) that drains pending notices every
// `interval` and when Wake() is called. Thread-safe.
#ifndef SILD_GATEWAY_EXCHANGE_WITHDRAWAL_NOTICES_H_
#define SILD_GATEWAY_EXCHANGE_WITHDRAWAL_NOTICES_H_

#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/consent/consent_registry.h"
#include "gateway/exchange/dispatch.h"

namespace sild::exchange {

class WithdrawalNoticeSender {
 public:
  WithdrawalNoticeSender(const ExchangeContext* context,
                         ConsentRegistry registry)
      : context_(context), registry_(std::move(registry)) {}
  ~WithdrawalNoticeSender() { Stop(); }

  // Dispatches up to `limit` pending notices in one write; returns how many.
  absl::StatusOr<int> SendPending(int limit = 100);

  void Start(absl::Duration interval);
  void Wake();
  void Stop();

 private:
  const ExchangeContext* context_;
  ConsentRegistry registry_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_WITHDRAWAL_NOTICES_H_
