// sildctl verbs for auditors: audit query, verify, export, citizen, usage.
// They call sild.v1.AuditService, which only agencies with the auditor role
// may use; every call is recorded in the audit trail by the gateway.
#include <algorithm>
#include <cctype>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gateway/audit/bundle.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/status_macros.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/sildctl/cli.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"
#include "sild/v1/audit_service.grpc.pb.h"

namespace sild::ctl {
namespace {

using google::protobuf::util::TimeUtil;

// "disclosure", "DISCLOSURE", "AUDIT_ACTION_DISCLOSURE", "support-service"
// -> the enum number; 0 when `text` is empty.
absl::StatusOr<int> ParseEnum(const google::protobuf::EnumDescriptor* type,
                              absl::string_view prefix, const std::string& flag,
                              const std::string& text) {
  if (text.empty()) return 0;
  std::string name = absl::AsciiStrToUpper(text);
  absl::StrReplaceAll({{"-", "_"}}, &name);
  const google::protobuf::EnumValueDescriptor* value =
      type->FindValueByName(name);
  if (value == nullptr)
    value = type->FindValueByName(absl::StrCat(prefix, name));
  if (value == nullptr || value->number() == 0) {
    std::string names;
    for (int i = 1; i < type->value_count(); ++i) {
      absl::StrAppend(
          &names, i > 1 ? ", " : "",
          absl::AsciiStrToLower(type->value(i)->name().substr(prefix.size())));
    }
    return UsageError(absl::StrCat("--", flag, ": unknown value \"", text,
                                   "\"; one of ", names));
  }
  return value->number();
}

std::string EnumWord(const google::protobuf::EnumDescriptor* type,
                     absl::string_view prefix, int number) {
  const auto* value = type->FindValueByNumber(number);
  if (value == nullptr) return absl::StrCat(number);
  std::string name = value->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

std::string ActionWord(int a) {
  return EnumWord(sild::v1::AuditAction_descriptor(), "AUDIT_ACTION_", a);
}
std::string OutcomeWord(int o) {
  return EnumWord(sild::v1::AuditOutcome_descriptor(), "AUDIT_OUTCOME_", o);
}
std::string PurposeWord(int p) {
  return EnumWord(sild::v1::Purpose_descriptor(), "PURPOSE_", p);
}

// RFC 3339 ("2026-03-01T08:00:00Z") or a date ("2026-03-01", UTC). A date
// given to --until means the end of that day.
absl::StatusOr<google::protobuf::Timestamp> ParseTimeFlag(
    const std::string& flag, const std::string& text, bool end_of_day) {
  absl::Time time;
  std::string error;
  absl::CivilDay day;
  if (absl::ParseCivilTime(text, &day)) {
    time = absl::FromCivil(end_of_day ? day + 1 : day, absl::UTCTimeZone());
  } else if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return UsageError(absl::StrCat("--", flag, ": \"", text,
                                   "\" is neither RFC 3339 "
                                   "(2026-03-01T08:00:00Z) nor a date "
                                   "(2026-03-01)"));
  }
  return TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(time));
}

absl::Status SetTimeRange(const Args& args, google::protobuf::Timestamp* since,
                          bool* has_since, google::protobuf::Timestamp* until,
                          bool* has_until) {
  if (args.Has("since")) {
    SILD_ASSIGN_OR_RETURN(*since, ParseTimeFlag("since", args.Get("since"),
                                                /*end_of_day=*/false));
    *has_since = true;
  }
  if (args.Has("until")) {
    SILD_ASSIGN_OR_RETURN(*until, ParseTimeFlag("until", args.Get("until"),
                                                /*end_of_day=*/true));
    *has_until = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IntFlag(const Args& args, const std::string& flag,
                                int64_t fallback) {
  if (!args.Has(flag)) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(args.Get(flag), &value) || value < 0) {
    return UsageError(absl::StrCat("--", flag, " needs a number >= 0"));
  }
  return value;
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  return absl::FormatTime(
      "%Y-%m-%d %H:%M:%S",
      absl::FromUnixMillis(TimeUtil::TimestampToMilliseconds(t)),
      absl::UTCTimeZone());
}

// Left-aligned columns sized to their content.
class Table {
 public:
  explicit Table(std::vector<std::string> header) {
    rows_.push_back(std::move(header));
  }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) {
        width[i] = std::max(width[i], row[i].size());
      }
    }
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size())
          line += std::string(width[i] - row[i].size() + 2, ' ');
      }
      out << line << "\n";
    }
  }
  size_t size() const { return rows_.size() - 1; }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string AgencyText(const sild::v1::AgencyRef& agency) {
  if (agency.registry_code().empty()) return "-";
  if (agency.name().empty()) return agency.registry_code();
  return absl::StrCat(agency.registry_code(), " ", agency.name());
}

