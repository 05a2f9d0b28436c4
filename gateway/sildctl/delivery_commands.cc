// sildctl verbs for delivery: the agency's gRPC inbox (inbox watch) and, for
// operators, deliveries and dead letters (deliveries list / replay).
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/status_macros.h"
#include "gateway/exchange/envelope.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/sildctl/cli.h"
#include "sild/v1/delivery_service.grpc.pb.h"
#include "sild/v1/inbox_service.grpc.pb.h"

namespace sild::ctl {
namespace {

absl::StatusOr<int64_t> IntFlag(const Args& args, const std::string& flag,
                                int64_t fallback, int64_t min) {
  if (!args.Has(flag)) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(args.Get(flag), &value) || value < min) {
    return UsageError(
        absl::StrCat("--", flag, " wants a number of at least ", min));
  }
  return value;
}

std::string Shorten(const std::string& text, size_t max = 60) {
  std::string one_line;
  for (char c : text) one_line += (c == '\n' || c == '\r') ? ' ' : c;
  if (one_line.size() <= max) return one_line;
  return one_line.substr(0, max - 3) + "...";
}

// One line about a message, without personal codes.
std::string Summary(const sild::v1::Envelope& envelope) {
  switch (envelope.body_case()) {
    case sild::v1::Envelope::kReferral: {
      const auto& r = envelope.referral();
      return absl::StrCat(ShortEnumName(sild::v1::ServiceType_descriptor(),
                                        "SERVICE_TYPE_", r.service()),
                          " referral, ",
                          ShortEnumName(sild::v1::Urgency_descriptor(),
                                        "URGENCY_", r.urgency()),
                          r.summary().empty() ? "" : ": ",
                          Shorten(r.summary()));
    }
    case sild::v1::Envelope::kStatusUpdate: {
      const auto& u = envelope.status_update();
      return absl::StrCat(
          "referral ", u.referral_id(), " is now ",
          ShortEnumName(sild::v1::ReferralStatus_descriptor(),
                        "REFERRAL_STATUS_", u.change().status()),
          u.change().note().empty() ? "" : ": ", Shorten(u.change().note()));
    }
    case sild::v1::Envelope::kTransition: {
      const auto& t = envelope.transition();
      if (t.has_acknowledgement() &&
          t.acknowledgement().status() !=
              sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING) {
        return absl::StrCat(
            "hand-over ", t.header().in_reply_to(), " acknowledged: ",
            ShortEnumName(sild::v1::AcknowledgementStatus_descriptor(),
                          "ACKNOWLEDGEMENT_STATUS_",
                          t.acknowledgement().status()));
      }
      return absl::StrCat("hand-over from ",
                          t.from_institution().registry_code(), " to ",
                          t.to_institution().registry_code().empty()
                              ? "(no next institution)"
                              : t.to_institution().registry_code());
    }
    case sild::v1::Envelope::kAssessment:
      return "assessment";
    case sild::v1::Envelope::kConsentWithdrawal:
      return absl::StrCat(
          "consent ", envelope.consent_withdrawal().consent_id(),
          " withdrawn: stop processing ",
          envelope.consent_withdrawal().message_ids_size(), " message(s)");
    case sild::v1::Envelope::kEscalation: {
      const auto& e = envelope.escalation();
      return absl::StrCat(ShortEnumName(sild::v1::EscalationKind_descriptor(),
                                        "ESCALATION_KIND_", e.escalation()),
                          ": ", e.overdue_message_id(), " at ",
                          e.overdue_party().registry_code());
    }
    case sild::v1::Envelope::BODY_NOT_SET:
      break;
  }
  return "";
}

absl::Status RunInboxWatch(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(
      ctx.args.CheckKnown({"after", "ack", "count", "timeout-ack"}));
  if (!ctx.args.positionals().empty()) return UsageError("no arguments");
  SILD_ASSIGN_OR_RETURN(int64_t after, IntFlag(ctx.args, "after", 0, 0));
  SILD_ASSIGN_OR_RETURN(int64_t count, IntFlag(ctx.args, "count", 0, 1));
  SILD_ASSIGN_OR_RETURN(int64_t ack_timeout,
                        IntFlag(ctx.args, "timeout-ack", 0, 100));
  bool ack = ctx.args.Has("ack");

  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::InboxService::NewStub(channel);
  sild::v1::SubscribeRequest request;
  request.set_after_cursor(after);
  request.set_ack_timeout_ms(static_cast<int32_t>(ack_timeout));
  auto call = ctx.NewCallContext();
  if (count == 0) {
    // Watching without a count runs until interrupted.
    call->set_deadline(std::chrono::system_clock::time_point::max());
  }
  auto reader = stub->Subscribe(call.get(), request);
  sild::v1::InboxMessage message;
  int64_t seen = 0;
  while (reader->Read(&message)) {
    ctx.Print(message, [&](std::ostream& out) {
      const std::string& sender =
          exchange::Header(message.envelope()).sender().registry_code();
      out << message.cursor() << "  " << message.envelope().message_id() << "  "
          << ShortEnumName(sild::v1::MessageKind_descriptor(), "MESSAGE_KIND_",
                           message.envelope().kind())
          << "  from " << (sender.empty() ? std::string("?") : sender) << "  "
          << Summary(message.envelope());
      if (message.redelivery() > 0) {
        out << "  (redelivery " << message.redelivery() << ")";
      }
      out << "\n";
    });
    ctx.out.flush();
    if (ack) {
      sild::v1::AckRequest ack_request;
      ack_request.add_cursors(message.cursor());
      sild::v1::AckResponse ack_response;
      auto ack_call = ctx.NewCallContext();
      grpc::Status acked =
          stub->Ack(ack_call.get(), ack_request, &ack_response);
      SILD_RETURN_IF_ERROR(FromGrpcStatus(acked, ack_call.get()));
    }
    if (count > 0 && ++seen >= count) {
      call->TryCancel();
      reader->Finish();
      return absl::OkStatus();
    }
  }
  grpc::Status status = reader->Finish();
  return FromGrpcStatus(status, call.get());
}

absl::Status RunDeliveriesList(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(
      ctx.args.CheckKnown({"state", "recipient", "page-size", "page-token"}));
  if (!ctx.args.positionals().empty()) return UsageError("no arguments");
  sild::v1::ListDeliveriesRequest request;
  if (ctx.args.Has("state")) {
    SILD_ASSIGN_OR_RETURN(
        int state,
        ParseEnumFlag(sild::v1::DeliveryState_descriptor(), "DELIVERY_STATE_",
                      "state", ctx.args.Get("state")));
    request.set_state(static_cast<sild::v1::DeliveryState>(state));
  }
  request.set_recipient_registry_code(ctx.args.Get("recipient"));
  SILD_ASSIGN_OR_RETURN(int64_t page_size,
                        IntFlag(ctx.args, "page-size", 0, 1));
  request.set_page_size(static_cast<int32_t>(page_size));
  request.set_page_token(ctx.args.Get("page-token"));

  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::DeliveryService::NewStub(channel);
  sild::v1::ListDeliveriesResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->List(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    if (response.deliveries().empty()) out << "no deliveries\n";
    for (const auto& d : response.deliveries()) {
      out << d.delivery_id() << "  "
          << ShortEnumName(sild::v1::DeliveryState_descriptor(),
                           "DELIVERY_STATE_", d.state())
          << "  to " << d.recipient().registry_code() << " by " << d.transport()
          << "  "
          << ShortEnumName(sild::v1::MessageKind_descriptor(), "MESSAGE_KIND_",
                           d.kind())
          << " " << d.message_id() << "  attempts " << d.attempts();
      if (!d.last_error().empty()) out << "  last error: " << d.last_error();
      out << "\n";
    }
    if (!response.next_page_token().empty()) {
      out << "more: --page-token " << response.next_page_token() << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunDeliveriesReplay(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({}));
  int64_t id = 0;
  if (ctx.args.positionals().size() != 1 ||
      !absl::SimpleAtoi(ctx.args.positionals()[0], &id) || id <= 0) {
    return UsageError("give one delivery id");
  }
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::DeliveryService::NewStub(channel);
  sild::v1::ReplayDeliveryRequest request;
  request.set_delivery_id(id);
  sild::v1::ReplayDeliveryResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Replay(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    if (response.allowed()) {
      out << "delivery " << id << " queued again (" << response.reason_code()
          << "): " << response.detail() << "\n";
    } else {
      out << "delivery " << id << " refused on replay ("
          << response.reason_code() << "): " << response.detail() << "\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunTransportsList(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({"unhealthy-fails"}));
  if (!ctx.args.positionals().empty()) return UsageError("no arguments");
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  auto stub = sild::v1::DeliveryService::NewStub(channel);
  sild::v1::ListTransportsResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->ListTransports(
      call.get(), sild::v1::ListTransportsRequest(), &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  int unhealthy = 0;
  ctx.Print(response, [&](std::ostream& out) {
    if (response.transports().empty()) {
      out << "no connector transports configured\n";
    }
    for (const auto& t : response.transports()) {
      out << t.registry_code() << "  "
          << ShortEnumName(sild::v1::TransportDirection_descriptor(),
                           "TRANSPORT_DIRECTION_", t.direction())
          << "  " << t.transport() << "  "
          << (t.healthy() ? "healthy" : "UNAVAILABLE");
      if (!t.healthy() && !t.detail().empty()) out << ": " << t.detail();
      out << "\n";
    }
  });
  for (const auto& t : response.transports()) unhealthy += t.healthy() ? 0 : 1;
  if (unhealthy > 0 && ctx.args.Has("unhealthy-fails")) {
    return absl::UnavailableError(
        absl::StrCat(unhealthy, " transport(s) unavailable"));
  }
  return absl::OkStatus();
}

SILD_REGISTER_COMMAND(
    "transports list", "health of the agencies' broker transports (operators)",
    "usage: sildctl transports list [--unhealthy-fails]\n\n"
    "One line per agency connector transport (egress: the gateway delivers\n"
    "to the agency's broker; ingress: it consumes the agency's messages):\n"
    "healthy, or UNAVAILABLE with the last connection error. The same state\n"
    "is on the gRPC health service as sild.transport.<direction>.<code>.\n"
    "--unhealthy-fails exits non-zero when any transport is unavailable\n"
    "(for monitoring scripts). Needs an agency with the operator role.",
    RunTransportsList, {"unhealthy-fails"});
SILD_REGISTER_COMMAND(
    "inbox watch", "stream your agency's inbox",
    "usage: sildctl inbox watch [--after CURSOR] [--ack] [--count N]\n"
    "                           [--timeout-ack MS]\n\n"
    "Prints each message as it arrives: cursor, message id, kind, sender and\n"
    "a one-line summary (--json: the InboxMessage). Unacknowledged messages\n"
    "come again after the ack timeout (the gateway's default, or\n"
    "--timeout-ack); --ack acknowledges each one after printing it.\n"
    "--after resumes after a cursor (default: the oldest unacknowledged).\n"
    "--count stops after N messages and fails if they do not arrive within\n"
    "--timeout; without it, watch runs until interrupted.",
    RunInboxWatch, {"ack"});
SILD_REGISTER_COMMAND(
    "deliveries list", "list deliveries and dead letters (operators)",
    "usage: sildctl deliveries list [--state pending|delivered|dead|"
    "refused-on-replay]\n"
    "                               [--recipient CODE] [--page-size N]\n"
    "                               [--page-token TOKEN]\n\n"
    "Oldest first. Needs an agency with the operator role.",
    RunDeliveriesList);
SILD_REGISTER_COMMAND(
    "deliveries replay", "replay a dead letter (operators)",
    "usage: sildctl deliveries replay ID\n\n"
    "Re-takes the disclosure decision now: if it still allows the delivery,\n"
    "the message is queued again (minimised to what is allowed now);\n"
    "otherwise it is refused on replay. Either way the replay is audited.\n"
    "A delivery that is not a dead letter is refused (NOT_DEAD_LETTER).",
    RunDeliveriesReplay);

}  // namespace
}  // namespace sild::ctl
