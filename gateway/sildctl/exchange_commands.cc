// sildctl verbs for the exchange: referral submit|get|list|status,
// transition submit|ack|get.
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/base/status_macros.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/sildctl/cli.h"
#include "google/protobuf/util/time_util.h"
#include "sild/v1/referral_service.grpc.pb.h"
#include "sild/v1/transition_service.grpc.pb.h"

namespace sild::ctl {
namespace {

using sild::v1::Receipt;

std::string RandomKey() {
  // A fresh key for one-off submits; print it so a retry can reuse it.
  unsigned char b[12];
  FILE* f = std::fopen("/dev/urandom", "rb");
  size_t got = f ? std::fread(b, 1, sizeof(b), f) : 0;
  if (f) std::fclose(f);
  std::string out = "sildctl-";
  for (size_t i = 0; i < got; ++i)
    absl::StrAppend(&out, absl::Hex(b[i], absl::kZeroPad2));
  return out;
}

absl::StatusOr<sild::v1::Date> ParseDate(const std::string& flag,
                                         const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '-');
  int y = 0, m = 0, d = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &y) ||
      !absl::SimpleAtoi(parts[1], &m) || !absl::SimpleAtoi(parts[2], &d)) {
    return UsageError(absl::StrCat("--", flag, " must be YYYY-MM-DD"));
  }
  sild::v1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

absl::StatusOr<int> IntFlag(const Args& args, const std::string& flag) {
  int value = 0;
  if (!absl::SimpleAtoi(args.Get(flag), &value) || value < 0) {
    return UsageError(absl::StrCat("--", flag, " needs a number"));
  }
  return value;
}

void PrintReceipt(std::ostream& out, const Receipt& receipt) {
  out << "message id:     " << receipt.message_id()
      << (receipt.duplicate() ? "  (retry: original receipt)" : "") << "\n"
      << "audit record:   " << receipt.chain_id() << "#"
      << receipt.audit_sequence() << "\n";
  for (const auto& r : receipt.recipients()) {
    out << "  -> " << r.recipient().name() << " ("
        << r.recipient().registry_code()
        << "): " << (r.allowed() ? "ALLOWED " : "REFUSED ") << r.reason_code()
        << "\n"
        << "     " << r.detail() << "\n";
  }
}

absl::Status Finish(CommandContext& ctx, const grpc::Status& status,
                    grpc::ClientContext* call, const Receipt& receipt) {
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call));
  ctx.Print(receipt, [&](std::ostream& out) { PrintReceipt(out, receipt); });
  return absl::OkStatus();
}

