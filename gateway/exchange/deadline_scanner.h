// Deadline scanner: tells case managers what is overdue.
//
//   DeadlineScanner scanner(&context, absl::Milliseconds(
//                               config.deadlines().scan_interval_ms()));
//   scanner.Start();                 // scans every interval
//   scanner.ScanOnce(clock->Now());  // or by hand (tests, ManualClock)
//   scanner.Stop();
//
// Overdue are referrals still SUBMITTED (nobody received, accepted or
// rejected them) past their acknowledge_by, and transitions still PENDING
// past theirs. Each is escalated once, in one write: it is marked escalated
// and an Escalation message (MESSAGE_KIND_ESCALATION,
// ESCALATION_KIND_REFERRAL_NOT_ACKNOWLEDGED or _LOST_IN_TRANSITION) is
// dispatched to the case managers of the case (the message's case_manager
// parties; if there are none, its sender), for PURPOSE_CASE_MANAGEMENT about
// the child. The decision engine decides per recipient as for any message;
// a recipient without a basis still gets the operational part (what is
// overdue, since when, at whom), never the child's identity. The write also
// appends an AUDIT_ACTION_ESCALATION record.
//
// The gateway is not an agency, so the escalation goes out in the name of
// the overdue message's sender (the referral's requester, the transition's
// sending institution) with professional id "sild-gateway": rules match the
// flow that is overdue, and the audit trail shows the gateway acted.
// Thread-safe.
#ifndef SILD_GATEWAY_EXCHANGE_DEADLINE_SCANNER_H_
#define SILD_GATEWAY_EXCHANGE_DEADLINE_SCANNER_H_

#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/exchange/dispatch.h"

namespace sild::exchange {

class DeadlineScanner {
 public:
  struct ScanResult {
    int referrals = 0;
    int transitions = 0;
  };

  // Borrows `context`, which must outlive the scanner.
  DeadlineScanner(const ExchangeContext* context, absl::Duration interval);
  ~DeadlineScanner();

  DeadlineScanner(const DeadlineScanner&) = delete;
  DeadlineScanner& operator=(const DeadlineScanner&) = delete;

  void Start();
  void Stop();

  // Escalates everything overdue at `now`, each in its own write; returns
  // how many were escalated. A failing escalation is logged and left for
  // the next scan; the first error is returned after the others ran.
  absl::StatusOr<ScanResult> ScanOnce(absl::Time now);

 private:
  absl::StatusOr<bool> EscalateReferral(const ReferralRow& referral);
  absl::StatusOr<bool> EscalateTransition(const TransitionRow& transition);
  void Loop();

  const ExchangeContext* context_;
  absl::Duration interval_;
  absl::Mutex mu_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_DEADLINE_SCANNER_H_