std::string BasisText(const sild::v1::LegalBasis& basis) {
  if (basis.has_consent()) {
    return absl::StrCat("consent ", basis.consent().consent_id(), " v",
                        basis.consent().version());
  }
  if (!basis.rule_id().empty()) {
    return basis.citation().empty() ? absl::StrCat("rule ", basis.rule_id())
                                    : absl::StrCat("rule ", basis.rule_id(),
                                                   " (", basis.citation(), ")");
  }
  return "-";
}

absl::StatusOr<std::unique_ptr<sild::v1::AuditService::Stub>> Stub(
    CommandContext& ctx) {
  SILD_ASSIGN_OR_RETURN(auto channel, ctx.Channel());
  return sild::v1::AuditService::NewStub(channel);
}

absl::Status RunQuery(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown(
      {"subject", "agency", "action", "purpose", "outcome", "since", "until",
       "message-id", "chain", "limit", "oldest-first", "all", "page-token"}));
  sild::v1::AuditQueryRequest request;
  request.set_subject_personal_code(ctx.args.Get("subject"));
  request.set_agency_registry_code(ctx.args.Get("agency"));
  SILD_ASSIGN_OR_RETURN(
      int action, ParseEnum(sild::v1::AuditAction_descriptor(), "AUDIT_ACTION_",
                            "action", ctx.args.Get("action")));
  SILD_ASSIGN_OR_RETURN(int purpose,
                        ParseEnum(sild::v1::Purpose_descriptor(), "PURPOSE_",
                                  "purpose", ctx.args.Get("purpose")));
  SILD_ASSIGN_OR_RETURN(
      int outcome,
      ParseEnum(sild::v1::AuditOutcome_descriptor(), "AUDIT_OUTCOME_",
                "outcome", ctx.args.Get("outcome")));
  request.set_action(static_cast<sild::v1::AuditAction>(action));
  request.set_purpose(static_cast<sild::v1::Purpose>(purpose));
  request.set_outcome(static_cast<sild::v1::AuditOutcome>(outcome));
  bool has_since = false, has_until = false;
  google::protobuf::Timestamp since, until;
  SILD_RETURN_IF_ERROR(
      SetTimeRange(ctx.args, &since, &has_since, &until, &has_until));
  if (has_since) *request.mutable_since() = since;
  if (has_until) *request.mutable_until() = until;
  request.set_message_id(ctx.args.Get("message-id"));
  request.set_chain_id(ctx.args.Get("chain"));
  SILD_ASSIGN_OR_RETURN(int64_t limit, IntFlag(ctx.args, "limit", 0));
  if (limit > 1000) return UsageError("--limit is at most 1000 (use --all)");
  request.set_page_size(static_cast<int32_t>(limit));
  request.set_order(ctx.args.Has("oldest-first")
                        ? sild::v1::AUDIT_QUERY_ORDER_OLDEST_FIRST
                        : sild::v1::AUDIT_QUERY_ORDER_NEWEST_FIRST);
  request.set_page_token(ctx.args.Get("page-token"));
  const bool all = ctx.args.Has("all");

  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  sild::v1::AuditQueryResponse collected;
  while (true) {
    sild::v1::AuditQueryResponse page;
    auto call = ctx.NewCallContext();
    grpc::Status status = stub->Query(call.get(), request, &page);
    SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
    for (auto& record : *page.mutable_records()) {
      *collected.add_records() = std::move(record);
    }
    collected.set_next_page_token(page.next_page_token());
    if (!all || page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  ctx.Print(collected, [&](std::ostream& out) {
    Table table({"TIME (UTC)", "CHAIN", "SEQ", "ACTION", "ACTOR",
                 "COUNTERPARTY", "PURPOSE", "OUTCOME", "REASON", "MESSAGE"});
    for (const auto& r : collected.records()) {
      table.Add(
          {TimeText(r.time()), r.chain_id(), absl::StrCat(r.sequence()),
           ActionWord(r.action()),
           r.actor().registry_code().empty() ? "-" : r.actor().registry_code(),
           r.counterparty().empty() ? "-" : r.counterparty(),
           PurposeWord(r.purpose()), OutcomeWord(r.outcome()),
           r.reason_code().empty() ? "-" : r.reason_code(),
           r.message_id().empty() ? "-" : r.message_id()});
    }
    table.Print(out);
    out << table.size() << " records\n";
    if (!collected.next_page_token().empty()) {
      out << "more: --page-token " << collected.next_page_token()
          << " (or --all)\n";
    }
  });
  return absl::OkStatus();
}

// The last checkpoint of a bundle kept from an earlier export.
absl::StatusOr<sild::v1::AuditCheckpoint> HeldCheckpoint(
    const std::string& path) {
  SILD_ASSIGN_OR_RETURN(sild::v1::AuditBundle bundle,
                        audit::ReadBundleFile(path));
  if (bundle.checkpoints_size() == 0) {
    return UsageError(absl::StrCat(path, " holds no checkpoint"));
  }
  return bundle.checkpoints(bundle.checkpoints_size() - 1);
}

absl::Status RunVerify(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({"chain", "from", "to", "held"}));
  sild::v1::AuditVerifyRequest request;
  request.set_chain_id(ctx.args.Get("chain"));
  SILD_ASSIGN_OR_RETURN(int64_t from, IntFlag(ctx.args, "from", 0));
  SILD_ASSIGN_OR_RETURN(int64_t to, IntFlag(ctx.args, "to", 0));
  request.set_from_sequence(from);
  request.set_to_sequence(to);
  for (const std::string& path : ctx.args.GetAll("held")) {
    SILD_ASSIGN_OR_RETURN(*request.add_held_checkpoints(),
                          HeldCheckpoint(path));
  }
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  sild::v1::AuditVerifyResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Verify(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    for (const auto& chain : response.chains()) {
      out << "chain " << chain.chain_id() << ": records "
          << chain.first_sequence() << ".." << chain.last_sequence() << ", "
          << chain.records_checked() << " records and "
          << chain.checkpoints_checked() << " checkpoints checked";
      if (chain.unsigned_records() > 0) {
        out << ", " << chain.unsigned_records()
            << " records after the last checkpoint (not yet signed)";
      }
      out << (chain.has_failure() ? ": NOT INTACT\n" : ": intact\n");
    }
    if (response.intact()) {
      out << "INTACT: " << response.records_checked() << " records, "
          << response.checkpoints_checked() << " checkpoints signed by key "
          << response.key_id() << "\n";
    } else {
      const auto& f = response.first_failure();
      out << "NOT INTACT: " << f.code() << " at sequence " << f.sequence()
          << " of chain " << f.chain_id() << ": " << f.message() << "\n";
    }
  });
  if (!response.intact()) {
    const auto& f = response.first_failure();
    return MakeError(absl::StatusCode::kDataLoss, f.code(), "",
                     absl::StrCat("the audit trail is not intact: ", f.code(),
                                  " at sequence ", f.sequence(), " of chain ",
                                  f.chain_id()));
  }
  return absl::OkStatus();
}