absl::Status RunReferralSubmit(CommandContext& ctx) {
  const Args& a = ctx.args;
  SILD_RETURN_IF_ERROR(a.CheckKnown({"file",
                                     "subject",
                                     "given-name",
                                     "family-name",
                                     "service",
                                     "to",
                                     "municipality",
                                     "purpose",
                                     "summary",
                                     "urgency",
                                     "idempotency-key",
                                     "case-id",
                                     "absences",
                                     "lessons",
                                     "failing",
                                     "health-concern",
                                     "behaviour-incidents",
                                     "social-concern",
                                     "professional-name",
                                     "professional-role"}));
  sild::v1::SubmitReferralRequest request;
  sild::v1::Referral& r = *request.mutable_referral();
  if (a.Has("file")) SILD_RETURN_IF_ERROR(ReadJsonMessage(a.Get("file"), &r));
  if (a.Has("subject")) {
    r.mutable_subject()->mutable_id()->set_scheme(
        sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    r.mutable_subject()->mutable_id()->set_value(a.Get("subject"));
  }
  if (a.Has("given-name"))
    r.mutable_subject()->set_given_name(a.Get("given-name"));
  if (a.Has("family-name")) {
    r.mutable_subject()->set_family_name(a.Get("family-name"));
  }
  if (a.Has("service")) {
    SILD_ASSIGN_OR_RETURN(
        int v, ParseEnumFlag(sild::v1::ServiceType_descriptor(),
                             "SERVICE_TYPE_", "service", a.Get("service")));
    r.set_service(static_cast<sild::v1::ServiceType>(v));
  }
  if (a.Has("to")) r.mutable_performer()->set_registry_code(a.Get("to"));
  if (a.Has("municipality")) r.set_municipality(a.Get("municipality"));
  if (a.Has("purpose")) {
    SILD_ASSIGN_OR_RETURN(
        int v, ParseEnumFlag(sild::v1::Purpose_descriptor(), "PURPOSE_",
                             "purpose", a.Get("purpose")));
    r.mutable_header()->set_purpose(static_cast<sild::v1::Purpose>(v));
  }
  if (a.Has("urgency")) {
    SILD_ASSIGN_OR_RETURN(
        int v, ParseEnumFlag(sild::v1::Urgency_descriptor(), "URGENCY_",
                             "urgency", a.Get("urgency")));
    r.set_urgency(static_cast<sild::v1::Urgency>(v));
  }
  if (a.Has("summary")) r.set_summary(a.Get("summary"));
  if (a.Has("case-id")) r.mutable_header()->set_case_id(a.Get("case-id"));
  if (a.Has("absences")) {
    SILD_ASSIGN_OR_RETURN(int absences, IntFlag(a, "absences"));
    auto* attendance = r.add_risk_indicators()->mutable_attendance();
    attendance->set_unexcused_absences(absences);
    if (a.Has("lessons")) {
      SILD_ASSIGN_OR_RETURN(int lessons, IntFlag(a, "lessons"));
      attendance->set_lessons(lessons);
    }
  }
  if (a.Has("failing")) {
    auto* academic = r.add_risk_indicators()->mutable_academic();
    for (const auto& subject : a.GetAll("failing")) {
      academic->add_failing_subjects(subject);
    }
  }
  if (a.Has("health-concern")) {
    r.add_risk_indicators()->mutable_health()->set_concern(
        a.Get("health-concern"));
  }
  if (a.Has("behaviour-incidents")) {
    SILD_ASSIGN_OR_RETURN(int n, IntFlag(a, "behaviour-incidents"));
    r.add_risk_indicators()->mutable_behaviour()->set_incidents(n);
  }
  if (a.Has("social-concern")) {
    r.add_risk_indicators()->mutable_social()->set_concern(
        a.Get("social-concern"));
  }
  if (a.Has("professional-name")) {
    r.mutable_requested_by()->set_name(a.Get("professional-name"));
    r.mutable_requested_by()->set_role(a.Get("professional-role"));
  }
  if (a.Has("idempotency-key")) {
    r.mutable_header()->set_idempotency_key(a.Get("idempotency-key"));
  } else if (r.header().idempotency_key().empty()) {
    r.mutable_header()->set_idempotency_key(RandomKey());
    if (!ctx.options.json) {
      ctx.err << "idempotency key: " << r.header().idempotency_key()
              << " (pass it with --idempotency-key to retry safely)\n";
    }
  }
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::ReferralService::NewStub(channel);
  auto call = ctx.NewCallContext();
  Receipt receipt;
  grpc::Status status = stub->Submit(call.get(), request, &receipt);
  return Finish(ctx, status, call.get(), receipt);
}

absl::Status RunReferralGet(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  if (ctx.args.positionals().size() != 1) return UsageError("give one ID");
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::ReferralService::NewStub(channel);
  sild::v1::GetReferralRequest request;
  request.set_referral_id(ctx.args.positionals()[0]);
  sild::v1::GetReferralResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Get(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  const auto& r = response.referral();
  ctx.Print(response, [&](std::ostream& out) {
    out << "referral " << r.header().message_id() << "\n"
        << "  status:    "
        << ShortEnumName(sild::v1::ReferralStatus_descriptor(),
                         "REFERRAL_STATUS_", r.status())
        << "\n  service:   "
        << ShortEnumName(sild::v1::ServiceType_descriptor(), "SERVICE_TYPE_",
                         r.service())
        << "\n  from:      " << r.header().sender().name() << " ("
        << r.header().sender().registry_code() << ")\n"
        << "  subject:   "
        << (r.subject().id().value().empty() ? "(withheld)"
                                             : r.subject().id().value())
        << " " << r.subject().given_name() << " " << r.subject().family_name()
        << "\n  indicators: " << r.risk_indicators_size() << "\n  summary:   "
        << (r.summary().empty() ? "(none or withheld)" : r.summary()) << "\n";
    for (const auto& change : r.history()) {
      out << "  history:   "
          << ShortEnumName(sild::v1::ReferralStatus_descriptor(),
                           "REFERRAL_STATUS_", change.status())
          << " by " << change.changed_by().registry_code() << " at "
          << google::protobuf::util::TimeUtil::ToString(change.time())
          << (change.note().empty() ? "" : " - " + change.note()) << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunReferralList(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(
      ctx.args.CheckKnown({"role", "status", "case-id", "limit"}));
  sild::v1::ListReferralsRequest request;
  std::string role = ctx.args.Get("role");
  if (role == "sent")
    request.set_role(sild::v1::ListReferralsRequest::ROLE_SENT);
  else if (role == "received")
    request.set_role(sild::v1::ListReferralsRequest::ROLE_RECEIVED);
  else if (role == "case-managed")
    request.set_role(sild::v1::ListReferralsRequest::ROLE_CASE_MANAGED);
  else if (!role.empty())
    return UsageError("--role is sent, received or case-managed");
  if (ctx.args.Has("status")) {
    SILD_ASSIGN_OR_RETURN(
        int v,
        ParseEnumFlag(sild::v1::ReferralStatus_descriptor(), "REFERRAL_STATUS_",
                      "status", ctx.args.Get("status")));
    request.set_status(static_cast<sild::v1::ReferralStatus>(v));
  }
  request.set_case_id(ctx.args.Get("case-id"));
  if (ctx.args.Has("limit")) {
    SILD_ASSIGN_OR_RETURN(int limit, IntFlag(ctx.args, "limit"));
    request.set_page_size(limit);
  }
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::ReferralService::NewStub(channel);
  sild::v1::ListReferralsResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->List(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    if (response.referrals().empty()) out << "no referrals\n";
    for (const auto& r : response.referrals()) {
      out << r.referral_id() << "  "
          << ShortEnumName(sild::v1::ReferralStatus_descriptor(),
                           "REFERRAL_STATUS_", r.status())
          << "  "
          << ShortEnumName(sild::v1::ServiceType_descriptor(), "SERVICE_TYPE_",
                           r.service())
          << "  from " << r.requester().registry_code() << " to";
      for (const auto& to : r.recipients()) out << " " << to.registry_code();
      out << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunReferralStatus(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown(
      {"set", "reason", "note", "idempotency-key", "professional-name"}));
  if (ctx.args.positionals().size() != 1) return UsageError("give one ID");
  sild::v1::UpdateReferralStatusRequest request;
  request.set_referral_id(ctx.args.positionals()[0]);
  SILD_ASSIGN_OR_RETURN(std::string set, ctx.args.Require("set"));
  SILD_ASSIGN_OR_RETURN(int v,
                        ParseEnumFlag(sild::v1::ReferralStatus_descriptor(),
                                      "REFERRAL_STATUS_", "set", set));
  request.set_status(static_cast<sild::v1::ReferralStatus>(v));
  if (ctx.args.Has("reason")) {
    SILD_ASSIGN_OR_RETURN(
        int reason,
        ParseEnumFlag(sild::v1::RejectionReason_descriptor(),
                      "REJECTION_REASON_", "reason", ctx.args.Get("reason")));
    request.set_rejection_reason(
        static_cast<sild::v1::RejectionReason>(reason));
  }
  request.set_note(ctx.args.Get("note"));
  request.set_idempotency_key(ctx.args.Get("idempotency-key"));
  if (ctx.args.Has("professional-name")) {
    request.mutable_professional()->set_name(ctx.args.Get("professional-name"));
  }
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::ReferralService::NewStub(channel);
  Receipt receipt;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->UpdateStatus(call.get(), request, &receipt);
  return Finish(ctx, status, call.get(), receipt);
}

absl::Status RunTransitionSubmit(CommandContext& ctx) {
  const Args& a = ctx.args;
  SILD_RETURN_IF_ERROR(a.CheckKnown(
      {"file", "subject", "given-name", "family-name", "to", "purpose",
       "effective", "leaving-reason", "support-level", "support-need",
       "failing", "summary", "idempotency-key", "case-id"}));
  sild::v1::SubmitTransitionRequest request;
  sild::v1::Transition& t = *request.mutable_transition();
  if (a.Has("file")) SILD_RETURN_IF_ERROR(ReadJsonMessage(a.Get("file"), &t));
  if (a.Has("subject")) {
    t.mutable_subject()->mutable_id()->set_scheme(
        sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    t.mutable_subject()->mutable_id()->set_value(a.Get("subject"));
  }
  if (a.Has("given-name"))
    t.mutable_subject()->set_given_name(a.Get("given-name"));
  if (a.Has("family-name"))
    t.mutable_subject()->set_family_name(a.Get("family-name"));
  if (a.Has("to")) t.mutable_to_institution()->set_registry_code(a.Get("to"));
  if (a.Has("purpose")) {
    SILD_ASSIGN_OR_RETURN(
        int v, ParseEnumFlag(sild::v1::Purpose_descriptor(), "PURPOSE_",
                             "purpose", a.Get("purpose")));
    t.mutable_header()->set_purpose(static_cast<sild::v1::Purpose>(v));
  }
  if (a.Has("effective")) {
    SILD_ASSIGN_OR_RETURN(*t.mutable_effective_date(),
                          ParseDate("effective", a.Get("effective")));
  }
  if (a.Has("leaving-reason")) {
    SILD_ASSIGN_OR_RETURN(
        int v,
        ParseEnumFlag(sild::v1::LeavingReason_descriptor(), "LEAVING_REASON_",
                      "leaving-reason", a.Get("leaving-reason")));
    t.set_leaving_reason(static_cast<sild::v1::LeavingReason>(v));
  }
  if (a.Has("support-level")) {
    SILD_ASSIGN_OR_RETURN(
        int v,
        ParseEnumFlag(sild::v1::SupportLevel_descriptor(), "SUPPORT_LEVEL_",
                      "support-level", a.Get("support-level")));
    t.set_support_level(static_cast<sild::v1::SupportLevel>(v));
  }
  for (const auto& need : a.GetAll("support-need")) t.add_support_needs(need);
  for (const auto& subject : a.GetAll("failing")) {
    t.add_failing_subjects()->set_subject(subject);
  }
  if (a.Has("summary")) t.set_summary(a.Get("summary"));
  if (a.Has("case-id")) t.mutable_header()->set_case_id(a.Get("case-id"));
  if (a.Has("idempotency-key")) {
    t.mutable_header()->set_idempotency_key(a.Get("idempotency-key"));
  } else if (t.header().idempotency_key().empty()) {
    t.mutable_header()->set_idempotency_key(RandomKey());
  }
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::TransitionService::NewStub(channel);
  Receipt receipt;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Submit(call.get(), request, &receipt);
  return Finish(ctx, status, call.get(), receipt);
}

absl::Status RunTransitionAck(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(
      ctx.args.CheckKnown({"status", "note", "idempotency-key"}));
  if (ctx.args.positionals().size() != 1) return UsageError("give one ID");
  sild::v1::AcknowledgeTransitionRequest request;
  request.set_transition_id(ctx.args.positionals()[0]);
  SILD_ASSIGN_OR_RETURN(
      int v, ParseEnumFlag(sild::v1::AcknowledgementStatus_descriptor(),
                           "ACKNOWLEDGEMENT_STATUS_", "status",
                           ctx.args.Get("status", "enrolled")));
  request.mutable_acknowledgement()->set_status(
      static_cast<sild::v1::AcknowledgementStatus>(v));
  request.mutable_acknowledgement()->set_note(ctx.args.Get("note"));
  request.set_idempotency_key(ctx.args.Get("idempotency-key"));
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::TransitionService::NewStub(channel);
  Receipt receipt;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Acknowledge(call.get(), request, &receipt);
  return Finish(ctx, status, call.get(), receipt);
}

absl::Status RunTransitionGet(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  if (ctx.args.positionals().size() != 1) return UsageError("give one ID");
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::TransitionService::NewStub(channel);
  sild::v1::GetTransitionRequest request;
  request.set_transition_id(ctx.args.positionals()[0]);
  sild::v1::GetTransitionResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Get(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    const auto& t = response.transition();
    out << "transition " << t.header().message_id()
        << "\n  from: " << t.from_institution().registry_code() << "\n  to:   "
        << (t.to_institution().registry_code().empty()
                ? "(Unemployment Insurance Fund)"
                : t.to_institution().registry_code())
        << "\n  acknowledgement: "
        << ShortEnumName(sild::v1::AcknowledgementStatus_descriptor(),
                         "ACKNOWLEDGEMENT_STATUS_",
                         t.acknowledgement().status())
        << "\n";
  });
  return absl::OkStatus();
}

SILD_REGISTER_COMMAND(
    "referral submit", "refer a child to another agency's service",
    "usage: sildctl referral submit (--file REFERRAL.json | --subject CODE "
    "--service SERVICE (--to CODE | --municipality M) --purpose PURPOSE)\n"
    "       [--given-name G --family-name F] [--summary TEXT] [--urgency U]\n"
    "       [--absences N [--lessons N]] [--failing SUBJECT]... "
    "[--health-concern TEXT]\n"
    "       [--behaviour-incidents N] [--social-concern TEXT] [--case-id ID]\n"
    "       [--idempotency-key KEY] [--professional-name N --professional-role "
    "R]\n\n"
    "Prints the receipt: message id, audit record, and per recipient the\n"
    "decision (ALLOWED with the basis, or REFUSED with the reason code).\n"
    "A refusal for every recipient exits 1 with PERMISSION_DENIED.",
    RunReferralSubmit);
SILD_REGISTER_COMMAND("referral get", "show a referral as you may see it",
                      "usage: sildctl referral get ID", RunReferralGet);
SILD_REGISTER_COMMAND(
    "referral list", "list referrals you sent, received or case-manage",
    "usage: sildctl referral list [--role sent|received|case-managed] "
    "[--status S] [--case-id ID] [--limit N]",
    RunReferralList);
SILD_REGISTER_COMMAND(
    "referral status", "change a referral's status",
    "usage: sildctl referral status ID --set received|accepted|rejected|"
    "in-progress|completed|withdrawn [--reason R] [--note TEXT]",
    RunReferralStatus);
SILD_REGISTER_COMMAND(
    "transition submit", "hand a child over to the next institution",
    "usage: sildctl transition submit (--file TRANSITION.json | --subject CODE "
    "--purpose P --effective YYYY-MM-DD [--to CODE])\n"
    "       [--leaving-reason R] [--support-level L] [--support-need TEXT]...\n"
    "       [--failing SUBJECT]... [--summary TEXT] [--idempotency-key KEY]\n\n"
    "Without --to, the hand-over goes to the Unemployment Insurance Fund.",
    RunTransitionSubmit);
SILD_REGISTER_COMMAND(
    "transition ack", "acknowledge a hand-over you received",
    "usage: sildctl transition ack ID [--status enrolled|not-arrived|refused] "
    "[--note TEXT]",
    RunTransitionAck);
SILD_REGISTER_COMMAND("transition get", "show a hand-over",
                      "usage: sildctl transition get ID", RunTransitionGet);

}  // namespace
}  // namespace sild::ctl
