#include "gateway/exchange/referrals.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/validation.h"

namespace sild::exchange {
namespace {

using sild::v1::Referral;
using sild::v1::ReferralStatus;

bool Has(const std::vector<std::string>& roles, const char* role) {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

absl::Time AcknowledgeBy(const ExchangeContext& context,
                         const Referral& referral, absl::Time now) {
  for (const auto& deadline :
       context.config->deadlines().referral_deadlines()) {
    bool purpose_ok = deadline.purpose() == sild::v1::PURPOSE_UNSPECIFIED ||
                      deadline.purpose() == referral.header().purpose();
    bool service_ok =
        deadline.service() == sild::v1::SERVICE_TYPE_UNSPECIFIED ||
        deadline.service() == referral.service();
    if (purpose_ok && service_ok) {
      return now + absl::Hours(deadline.acknowledge_within_hours());
    }
  }
  const auto& by = referral.respond_by();
  if (by.year() > 0) {
    return absl::FromCivil(absl::CivilDay(by.year(), by.month(), by.day()) + 1,
                           absl::UTCTimeZone());
  }
  return absl::InfinitePast();
}

}  // namespace

absl::Status ReferralNotFound(const std::string& id) {
  // The same answer whether the referral does not exist or the caller is no
  // party to it.
  return MakeError(absl::StatusCode::kNotFound, "REFERRAL_NOT_FOUND",
                   "referral_id",
                   absl::StrCat("no referral ", id, " visible to you"));
}

absl::Status CheckReferralTransition(ReferralStatus from, ReferralStatus to,
                                     bool is_requester, bool is_recipient) {
  using S = ReferralStatus;
  auto terminal = [](ReferralStatus s) {
    return s == S::REFERRAL_STATUS_REJECTED ||
           s == S::REFERRAL_STATUS_COMPLETED ||
           s == S::REFERRAL_STATUS_WITHDRAWN;
  };
  if (to == S::REFERRAL_STATUS_UNSPECIFIED ||
      to == S::REFERRAL_STATUS_SUBMITTED ||
      !sild::v1::ReferralStatus_IsValid(to)) {
    return InvalidField("INVALID_STATUS", "status",
                        "not a status a party can set");
  }
  if (terminal(from)) {
    return MakeError(absl::StatusCode::kFailedPrecondition,
                     "INVALID_TRANSITION", "status",
                     absl::StrCat("the referral is already ",
                                  sild::v1::ReferralStatus_Name(from)));
  }
  if (to == S::REFERRAL_STATUS_WITHDRAWN) {
    if (!is_requester) {
      return MakeError(absl::StatusCode::kPermissionDenied,
                       "NOT_ALLOWED_FOR_ROLE", "status",
                       "only the requester may withdraw a referral");
    }
    return absl::OkStatus();
  }
  if (!is_recipient) {
    return MakeError(absl::StatusCode::kPermissionDenied,
                     "NOT_ALLOWED_FOR_ROLE", "status",
                     "only a recipient may set this status");
  }
  // Allowed forward moves for the recipient.
  static const std::vector<std::pair<S, S>> kAllowed = {
      {S::REFERRAL_STATUS_SUBMITTED, S::REFERRAL_STATUS_RECEIVED},
      {S::REFERRAL_STATUS_SUBMITTED, S::REFERRAL_STATUS_ACCEPTED},
      {S::REFERRAL_STATUS_SUBMITTED, S::REFERRAL_STATUS_REJECTED},
      {S::REFERRAL_STATUS_RECEIVED, S::REFERRAL_STATUS_ACCEPTED},
      {S::REFERRAL_STATUS_RECEIVED, S::REFERRAL_STATUS_REJECTED},
      {S::REFERRAL_STATUS_ACCEPTED, S::REFERRAL_STATUS_IN_PROGRESS},
      {S::REFERRAL_STATUS_ACCEPTED, S::REFERRAL_STATUS_COMPLETED},
      {S::REFERRAL_STATUS_IN_PROGRESS, S::REFERRAL_STATUS_COMPLETED},
  };
  for (const auto& [a, b] : kAllowed) {
    if (a == from && b == to) return absl::OkStatus();
  }
  return MakeError(absl::StatusCode::kFailedPrecondition, "INVALID_TRANSITION",
                   "status",
                   absl::StrCat("a referral cannot go from ",
                                sild::v1::ReferralStatus_Name(from), " to ",
                                sild::v1::ReferralStatus_Name(to)));
}

void SubmitReferral(const ExchangeContext& context, const Router& router,
                    const Actor& actor, const Referral& in, SubmitDone done) {
  if (absl::Status valid = ValidateReferral(in); !valid.ok()) {
    done(valid);
    return;
  }
  auto recipients = router.ReferralRecipients(in, "referral");
  if (!recipients.ok()) {
    done(recipients.status());
    return;
  }

  const Agency& sender = *actor.agency;
  absl::Time now = context.store->clock()->Now();
  auto submit = NewPreparedSubmit(sender.ref.registry_code(),
                                  in.header().idempotency_key(),
                                  "referral.header.idempotency_key", in);

  // Normalise: the gateway, not the payload, says who sent what when.
  sild::v1::Envelope& envelope = submit->dispatch.envelope;
  Referral* referral = envelope.mutable_referral();
  *referral = in;
  std::string message_id = NewUuid();
  if (message_id.empty()) {
    done(absl::InternalError("no randomness"));
    return;
  }
  envelope.set_message_id(message_id);
  envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  auto* header = referral->mutable_header();
  header->set_message_id(message_id);
  *header->mutable_sender() = sender.ref;
  header->clear_recipients();
  for (const Agency* r : *recipients) *header->add_recipients() = r->ref;
  header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL);
  *header->mutable_created_time() = ToProtoTime(now);
  header->set_schema_version("1.0");
  header->clear_basis();
  if (header->case_id().empty()) header->set_case_id(message_id);
  if (referral->urgency() == sild::v1::URGENCY_UNSPECIFIED) {
    referral->set_urgency(sild::v1::URGENCY_ROUTINE);
  }
  referral->set_status(sild::v1::REFERRAL_STATUS_SUBMITTED);
  referral->clear_history();
  auto* change = referral->add_history();
  change->set_status(sild::v1::REFERRAL_STATUS_SUBMITTED);
  *change->mutable_time() = ToProtoTime(now);
  *change->mutable_changed_by() = sender.ref;
  if (referral->has_requested_by()) {
    *change->mutable_professional() = referral->requested_by();
  }

