// Referrals: the domain operations that send referral messages, free of any
// transport. ReferralService (referral_service.h) calls them after
// authenticating the caller, the connector ingress (ingress.h) as the agency
// whose ingress a message came through. Both go through SubmitAsync
// (submit.h): idempotency, decisions, audit and the referral's state in one
// group-committed write.
//
// Errors carry a reason code and the offending field (gateway/base/errors.h):
// INVALID_ARGUMENT for bad input, NOT_FOUND REFERRAL_NOT_FOUND for a
// referral the actor is no party to (the same answer as for one that does
// not exist), FAILED_PRECONDITION / PERMISSION_DENIED for a status change
// the lifecycle or the actor's role does not allow, ALREADY_EXISTS
// IDEMPOTENCY_KEY_REUSED for a key reused with a different request.
//
// Thread safety: callable from any thread; `done` runs exactly once, on the
// store's completion thread after the commit, or on the calling thread when
// the call fails before the write. `context`, `router` and the actor's
// agency must outlive `done` (the exchange module and the directory own
// them).
#ifndef SILD_GATEWAY_EXCHANGE_REFERRALS_H_
#define SILD_GATEWAY_EXCHANGE_REFERRALS_H_

#include <string>

#include "absl/status/status.h"
#include "gateway/exchange/exchange_context.h"
#include "gateway/exchange/routing.h"
#include "gateway/exchange/submit.h"
#include "sild/v1/referral_service.pb.h"

namespace sild::exchange {

// NOT_FOUND REFERRAL_NOT_FOUND naming `referral_id`: the one answer for a
// referral that does not exist or that the caller is no party to.
absl::Status ReferralNotFound(const std::string& id);

// Whether `role` ("requester" or "recipient") may move a referral from
// `from` to `to`; INVALID_STATUS, INVALID_TRANSITION or NOT_ALLOWED_FOR_ROLE
// (field "status") otherwise.
absl::Status CheckReferralTransition(sild::v1::ReferralStatus from,
                                     sild::v1::ReferralStatus to,
                                     bool is_requester, bool is_recipient);

// Submits `referral` as sent by `actor`: validates it (ValidateReferral),
// routes it (performer, else service + municipality), normalises the header
// (the gateway, not the payload, says who sent what when), dispatches it to
// the recipients with the municipality's case managers as parties and
// stores the referral as SUBMITTED. Idempotent by
// "referral.header.idempotency_key". Every recipient refused: a refused
// outcome (nothing stored but the audited refusals).
void SubmitReferral(const ExchangeContext& context, const Router& router,
                    const Actor& actor, const sild::v1::Referral& referral,
                    SubmitDone done);

// Moves a referral along its lifecycle as `actor`, a party to it
// (CheckReferralTransition): records the change in the referral's history
// and state, audits it (STATUS_CHANGE; the receipt names that record) and
// sends it to the other parties as a ReferralStatusUpdate. The update is
// decided like any message, but a DENY still delivers its operational part
// and the change stands whatever the decisions (never a refused outcome).
// Idempotent by "idempotency_key" when the request has one: a retry gets
// the first receipt even when the referral has moved on since.
void ChangeReferralStatus(const ExchangeContext& context, const Router& router,
                          const Actor& actor,
                          const sild::v1::UpdateReferralStatusRequest& request,
                          SubmitDone done);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_REFERRALS_H_
