// Submit: the one accepted-means-durable path of every operation that sends
// a message for an agency (referral submit and status change, transition
// submit and acknowledgement: referrals.h, transitions.h). In one
// group-committed write request, in this order:
//   1. idempotency, when the request carries a key: a (sender, key) seen
//      before returns the first receipt (marked duplicate) and does nothing
//      else; the same key with a different request fails ALREADY_EXISTS
//      IDEMPOTENCY_KEY_REUSED naming `idempotency_field`. This is the only
//      place keys are looked up and recorded;
//   2. `before_dispatch`, if set: loads and checks the state the message
//      depends on (the referral or transition being answered) and completes
//      the dispatch request; its error fails the call;
//   3. Dispatch (dispatch.h): decide, audit, minimise and queue per
//      recipient;
//   4. nothing allowed and `refuse_when_none_allowed`: the outcome is a
//      refusal (the refusals are audited and committed, the key stays free);
//      otherwise `on_accepted` writes the operation's own rows and the key is
//      recorded with the receipt.
// A request that fails is rolled back alone (GroupCommitter): no row, audit
// record or key of it stays.
//
// No transport here: the gRPC answer of an outcome is FinishSubmit
// (gateway/rpc/submit_outcome.h), the ingress answer OutcomeStatus.
//
// Thread safety: SubmitAsync may be called from any thread. The hooks run on
// the store's writer thread, `done` on its completion thread (or on the
// caller's thread when the call fails before reaching the writer). The
// context and everything `submit` points to (agencies) must outlive `done`.
#ifndef SILD_GATEWAY_EXCHANGE_SUBMIT_H_
#define SILD_GATEWAY_EXCHANGE_SUBMIT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/exchange/dispatch.h"

namespace sild::exchange {

// Who acts: the agency, already authenticated (its certificate, or the
// ingress it came through, never what a payload claims), and the
// professional acting for it (recorded in the audit trail, may be empty).
struct Actor {
  const Agency* agency = nullptr;
  std::string professional_id;
};

struct PreparedSubmit {
  // Registry code of the sender: idempotency keys are per sender.
  std::string sender;
  // Empty: the request has no idempotency (optional for status changes and
  // acknowledgements; validation requires one on submits).
  std::string idempotency_key;
  // Path of the idempotency key in the request, for errors.
  std::string idempotency_field = "header.idempotency_key";
  // SHA-256 of the request as the client sent it (RequestHash).
  std::string request_hash;
  // The message. Final before SubmitAsync (then it is prepared off the
  // writer, PrepareDispatch), unless `before_dispatch` completes it.
  DispatchRequest dispatch;
  // Runs in the write after the idempotency lookup found a new key (or there
  // is none) and before Dispatch: loads and checks state, completes
  // `dispatch`. Its error is the call's error.
  std::function<absl::Status(WriteTxn&, DispatchRequest&)> before_dispatch;
  // What happens when no recipient was allowed. True: the outcome is a
  // refusal, `on_accepted` does not run and the key stays free (the sender
  // may retry once a basis exists). False: the operation stands anyway (a
  // status change holds whatever the decisions; with
  // `deliver_operational_on_deny` only a message with nobody to tell has no
  // allowed recipient), `on_accepted` runs and the key is recorded.
  bool refuse_when_none_allowed = true;
  // The operation's own writes once accepted (the referral or transition
  // row, a state change); same transaction. May amend `result.receipt`: the
  // receipt it leaves is the answer and what a retry with the key gets.
  std::function<absl::Status(WriteTxn&, DispatchResult& result)> on_accepted;
};

struct SubmitOutcome {
  sild::v1::Receipt receipt;
  // Nothing was allowed: every recipient's decision was DENY (audited).
  bool refused = false;
  std::string refusal_reason;
  std::string refusal_detail;
};

using SubmitDone = std::function<void(absl::StatusOr<SubmitOutcome>)>;

// `done` runs exactly once: after the commit, or at once when preparing the
// message fails (its error).
void SubmitAsync(const ExchangeContext& context,
                 std::shared_ptr<PreparedSubmit> submit, SubmitDone done);

// What an outcome stands for as a status: OK when accepted (or a duplicate);
// PERMISSION_DENIED with the decision's reason code and detail when refused;
// the error otherwise.
absl::Status OutcomeStatus(const absl::StatusOr<SubmitOutcome>& outcome);

// SHA-256 of a message's deterministic serialisation.
std::string RequestHash(const google::protobuf::Message& message);

// A PreparedSubmit keyed for idempotency: the sender's `key` (empty: none),
// the field that holds it (for errors) and the hash of `request` as the
// client sent it. The caller fills in the dispatch and the hooks.
std::shared_ptr<PreparedSubmit> NewPreparedSubmit(
    const std::string& sender, const std::string& key, std::string key_field,
    const google::protobuf::Message& request);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_SUBMIT_H_