  DispatchRequest& dispatch = submit->dispatch;
  dispatch.subject_personal_code = in.subject().id().value();
  dispatch.recipients = *recipients;
  dispatch.sender = &sender;
  dispatch.professional_id = actor.professional_id;
  std::string municipality = !in.municipality().empty()
                                 ? in.municipality()
                                 : sender.config.municipality();
  for (const Agency* manager : router.CaseManagers(municipality)) {
    dispatch.case_managers.push_back(manager->ref.registry_code());
  }

  ReferralRow row;
  row.referral_id = message_id;
  row.status = sild::v1::REFERRAL_STATUS_SUBMITTED;
  row.service = in.service();
  row.urgency = referral->urgency();
  row.requester = submit->sender;
  row.case_id = header->case_id();
  row.municipality = municipality;
  row.created = now;
  row.updated = now;
  row.acknowledge_by = AcknowledgeBy(context, *referral, now);
  submit->on_accepted = [row](WriteTxn& txn, const DispatchResult&) {
    ReferralRow stored = row;
    stored.created = txn.now();
    stored.updated = txn.now();
    return InsertReferral(txn, stored);
  };

  SubmitAsync(context, std::move(submit), std::move(done));
}

void ChangeReferralStatus(const ExchangeContext& context, const Router& router,
                          const Actor& actor,
                          const sild::v1::UpdateReferralStatusRequest& request,
                          SubmitDone done) {
  if (request.status() == sild::v1::REFERRAL_STATUS_REJECTED &&
      request.rejection_reason() == sild::v1::REJECTION_REASON_UNSPECIFIED) {
    done(InvalidField("MISSING_REJECTION_REASON", "rejection_reason",
                      "a rejection needs a reason"));
    return;
  }
  if (request.note().size() > kMaxFreeTextBytes) {
    done(InvalidField("TEXT_TOO_LONG", "note", "note too long"));
    return;
  }
  auto submit =
      NewPreparedSubmit(actor.agency->ref.registry_code(),
                        request.idempotency_key(), "idempotency_key", request);
  // The change stands whatever the decisions: the parties get at least its
  // operational part (deliver_operational_on_deny).
  submit->refuse_when_none_allowed = false;

  // What the write loads before the update goes out and changes after.
  struct Change {
    sild::v1::UpdateReferralStatusRequest request;
    Actor actor;
    ReferralRow row;
    MessageRow message;
    sild::v1::ReferralStatusChange change;
  };
  auto state = std::make_shared<Change>();
  state->request = request;
  state->actor = actor;
  const ExchangeContext* ctx = &context;
  const Router* routes = &router;

  submit->before_dispatch = [ctx, routes, state](
                                WriteTxn& txn,
                                DispatchRequest& dispatch) -> absl::Status {
    const sild::v1::UpdateReferralStatusRequest& req = state->request;
    const Actor& who = state->actor;
    const std::string& id = req.referral_id();
    const std::string& me = who.agency->ref.registry_code();
    SILD_ASSIGN_OR_RETURN(auto row, LoadReferral(txn.sql(), id));
    if (!row) return ReferralNotFound(id);
    SILD_ASSIGN_OR_RETURN(auto roles, PartyRoles(txn.sql(), id, me));
    bool is_requester = Has(roles, kRoleSender);
    bool is_recipient = Has(roles, kRoleRecipient);
    if (!is_requester && !is_recipient) return ReferralNotFound(id);
    SILD_RETURN_IF_ERROR(CheckReferralTransition(row->status, req.status(),
                                                 is_requester, is_recipient));
    SILD_ASSIGN_OR_RETURN(auto message,
                          LoadMessage(txn.sql(), ctx->store->cipher(), id));
    if (!message) return ReferralNotFound(id);
    state->row = *std::move(row);
    state->message = *std::move(message);
    const Referral& referral = state->message.envelope.referral();

    sild::v1::ReferralStatusChange& change = state->change;
    change.set_status(req.status());
    change.set_rejection_reason(req.rejection_reason());
    change.set_note(req.note());
    *change.mutable_time() = ToProtoTime(txn.now());
    *change.mutable_changed_by() = who.agency->ref;
    if (req.has_professional()) {
      *change.mutable_professional() = req.professional();
    }

    // The other parties get the change as a message.
    std::string update_id = NewUuid();
    sild::v1::Envelope& envelope = dispatch.envelope;
    envelope.set_message_id(update_id);
    envelope.set_kind(sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
    auto* update = envelope.mutable_status_update();
    auto* header = update->mutable_header();
    header->set_message_id(update_id);
    header->set_case_id(referral.header().case_id());
    *header->mutable_sender() = who.agency->ref;
    header->set_purpose(referral.header().purpose());
    *header->mutable_created_time() = ToProtoTime(txn.now());
    header->set_schema_version("1.0");
    header->set_kind(sild::v1::MESSAGE_KIND_REFERRAL_STATUS);
    header->set_in_reply_to(id);
    header->set_idempotency_key(req.idempotency_key());
    update->set_referral_id(id);
    *update->mutable_change() = change;
    if (is_recipient && !is_requester) {
      if (const Agency* requester =
              ctx->directory->FindByRegistryCode(state->row.requester)) {
        dispatch.recipients.push_back(requester);
      }
    } else {
      SILD_ASSIGN_OR_RETURN(
          auto parties,
          txn.sql().Query("SELECT registry_code FROM message_parties "
                          "WHERE message_id = ? AND role = ?",
                          {id, std::string(kRoleRecipient)}));
      for (const auto& party : parties) {
        if (const Agency* a =
                ctx->directory->FindByRegistryCode(party.Text(0))) {
          dispatch.recipients.push_back(a);
        }
      }
    }
    for (const Agency* r : dispatch.recipients) {
      *header->add_recipients() = r->ref;
    }
    dispatch.subject_personal_code = referral.subject().id().value();
    dispatch.sender = who.agency;
    dispatch.professional_id = who.professional_id;
    dispatch.deliver_operational_on_deny = true;
    for (const Agency* manager :
         routes->CaseManagers(state->row.municipality)) {
      dispatch.case_managers.push_back(manager->ref.registry_code());
    }
    return absl::OkStatus();
  };

  submit->on_accepted = [ctx, state](WriteTxn& txn,
                                     DispatchResult& result) -> absl::Status {
    const sild::v1::UpdateReferralStatusRequest& req = state->request;
    const Actor& who = state->actor;
    const std::string& id = req.referral_id();
    Referral& referral = *state->message.envelope.mutable_referral();
    // The audit trail records the status change itself too.
    sild::v1::AuditRecord draft;
    draft.mutable_actor()->set_registry_code(who.agency->ref.registry_code());
    draft.mutable_actor()->set_professional_id(who.professional_id);
    draft.set_action(sild::v1::AUDIT_ACTION_STATUS_CHANGE);
    draft.set_message_id(id);
    draft.set_message_kind(sild::v1::MESSAGE_KIND_REFERRAL);
    draft.set_subject_pseudonym(
        ctx->audit_log->Pseudonym(referral.subject().id().value()));
    draft.set_purpose(referral.header().purpose());
    draft.set_outcome(sild::v1::AUDIT_OUTCOME_SUCCESS);
    draft.set_reason_code(sild::v1::ReferralStatus_Name(req.status()));
    draft.set_detail(
        absl::StrCat("referral moved from ",
                     sild::v1::ReferralStatus_Name(state->row.status), " to ",
                     sild::v1::ReferralStatus_Name(req.status())));
    SILD_ASSIGN_OR_RETURN(auto sealed,
                          ctx->audit_log->Append(txn, std::move(draft)));

    referral.set_status(req.status());
    *referral.add_history() = state->change;
    SILD_RETURN_IF_ERROR(UpdateMessageEnvelope(txn, ctx->store->cipher(), id,
                                               state->message.envelope));
    SILD_RETURN_IF_ERROR(
        UpdateReferralStatus(txn, id, req.status(), txn.now()));
    // The receipt names the status change's audit record.
    result.receipt.set_audit_sequence(sealed.sequence());
    result.receipt.set_audit_record_hash(sealed.record_hash());
    return absl::OkStatus();
  };

  SubmitAsync(context, std::move(submit), std::move(done));
}

}  // namespace sild::exchange
