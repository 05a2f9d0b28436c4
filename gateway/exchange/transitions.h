// Transitions: the domain operations of hand-overs between institutions,
// free of any transport. TransitionService (transition_service.h) calls them
// after authenticating the caller. Both go through SubmitAsync (submit.h):
// idempotency, decisions, audit and the transition's state in one
// group-committed write.
//
// Errors carry a reason code and the offending field (gateway/base/errors.h):
// INVALID_ARGUMENT for bad input (INVALID_RECIPIENT, NO_ROUTE,
// INVALID_STATUS, ...), NOT_FOUND TRANSITION_NOT_FOUND for a hand-over the
// actor did not receive (the same answer as for one that does not exist),
// FAILED_PRECONDITION ALREADY_ACKNOWLEDGED, ALREADY_EXISTS
// IDEMPOTENCY_KEY_REUSED for a key reused with a different request.
//
// Thread safety: callable from any thread; `done` runs exactly once, on the
// store's completion thread after the commit, or on the calling thread when
// the call fails before the write. `context`, `router` and the actor's
// agency must outlive `done` (the exchange module and the directory own
// them).
#ifndef SILD_GATEWAY_EXCHANGE_TRANSITIONS_H_
#define SILD_GATEWAY_EXCHANGE_TRANSITIONS_H_

#include <string>

#include "absl/status/status.h"
#include "gateway/exchange/exchange_context.h"
#include "gateway/exchange/routing.h"
#include "gateway/exchange/submit.h"
#include "sild/v1/transition_service.pb.h"

namespace sild::exchange {

// NOT_FOUND TRANSITION_NOT_FOUND naming `transition_id`: the one answer for
// a hand-over that does not exist or is not the caller's to see.
absl::Status TransitionNotFound(const std::string& id);

// Hands the child over from `actor`'s institution to
// `transition.to_institution`, or, when that is empty, to the Unemployment
// Insurance Fund (NO_ROUTE when none is configured); validates it
// (ValidateTransition), normalises the header and stores the hand-over as
// PENDING with its acknowledgement deadline
// (deadlines.transition_acknowledge_within_days after the effective date).
// Idempotent by "transition.header.idempotency_key". Refused by the
// decision: a refused outcome.
void SubmitTransition(const ExchangeContext& context, const Router& router,
                      const Actor& actor,
                      const sild::v1::Transition& transition, SubmitDone done);

// The receiving institution (`actor`) acknowledges a pending hand-over once
// (ENROLLED, NOT_ARRIVED or REFUSED): stores the acknowledgement and sends
// it to the sender as a TRANSITION_ACK naming the child and nothing else of
// the hand-over. A DENY still delivers the operational part and the
// acknowledgement stands whatever the decisions (never a refused outcome).
// Idempotent by "idempotency_key" when the request has one: a retry gets the
// first receipt.
void AcknowledgeTransition(
    const ExchangeContext& context, const Actor& actor,
    const sild::v1::AcknowledgeTransitionRequest& request, SubmitDone done);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_TRANSITIONS_H_
