// Dispatch: the heart of the exchange. Given an accepted message and its
// recipients, inside one write transaction: the disclosure step for each
// recipient (DiscloseTo: decide, audit, minimise, queue; disclosure.h), then
// the message and its parties. Every sender of messages (referrals,
// transitions, status updates, escalations, withdrawal notices) goes
// through here, so no path can skip a decision or an audit record.
//
// Runs on the store's writer thread (inside GroupCommitter requests).
#ifndef SILD_GATEWAY_EXCHANGE_DISPATCH_H_
#define SILD_GATEWAY_EXCHANGE_DISPATCH_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/audit/audit_log.h"
#include "gateway/exchange/disclosure.h"
#include "gateway/exchange/envelope.h"
#include "gateway/exchange/exchange_context.h"
#include "gateway/exchange/exchange_store.h"
#include "gateway/identity/agency_directory.h"
#include "gateway/minimise/projector.h"
#include "gateway/policy/decision.h"
#include "gateway/store/store.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/exchange.pb.h"

namespace sild::exchange {

struct DispatchRequest {
  // The message as accepted: header complete (message_id, sender, kind,
  // purpose, created_time, recipients).
  sild::v1::Envelope envelope;
  // The child the message is about ("" when none, e.g. a bare status).
  std::string subject_personal_code;
  std::vector<const Agency*> recipients;
  const Agency* sender = nullptr;
  std::string professional_id;
  // Parties beyond sender and recipients that may list the message (case
  // managers of the case), by registry code.
  std::vector<std::string> case_managers;
  // When set, a recipient whose decision is DENY still gets the operational
  // part of the message (status updates keep the parties informed without
  // disclosing personal data); otherwise DENY means nothing is queued.
  bool deliver_operational_on_deny = false;
  // What Dispatch needs that depends on the request alone, worked out by
  // PrepareDispatch before the request reaches the writer thread (empty:
  // Dispatch works it out itself).
  struct Prepared {
    std::string subject_pseudonym;
    CategorySet present;
    std::string sealed_envelope;
  };
  std::optional<Prepared> prepared;
};

// Fills request->prepared (pseudonym, categories present, sealed copy of the
// message): pure work that need not hold the single writer. Call it on the
// caller's thread after the envelope is final.
absl::Status PrepareDispatch(const ExchangeContext& context,
                             DispatchRequest* request);

struct DispatchResult {
  sild::v1::Receipt receipt;
  int allowed = 0;
  // The first denial, when nothing was allowed.
  std::string denial_reason;
  std::string denial_detail;
};

absl::StatusOr<DispatchResult> Dispatch(WriteTxn& txn,
                                        const ExchangeContext& context,
                                        const DispatchRequest& request);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_DISPATCH_H_
