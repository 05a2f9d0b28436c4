#include "gateway/exchange/deadline_scanner.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/base/log.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"
#include "gateway/base/thread_name.h"

namespace sild::exchange {
namespace {

// Most escalations of each kind in one scan; the rest wait for the next.
constexpr int kScanLimit = 500;

struct Overdue {
  sild::v1::EscalationKind kind = sild::v1::ESCALATION_KIND_UNSPECIFIED;
  std::string message_id;
  std::string sender;
  // Who should have acknowledged ("" when unknown).
  std::string overdue_party;
  absl::Time due;
};

// Marks nothing: the caller marked the row escalated in the same write.
absl::Status DispatchEscalation(WriteTxn& txn, const ExchangeContext& ctx,
                                const Overdue& overdue) {
  const PayloadCipher& cipher = ctx.store->cipher();
  SILD_ASSIGN_OR_RETURN(auto message,
                        LoadMessage(txn.sql(), cipher, overdue.message_id));
  const Agency* sender = ctx.directory->FindByRegistryCode(overdue.sender);
  if (!message || sender == nullptr) {
    // Nothing to escalate in anyone's name; the mark keeps the scanner from
    // trying again every interval.
    LogWarning("overdue message cannot be escalated",
               {{"message_id", overdue.message_id},
                {"reason", !message ? "message missing" : "sender unknown"}});
    return absl::OkStatus();
  }
  SILD_ASSIGN_OR_RETURN(
      std::vector<std::string> managers,
      PartiesWithRole(txn.sql(), overdue.message_id, kRoleCaseManager));
  std::vector<const Agency*> recipients;
  for (const std::string& code : managers) {
    if (const Agency* agency = ctx.directory->FindByRegistryCode(code)) {
      recipients.push_back(agency);
    }
  }
  if (recipients.empty()) recipients.push_back(sender);

  DispatchRequest dispatch;
  std::string escalation_id = NewUuid();
  if (escalation_id.empty()) return absl::InternalError("no randomness");
  sild::v1::Envelope& envelope = dispatch.envelope;
  envelope.set_message_id(escalation_id);
  envelope.set_kind(sild::v1::MESSAGE_KIND_ESCALATION);
  sild::v1::Escalation* escalation = envelope.mutable_escalation();
  sild::v1::MessageHeader* header = escalation->mutable_header();
  header->set_message_id(escalation_id);
  header->set_case_id(message->case_id);
  *header->mutable_sender() = sender->ref;
  for (const Agency* r : recipients) *header->add_recipients() = r->ref;
  header->set_kind(sild::v1::MESSAGE_KIND_ESCALATION);
  header->set_purpose(sild::v1::PURPOSE_CASE_MANAGEMENT);
  *header->mutable_created_time() = ToProtoTime(txn.now());
  header->set_schema_version("1.0");
  header->set_in_reply_to(overdue.message_id);
  escalation->set_escalation(overdue.kind);
  escalation->set_overdue_message_id(overdue.message_id);
  if (const Agency* party =
          ctx.directory->FindByRegistryCode(overdue.overdue_party)) {
    *escalation->mutable_overdue_party() = party->ref;
  } else if (!overdue.overdue_party.empty()) {
    escalation->mutable_overdue_party()->set_registry_code(
        overdue.overdue_party);
  }
  *escalation->mutable_due_time() = ToProtoTime(overdue.due);
  escalation->set_case_id(message->case_id);
  std::string subject = SubjectPersonalCodeOf(message->envelope);
  if (message->envelope.has_referral()) {
    *escalation->mutable_subject() =
        message->envelope.referral().subject().id();
  } else if (message->envelope.has_transition()) {
    *escalation->mutable_subject() =
        message->envelope.transition().subject().id();
  }
  dispatch.subject_personal_code = subject;
  dispatch.recipients = recipients;
  dispatch.sender = sender;
  dispatch.professional_id = kGatewayProfessionalId;
  // The coordinator learns at least that something is overdue.
  dispatch.deliver_operational_on_deny = true;
  SILD_ASSIGN_OR_RETURN(DispatchResult result, Dispatch(txn, ctx, dispatch));

  std::vector<std::string> told;
  for (const Agency* r : recipients) told.push_back(r->ref.registry_code());
  sild::v1::AuditRecord draft;
  draft.mutable_actor()->set_registry_code(sender->ref.registry_code());
  draft.mutable_actor()->set_professional_id(kGatewayProfessionalId);
  draft.set_action(sild::v1::AUDIT_ACTION_ESCALATION);
  draft.set_message_id(overdue.message_id);
  draft.set_message_kind(message->kind);
  draft.set_subject_pseudonym(message->subject_pseudonym);
  draft.set_purpose(sild::v1::PURPOSE_CASE_MANAGEMENT);
  draft.set_outcome(sild::v1::AUDIT_OUTCOME_SUCCESS);
  draft.set_reason_code(overdue.kind ==
                                sild::v1::ESCALATION_KIND_LOST_IN_TRANSITION
                            ? "LOST_IN_TRANSITION"
                            : "REFERRAL_NOT_ACKNOWLEDGED");
  draft.set_counterparty(overdue.overdue_party);
  draft.set_detail(absl::StrCat(
      overdue.kind == sild::v1::ESCALATION_KIND_LOST_IN_TRANSITION
          ? "transition"
          : "referral",
      " not acknowledged", overdue.overdue_party.empty() ? "" : " by ",
      overdue.overdue_party, " by ",
      absl::FormatTime("%Y-%m-%d %H:%M UTC", overdue.due, absl::UTCTimeZone()),
      "; escalation ", escalation_id, " sent to ", absl::StrJoin(told, ", "),
      " (", result.allowed, " queued)"));
  return ctx.audit_log->Append(txn, std::move(draft)).status();
}

}  // namespace

DeadlineScanner::DeadlineScanner(const ExchangeContext* context,
                                 absl::Duration interval)
    : context_(context),
      interval_(std::max(interval, absl::Milliseconds(10))) {}

DeadlineScanner::~DeadlineScanner() { Stop(); }

void DeadlineScanner::Start() {
  absl::MutexLock lock(&mu_);
  if (stopping_ || thread_.joinable()) return;
  thread_ = std::thread([this] {
    NameThisThread("sild-deadlines");
    Loop();
  });
}

void DeadlineScanner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void DeadlineScanner::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      absl::Time deadline = absl::Now() + interval_;
      while (!stopping_) {
        if (wake_.WaitWithDeadline(&mu_, deadline)) break;
      }
      if (stopping_) return;
    }
    absl::StatusOr<ScanResult> scanned =
        ScanOnce(context_->store->clock()->Now());
    if (!scanned.ok()) {
      LogWarning("deadline scan failed",
                 {{"error", std::string(scanned.status().message())}});
    } else if (scanned->referrals + scanned->transitions > 0) {
      LogInfo("deadlines escalated",
              {{"referrals", absl::StrCat(scanned->referrals)},
               {"transitions", absl::StrCat(scanned->transitions)}});
    }
  }
}