absl::Status RunExport(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({"out", "chain", "from", "to"}));
  SILD_ASSIGN_OR_RETURN(std::string out_path, ctx.args.Require("out"));
  sild::v1::AuditExportRequest request;
  request.set_chain_id(ctx.args.Get("chain"));
  SILD_ASSIGN_OR_RETURN(int64_t from, IntFlag(ctx.args, "from", 0));
  SILD_ASSIGN_OR_RETURN(int64_t to, IntFlag(ctx.args, "to", 0));
  request.set_from_sequence(from);
  request.set_to_sequence(to);
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  auto call = ctx.NewCallContext();
  auto reader = stub->Export(call.get(), request);
  sild::v1::AuditExportChunk chunk;
  sild::v1::AuditExportInfo info;
  std::string file;
  int last_percent = -1;
  while (reader->Read(&chunk)) {
    if (chunk.has_info()) {
      info = chunk.info();
      file.reserve(static_cast<size_t>(info.total_bytes()));
    }
    file += chunk.data();
    const int percent =
        info.total_bytes() > 0
            ? static_cast<int>(100 * static_cast<int64_t>(file.size()) /
                               info.total_bytes())
            : 0;
    if (percent != last_percent) {
      ctx.err << "\rreceiving " << file.size() << " of " << info.total_bytes()
              << " bytes (" << percent << "%)" << std::flush;
      last_percent = percent;
    }
  }
  if (last_percent >= 0) ctx.err << "\n";
  grpc::Status status = reader->Finish();
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  if (static_cast<int64_t>(file.size()) != info.total_bytes()) {
    return MakeError(absl::StatusCode::kDataLoss, "EXPORT_INCOMPLETE", "",
                     absl::StrCat("received ", file.size(), " of ",
                                  info.total_bytes(), " bytes"));
  }
  SILD_RETURN_IF_ERROR(WriteFileAtomically(out_path, file));
  ctx.Print(info, [&](std::ostream& out) {
    out << "wrote " << out_path << ": chain " << info.chain_id() << ", records "
        << info.first_sequence() << ".." << info.last_sequence() << " ("
        << info.records() << " records, " << info.checkpoints()
        << " checkpoints, " << info.total_bytes() << " bytes)\nsigned by key "
        << info.key_id() << "\nverify offline: sild-audit verify " << out_path
        << " --public-key GATEWAY_AUDIT_KEY.pem  (sildctl info shows the "
           "key)\n";
  });
  return absl::OkStatus();
}