absl::StatusOr<DeadlineScanner::ScanResult> DeadlineScanner::ScanOnce(
    absl::Time now) {
  std::vector<ReferralRow> referrals;
  std::vector<TransitionRow> transitions;
  SILD_RETURN_IF_ERROR(
      context_->store->Read([&](SqlConnection& sql) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(referrals,
                              OverdueReferrals(sql, now, kScanLimit));
        SILD_ASSIGN_OR_RETURN(transitions,
                              OverdueTransitions(sql, now, kScanLimit));
        return absl::OkStatus();
      }));
  ScanResult result;
  absl::Status first_error;
  auto note = [&](const absl::StatusOr<bool>& done, const std::string& id,
                  int* counter) {
    if (done.ok()) {
      if (*done) ++*counter;
      return;
    }
    LogWarning(
        "escalation failed",
        {{"message_id", id}, {"error", std::string(done.status().message())}});
    if (first_error.ok()) first_error = done.status();
  };
  for (const ReferralRow& referral : referrals) {
    note(EscalateReferral(referral), referral.referral_id, &result.referrals);
  }
  for (const TransitionRow& transition : transitions) {
    note(EscalateTransition(transition), transition.transition_id,
         &result.transitions);
  }
  if (!first_error.ok()) return first_error;
  return result;
}

absl::StatusOr<bool> DeadlineScanner::EscalateReferral(
    const ReferralRow& referral) {
  bool escalated = false;
  const ExchangeContext* ctx = context_;
  SILD_RETURN_IF_ERROR(
      ctx->store->writer().Run([&](WriteTxn& txn) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(escalated,
                              MarkReferralEscalated(txn, referral.referral_id));
        // Acknowledged or escalated since the scan read it.
        if (!escalated) return absl::OkStatus();
        SILD_ASSIGN_OR_RETURN(
            std::vector<std::string> recipients,
            PartiesWithRole(txn.sql(), referral.referral_id, kRoleRecipient));
        Overdue overdue;
        overdue.kind = sild::v1::ESCALATION_KIND_REFERRAL_NOT_ACKNOWLEDGED;
        overdue.message_id = referral.referral_id;
        overdue.sender = referral.requester;
        overdue.overdue_party = recipients.empty() ? "" : recipients.front();
        overdue.due = referral.acknowledge_by;
        return DispatchEscalation(txn, *ctx, overdue);
      }));
  return escalated;
}

absl::StatusOr<bool> DeadlineScanner::EscalateTransition(
    const TransitionRow& transition) {
  bool escalated = false;
  const ExchangeContext* ctx = context_;
  SILD_RETURN_IF_ERROR(
      ctx->store->writer().Run([&](WriteTxn& txn) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(
            escalated, MarkTransitionEscalated(txn, transition.transition_id));
        if (!escalated) return absl::OkStatus();
        Overdue overdue;
        overdue.kind = sild::v1::ESCALATION_KIND_LOST_IN_TRANSITION;
        overdue.message_id = transition.transition_id;
        overdue.sender = transition.sender;
        overdue.overdue_party = transition.recipient;
        overdue.due = transition.acknowledge_by;
        return DispatchEscalation(txn, *ctx, overdue);
      }));
  return escalated;
}

}  // namespace sild::exchange