absl::Status RunCitizen(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(
      ctx.args.CheckKnown({"subject", "limit", "all", "page-token"}));
  sild::v1::AuditCitizenViewRequest request;
  SILD_ASSIGN_OR_RETURN(std::string subject, ctx.args.Require("subject"));
  request.set_subject_personal_code(subject);
  SILD_ASSIGN_OR_RETURN(int64_t limit, IntFlag(ctx.args, "limit", 0));
  if (limit > 1000) return UsageError("--limit is at most 1000 (use --all)");
  request.set_page_size(static_cast<int32_t>(limit));
  request.set_page_token(ctx.args.Get("page-token"));
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  sild::v1::AuditCitizenViewResponse collected;
  while (true) {
    sild::v1::AuditCitizenViewResponse page;
    auto call = ctx.NewCallContext();
    grpc::Status status = stub->CitizenView(call.get(), request, &page);
    SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
    for (auto& entry : *page.mutable_entries()) {
      *collected.add_entries() = std::move(entry);
    }
    collected.set_next_page_token(page.next_page_token());
    if (!ctx.args.Has("all") || page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  ctx.Print(collected, [&](std::ostream& out) {
    Table table({"TIME (UTC)", "ACTION", "SENDER", "RECEIVER", "PURPOSE",
                 "BASIS", "OUTCOME"});
    for (const auto& e : collected.entries()) {
      table.Add({TimeText(e.time()), ActionWord(e.action()),
                 AgencyText(e.sender()), AgencyText(e.receiver()),
                 PurposeWord(e.purpose()), BasisText(e.basis()),
                 OutcomeWord(e.outcome())});
    }
    table.Print(out);
    out << table.size() << " entries\n";
    if (!collected.next_page_token().empty()) {
      out << "more: --page-token " << collected.next_page_token()
          << " (or --all)\n";
    }
  });
  return absl::OkStatus();
}

absl::Status RunUsage(CommandContext& ctx) {
  SILD_RETURN_IF_ERROR(ctx.args.CheckKnown({"since", "until", "chain"}));
  sild::v1::AuditUsageRequest request;
  bool has_since = false, has_until = false;
  google::protobuf::Timestamp since, until;
  SILD_RETURN_IF_ERROR(
      SetTimeRange(ctx.args, &since, &has_since, &until, &has_until));
  if (has_since) *request.mutable_since() = since;
  if (has_until) *request.mutable_until() = until;
  request.set_chain_id(ctx.args.Get("chain"));
  SILD_ASSIGN_OR_RETURN(auto stub, Stub(ctx));
  sild::v1::AuditUsageResponse response;
  auto call = ctx.NewCallContext();
  grpc::Status status = stub->Usage(call.get(), request, &response);
  SILD_RETURN_IF_ERROR(FromGrpcStatus(status, call.get()));
  ctx.Print(response, [&](std::ostream& out) {
    Table table({"AGENCY", "ACTION", "OUTCOME", "RECORDS"});
    for (const auto& c : response.counts()) {
      table.Add({AgencyText(c.agency()), ActionWord(c.action()),
                 OutcomeWord(c.outcome()), absl::StrCat(c.count())});
    }
    table.Print(out);
    out << response.total() << " records\n";
  });
  return absl::OkStatus();
}

SILD_REGISTER_COMMAND(
    "audit query", "search the audit trail (auditors)",
    "usage: sildctl audit query [--subject CODE] [--agency REGISTRY_CODE]\n"
    "         [--action A] [--purpose P] [--outcome O]\n"
    "         [--since TIME] [--until TIME] [--message-id ID] [--chain ID]\n"
    "         [--limit N] [--oldest-first] [--all] [--page-token TOKEN]\n\n"
    "Newest first unless --oldest-first. --subject is a personal code: the\n"
    "gateway searches by its pseudonym. --agency matches the acting or the\n"
    "receiving agency. Actions: decision, disclosure, delivery, ...;\n"
    "outcomes: allow, deny, success, failure. TIME is RFC 3339\n"
    "(2026-03-01T08:00:00Z) or a date (UTC; --until a date includes that\n"
    "day). --limit is the page size (default 100, at most 1000); --all\n"
    "follows every page. Your query is recorded in the audit trail.",
    RunQuery, {"oldest-first", "all"});
SILD_REGISTER_COMMAND(
    "audit verify", "recompute the audit chains in the gateway's store",
    "usage: sildctl audit verify [--chain ID] [--from N] [--to N]\n"
    "         [--held EARLIER.sildaudit ...]\n\n"
    "Recomputes every record hash, checks every checkpoint signature with\n"
    "the gateway's key and every link. Default: every chain, all records.\n"
    "--held takes the last checkpoint of a bundle you exported earlier: the\n"
    "store must still hold it and extend it (this exposes a cut at an\n"
    "earlier checkpoint). Exit 0 only when intact; otherwise the first\n"
    "failure is printed and the exit status is 1.",
    RunVerify);
SILD_REGISTER_COMMAND(
    "audit export", "export a signed .sildaudit bundle for offline checks",
    "usage: sildctl audit export --out FILE.sildaudit [--chain ID]\n"
    "         [--from N] [--to N]\n\n"
    "Default: the gateway's own chain, every record; the gateway first cuts\n"
    "a checkpoint so the bundle ends at a signed one (a range ending earlier\n"
    "is extended to the next checkpoint). Verify the file with\n"
    "`sild-audit verify FILE --public-key KEY.pem`.",
    RunExport);
SILD_REGISTER_COMMAND(
    "audit citizen", "what the data tracker shows a person",
    "usage: sildctl audit citizen --subject CODE [--limit N] [--all]\n\n"
    "Every record about the person, newest first: time, action, sender,\n"
    "receiver, purpose, basis and outcome.",
    RunCitizen, {"all"});
SILD_REGISTER_COMMAND(
    "audit usage", "count audit records by agency, action and outcome",
    "usage: sildctl audit usage [--since TIME] [--until TIME] [--chain ID]",
    RunUsage);

}  // namespace
}  // namespace sild::ctl
