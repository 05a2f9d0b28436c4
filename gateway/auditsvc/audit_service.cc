#include "gateway/auditsvc/audit_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/audit/bundle.h"
#include "gateway/audit/digest.h"
#include "gateway/auditsvc/audit_queries.h"
#include "gateway/auditsvc/store_verifier.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"
#include "gateway/base/thread_name.h"
#include "gateway/rpc/grpc_status.h"
#include "google/protobuf/util/time_util.h"

namespace sild::auditsvc {
namespace {

using google::protobuf::util::TimeUtil;
using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

std::optional<int64_t> MillisOf(bool has,
                                const google::protobuf::Timestamp& t) {
  if (!has) return std::nullopt;
  return TimeUtil::TimestampToMilliseconds(t);
}

absl::Status CheckTimeRange(std::optional<int64_t> since,
                            std::optional<int64_t> until) {
  if (since && until && *since > *until) {
    return InvalidField("INVALID_TIME_RANGE", "until",
                        "until lies before since");
  }
  return absl::OkStatus();
}

// The pseudonym of a validated personal code.
absl::StatusOr<std::string> SubjectPseudonym(const AuditLog& log,
                                             absl::string_view code,
                                             absl::string_view field) {
  SILD_ASSIGN_OR_RETURN(PersonalCode parsed, ParsePersonalCode(code, field));
  return log.Pseudonym(parsed.code);
}

absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) {
    return InvalidField("INVALID_PAGE_SIZE", "page_size",
                        "page_size must not be negative");
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min<int>(requested, kMaxPageSize);
}

// One page of `filter`, with the token of the next.
absl::StatusOr<RecordPage> Page(Store& store, const RecordFilter& filter,
                                QueryOrder order, int32_t page_size,
                                const std::string& token,
                                std::string& next_token) {
  SILD_ASSIGN_OR_RETURN(int size, PageSize(page_size));
  std::optional<PageCursor> after;
  if (!token.empty()) {
    SILD_ASSIGN_OR_RETURN(after, DecodePageToken(token, order, filter));
  }
  RecordPage page;
  SILD_RETURN_IF_ERROR(store.Read([&](SqlConnection& sql) -> absl::Status {
    SILD_ASSIGN_OR_RETURN(page, QueryRecords(sql, filter, order, size, after));
    return absl::OkStatus();
  }));
  next_token = page.next ? EncodePageToken(*page.next, order, filter) : "";
  return page;
}

// The Export's server-streaming reactor: writes the bundle file in chunks.
class ExportReactor final
    : public grpc::ServerWriteReactor<sild::v1::AuditExportChunk> {
 public:
  void Start(sild::v1::AuditExportInfo info, std::string file) {
    info_ = std::move(info);
    file_ = std::move(file);
    WriteNext();
  }
  void Fail(const grpc::Status& status) { Finish(status); }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "the client stopped reading the export"));
      return;
    }
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    if (offset_ >= file_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.Clear();
    if (offset_ == 0) *chunk_.mutable_info() = info_;
    const size_t n =
        std::min(AuditServiceImpl::kExportChunkBytes, file_.size() - offset_);
    chunk_.set_data(file_.substr(offset_, n));
    offset_ += n;
    StartWrite(&chunk_);
  }

  sild::v1::AuditExportInfo info_;
  std::string file_;
  size_t offset_ = 0;
  sild::v1::AuditExportChunk chunk_;
};

std::string RangeWords(int64_t from, int64_t to) {
  return absl::StrCat(from > 1 ? absl::StrCat(from) : "1", "..",
                      to > 0 ? absl::StrCat(to) : "end");
}

}  // namespace

AuditServiceImpl::AuditServiceImpl(const GatewayComponents* components,
                                   audit::CheckpointVerifier key, int workers)
    : components_(components), key_(std::move(key)) {
  for (int i = 0; i < std::max(1, workers); ++i) {
    workers_.emplace_back([this] {
      NameThisThread("sild-audit-exp");
      WorkerLoop();
    });
  }
}

AuditServiceImpl::~AuditServiceImpl() { Stop(); }

void AuditServiceImpl::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (auto& worker : workers_) worker.join();
}

void AuditServiceImpl::Schedule(std::function<void()> job) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      return;
    }
  }
  job();  // stopped: nobody else will run it (and it must finish its call)
}

void AuditServiceImpl::WorkerLoop() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !jobs_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

sild::v1::AgencyRef AuditServiceImpl::AgencyOf(
    const std::string& registry_code) const {
  const Agency* agency =
      components_->directory->FindByRegistryCode(registry_code);
  if (agency != nullptr) return agency->ref;
  sild::v1::AgencyRef ref;
  ref.set_registry_code(registry_code);
  return ref;
}

absl::Status AuditServiceImpl::RecordCall(const Caller& caller,
                                          absl::string_view rpc,
                                          const CallNote& note,
                                          const absl::Status& outcome) {
  AuditRecord draft;
  draft.mutable_actor()->set_registry_code(caller.agency->ref.registry_code());
  draft.mutable_actor()->set_professional_id(caller.professional_id);
  draft.set_action(sild::v1::AUDIT_ACTION_AUDIT_QUERY);
  draft.set_purpose(sild::v1::PURPOSE_AUDIT);
  draft.set_subject_pseudonym(note.subject_pseudonym);
  const std::string reason = ErrorReason(outcome);
  if (outcome.ok()) {
    draft.set_outcome(sild::v1::AUDIT_OUTCOME_SUCCESS);
    draft.set_reason_code("OK");
  } else if (outcome.code() == absl::StatusCode::kPermissionDenied) {
    draft.set_outcome(sild::v1::AUDIT_OUTCOME_DENY);
    draft.set_reason_code(reason.empty() ? "PERMISSION_DENIED" : reason);
  } else {
    draft.set_outcome(sild::v1::AUDIT_OUTCOME_FAILURE);
    draft.set_reason_code(
        reason.empty() ? std::string(absl::StatusCodeToString(outcome.code()))
                       : reason);
  }
  draft.set_detail(absl::StrCat("AuditService.", rpc,
                                note.detail.empty() ? "" : ": ", note.detail));
  AuditLog* log = components_->audit_log;
  absl::Status written = components_->store->writer().Run(
      [&](WriteTxn& txn) { return log->Append(txn, draft).status(); });
  if (!written.ok()) {
    LogError("auditor call not recorded",
             {{"rpc", std::string(rpc)},
              {"agency", caller.agency->ref.registry_code()},
              {"detail", std::string(written.message())}});
    return MakeError(absl::StatusCode::kUnavailable, "AUDIT_UNAVAILABLE", "",
                     "the audit record of this call could not be written, so "
                     "nothing is answered; try again later");
  }
  return absl::OkStatus();
}

absl::Status AuditServiceImpl::CheckAuditor(const Caller& caller,
                                            absl::string_view rpc) {
  if (caller.agency->HasRole(config::v1::AGENCY_ROLE_AUDITOR)) {
    return absl::OkStatus();
  }
  absl::Status refused = MakeError(
      absl::StatusCode::kPermissionDenied, "NOT_AUDITOR", "",
      absl::StrCat("agency ", caller.agency->ref.registry_code(),
                   " has no auditor role; only auditors may read the audit "
                   "trail"));
  LogWarning("auditor call refused",
             {{"rpc", std::string(rpc)},
              {"agency", caller.agency->ref.registry_code()},
              {"reason", "NOT_AUDITOR"}});
  // The attempt is evidence too; the refusal stands even if it is not
  // recorded.
  (void)RecordCall(caller, rpc, CallNote{}, refused);
  return refused;
}

grpc::ServerUnaryReactor* AuditServiceImpl::Handle(
    grpc::CallbackServerContext* context, absl::string_view rpc, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *components_->directory);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  Schedule([this, reactor, context, rpc = std::string(rpc),
            caller = *std::move(caller), work = std::move(work)] {
    absl::Status status = CheckAuditor(caller, rpc);
    if (status.ok()) {
      CallNote note;
      status = work(note);
      absl::Status recorded = RecordCall(caller, rpc, note, status);
      if (!recorded.ok()) status = recorded;
    }
    reactor->Finish(ToGrpcStatus(status, context));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AuditServiceImpl::Query(
    grpc::CallbackServerContext* context,
    const sild::v1::AuditQueryRequest* request,
    sild::v1::AuditQueryResponse* response) {
  return Handle(context, "Query", [this, request, response](CallNote& note) {
    return DoQuery(*request, *response, note);
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::Verify(
    grpc::CallbackServerContext* context,
    const sild::v1::AuditVerifyRequest* request,
    sild::v1::AuditVerifyResponse* response) {
  return Handle(context, "Verify", [this, request, response](CallNote& note) {
    return DoVerify(*request, *response, note);
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::CitizenView(
    grpc::CallbackServerContext* context,
    const sild::v1::AuditCitizenViewRequest* request,
    sild::v1::AuditCitizenViewResponse* response) {
  return Handle(context, "CitizenView",
                [this, request, response](CallNote& note) {
                  return DoCitizenView(*request, *response, note);
                });
}

grpc::ServerUnaryReactor* AuditServiceImpl::Usage(
    grpc::CallbackServerContext* context,
    const sild::v1::AuditUsageRequest* request,
    sild::v1::AuditUsageResponse* response) {
  return Handle(context, "Usage", [this, request, response](CallNote& note) {
    return DoUsage(*request, *response, note);
  });
}

grpc::ServerWriteReactor<sild::v1::AuditExportChunk>* AuditServiceImpl::Export(
    grpc::CallbackServerContext* context,
    const sild::v1::AuditExportRequest* request) {
  auto* reactor = new ExportReactor();
  absl::StatusOr<Caller> caller =
      AuthenticateCall(context, *components_->directory);
  if (!caller.ok()) {
    reactor->Fail(ToGrpcStatus(caller.status(), context));
    return reactor;
  }
  Schedule([this, reactor, context, request, caller = *std::move(caller)] {
    absl::Status status = CheckAuditor(caller, "Export");
    if (!status.ok()) {
      reactor->Fail(ToGrpcStatus(status, context));
      return;
    }
    CallNote note;
    sild::v1::AuditExportInfo info;
    std::string file;
    status = BuildExport(*request, info, file, note);
    // The record of the export commits before its first byte leaves.
    absl::Status recorded = RecordCall(caller, "Export", note, status);
    if (!recorded.ok()) status = recorded;
    if (!status.ok()) {
      reactor->Fail(ToGrpcStatus(status, context));
      return;
    }
    reactor->Start(std::move(info), std::move(file));
  });
  return reactor;
}

absl::Status AuditServiceImpl::DoQuery(
    const sild::v1::AuditQueryRequest& request,
    sild::v1::AuditQueryResponse& response, CallNote& note) {
  RecordFilter filter;
  std::vector<std::string> words;
  if (!request.subject_personal_code().empty()) {
    SILD_ASSIGN_OR_RETURN(filter.subject_pseudonym,
                          SubjectPseudonym(*components_->audit_log,
                                           request.subject_personal_code(),
                                           "subject_personal_code"));
  }
  if (!request.subject_pseudonym().empty()) {
    if (!audit::IsPseudonymShape(request.subject_pseudonym())) {
      return InvalidField("INVALID_PSEUDONYM", "subject_pseudonym",
                          "a pseudonym is 64 lowercase hex digits");
    }
    if (!filter.subject_pseudonym.empty() &&
        filter.subject_pseudonym != request.subject_pseudonym()) {
      return InvalidField("CONFLICTING_FILTERS", "subject_pseudonym",
                          "the pseudonym is not that of the personal code");
    }
    filter.subject_pseudonym = request.subject_pseudonym();
  }
  if (!filter.subject_pseudonym.empty()) {
    note.subject_pseudonym = filter.subject_pseudonym;
    words.push_back("subject");
  }
  if (!request.agency_registry_code().empty()) {
    SILD_RETURN_IF_ERROR(ValidateRegistryCode(request.agency_registry_code(),
                                              "agency_registry_code"));
    filter.agency = request.agency_registry_code();
    words.push_back(absl::StrCat("agency ", filter.agency));
  }
  filter.action = request.action();
  filter.purpose = request.purpose();
  filter.outcome = request.outcome();
  if (filter.action != 0) {
    words.push_back(sild::v1::AuditAction_Name(request.action()));
  }
  if (filter.purpose != 0) {
    words.push_back(sild::v1::Purpose_Name(request.purpose()));
  }
  if (filter.outcome != 0) {
    words.push_back(sild::v1::AuditOutcome_Name(request.outcome()));
  }
  filter.since_ms = MillisOf(request.has_since(), request.since());
  filter.until_ms = MillisOf(request.has_until(), request.until());
  SILD_RETURN_IF_ERROR(CheckTimeRange(filter.since_ms, filter.until_ms));
  if (filter.since_ms || filter.until_ms) words.push_back("time range");
  filter.message_id = request.message_id();
  if (!filter.message_id.empty()) {
    words.push_back(absl::StrCat("message ", filter.message_id));
  }
  filter.chain_id = request.chain_id();
  if (!filter.chain_id.empty()) {
    words.push_back(absl::StrCat("chain ", filter.chain_id));
  }
  const QueryOrder order =
      request.order() == sild::v1::AUDIT_QUERY_ORDER_OLDEST_FIRST
          ? QueryOrder::kOldestFirst
          : QueryOrder::kNewestFirst;
  std::string next;
  SILD_ASSIGN_OR_RETURN(RecordPage page,
                        Page(*components_->store, filter, order,
                             request.page_size(), request.page_token(), next));
  for (AuditRecord& record : page.records) {
    *response.add_records() = std::move(record);
  }
  response.set_next_page_token(next);
  note.detail = absl::StrCat(
      "filters ", words.empty() ? "none" : absl::StrJoin(words, ", "), "; ",
      response.records_size(), " records",
      request.page_token().empty() ? "" : " (a later page)",
      next.empty() ? "" : ", more follow");
  return absl::OkStatus();
}

absl::Status AuditServiceImpl::DoVerify(
    const sild::v1::AuditVerifyRequest& request,
    sild::v1::AuditVerifyResponse& response, CallNote& note) {
  StoreVerifyRequest verify;
  verify.chain_id = request.chain_id();
  verify.from_sequence = std::max<int64_t>(1, request.from_sequence());
  verify.to_sequence = request.to_sequence();
  verify.held_checkpoints.assign(request.held_checkpoints().begin(),
                                 request.held_checkpoints().end());
  SILD_ASSIGN_OR_RETURN(StoreVerifyResult result,
                        VerifyStore(*components_->store, key_, verify));
  auto fill_failure = [](const ChainVerifyResult& chain,
                         sild::v1::AuditVerifyFailure& failure) {
    failure.set_chain_id(chain.chain_id);
    failure.set_code(std::string(audit::FailureKindName(chain.report.kind)));
    failure.set_sequence(chain.report.sequence);
    failure.set_message(chain.report.message);
  };
  for (const ChainVerifyResult& chain : result.chains) {
    auto* out = response.add_chains();
    out->set_chain_id(chain.chain_id);
    out->set_first_sequence(chain.first_sequence);
    out->set_last_sequence(chain.last_sequence);
    out->set_records_checked(chain.report.records_verified);
    out->set_checkpoints_checked(chain.report.checkpoints_verified);
    out->set_unsigned_records(chain.unsigned_records);
    if (!chain.report.ok()) fill_failure(chain, *out->mutable_failure());
  }
  response.set_intact(result.ok());
  if (const ChainVerifyResult* first = result.FirstFailure()) {
    fill_failure(*first, *response.mutable_first_failure());
  }
  response.set_records_checked(result.records_verified());
  response.set_checkpoints_checked(result.checkpoints_verified());
  response.set_key_id(audit::ToHex(key_.key_id()));
  note.detail = absl::StrCat(
      "chain ", request.chain_id().empty() ? "all" : request.chain_id(),
      ", records ", RangeWords(request.from_sequence(), request.to_sequence()),
      ": ", response.records_checked(), " records checked, ",
      result.ok()
          ? "intact"
          : absl::StrCat("NOT INTACT: ", response.first_failure().code(),
                         " at ", response.first_failure().sequence()));
  return absl::OkStatus();
}

absl::Status AuditServiceImpl::DoCitizenView(
    const sild::v1::AuditCitizenViewRequest& request,
    sild::v1::AuditCitizenViewResponse& response, CallNote& note) {
  if (request.subject_personal_code().empty()) {
    return InvalidField("MISSING_FIELD", "subject_personal_code",
                        "the citizen view is of one person: give the code");
  }
  RecordFilter filter;
  SILD_ASSIGN_OR_RETURN(
      filter.subject_pseudonym,
      SubjectPseudonym(*components_->audit_log, request.subject_personal_code(),
                       "subject_personal_code"));
  note.subject_pseudonym = filter.subject_pseudonym;
  std::string next;
  SILD_ASSIGN_OR_RETURN(
      RecordPage page,
      Page(*components_->store, filter, QueryOrder::kNewestFirst,
           request.page_size(), request.page_token(), next));
  for (const AuditRecord& record : page.records) {
    auto* entry = response.add_entries();
    *entry->mutable_time() = record.time();
    entry->set_action(record.action());
    *entry->mutable_sender() = AgencyOf(record.actor().registry_code());
    if (!record.counterparty().empty()) {
      *entry->mutable_receiver() = AgencyOf(record.counterparty());
    }
    entry->set_purpose(record.purpose());
    if (record.has_basis()) *entry->mutable_basis() = record.basis();
    entry->set_outcome(record.outcome());
    *entry->mutable_categories() = record.categories();
    entry->set_message_kind(record.message_kind());
  }
  response.set_next_page_token(next);
  note.detail = absl::StrCat(response.entries_size(), " entries",
                             next.empty() ? "" : ", more follow");
  return absl::OkStatus();
}

absl::Status AuditServiceImpl::DoUsage(
    const sild::v1::AuditUsageRequest& request,
    sild::v1::AuditUsageResponse& response, CallNote& note) {
  std::optional<int64_t> since = MillisOf(request.has_since(), request.since());
  std::optional<int64_t> until = MillisOf(request.has_until(), request.until());
  SILD_RETURN_IF_ERROR(CheckTimeRange(since, until));
  std::vector<UsageRow> rows;
  SILD_RETURN_IF_ERROR(
      components_->store->Read([&](SqlConnection& sql) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(
            rows, CountRecords(sql, since, until, request.chain_id()));
        return absl::OkStatus();
      }));
  int64_t total = 0;
  for (const UsageRow& row : rows) {
    auto* count = response.add_counts();
    count->set_action(static_cast<sild::v1::AuditAction>(row.action));
    count->set_outcome(static_cast<sild::v1::AuditOutcome>(row.outcome));
    *count->mutable_agency() = AgencyOf(row.agency);
    count->set_count(row.count);
    total += row.count;
  }
  response.set_total(total);
  note.detail = absl::StrCat(
      "chain ", request.chain_id().empty() ? "all" : request.chain_id(),
      since || until ? ", time range" : "", "; ", total, " records counted");
  return absl::OkStatus();
}

absl::Status AuditServiceImpl::BuildExport(
    const sild::v1::AuditExportRequest& request,
    sild::v1::AuditExportInfo& info, std::string& file, CallNote& note) {
  AuditLog* log = components_->audit_log;
  const std::string chain =
      request.chain_id().empty() ? log->chain_id() : request.chain_id();
  if (request.from_sequence() < 0 || request.to_sequence() < 0 ||
      (request.to_sequence() > 0 &&
       request.to_sequence() < request.from_sequence())) {
    return InvalidField(
        "INVALID_RANGE", "to_sequence",
        absl::StrCat("the range ", request.from_sequence(), "..",
                     request.to_sequence(), " is impossible"));
  }
  note.detail =
      absl::StrCat("chain ", chain, ", records ",
                   RangeWords(request.from_sequence(), request.to_sequence()));
  // A bundle ends at a signed checkpoint: cut one at this chain's head.
  if (chain == log->chain_id()) SILD_RETURN_IF_ERROR(log->CheckpointNow());
  const int64_t from = std::max<int64_t>(1, request.from_sequence());
  std::vector<AuditRecord> records;
  std::vector<AuditCheckpoint> checkpoints;
  SILD_RETURN_IF_ERROR(components_->store->Read([&](SqlConnection& sql)
                                                    -> absl::Status {
    SILD_ASSIGN_OR_RETURN(auto max,
                          sql.Query("SELECT MAX(sequence) FROM audit_records "
                                    "WHERE chain_id = ?",
                                    {chain}));
    const int64_t head = max.empty() || max[0].IsNull(0) ? 0 : max[0].Int(0);
    if (head == 0) {
      return MakeError(absl::StatusCode::kNotFound, "UNKNOWN_CHAIN", "chain_id",
                       absl::StrCat("the store holds no records of "
                                    "chain \"",
                                    chain, "\""));
    }
    if (from > head) {
      return InvalidField(
          "INVALID_RANGE", "from_sequence",
          absl::StrCat("chain \"", chain, "\" has records up to ", head));
    }
    SILD_ASSIGN_OR_RETURN(auto all,
                          AuditLog::ReadCheckpoints(sql, chain, 0, 0));
    // To the head: the newest checkpoint. Up to N: the first
    // checkpoint at or after N.
    const int64_t target = request.to_sequence() > 0
                               ? std::min(request.to_sequence(), head)
                               : head;
    int64_t end = 0;
    for (const AuditCheckpoint& cp : all) {
      if (request.to_sequence() == 0) {
        end = std::max(end, cp.sequence());
      } else if (cp.sequence() >= target && end == 0) {
        end = cp.sequence();
      }
    }
    if (end < from || end == 0) {
      return MakeError(
          absl::StatusCode::kFailedPrecondition, "UNSIGNED_TAIL", "to_sequence",
          absl::StrCat("no checkpoint of chain \"", chain, "\" signs record ",
                       target, " yet; its gateway cuts one within seconds"));
    }
    for (AuditCheckpoint& cp : all) {
      if (cp.sequence() >= from - 1 && cp.sequence() <= end) {
        checkpoints.push_back(std::move(cp));
      }
    }
    SILD_ASSIGN_OR_RETURN(records,
                          AuditLog::ReadRecords(sql, chain, from, end));
    return absl::OkStatus();
  }));
  SILD_ASSIGN_OR_RETURN(
      sild::v1::AuditBundle bundle,
      audit::AssembleBundle(
          std::move(records), std::move(checkpoints),
          log->signer().public_key_pem(),
          TimeUtil::MillisecondsToTimestamp(
              absl::ToUnixMillis(components_->clock->Now()))));
  SILD_ASSIGN_OR_RETURN(file, audit::SerializeBundle(bundle));
  info.set_chain_id(bundle.chain_id());
  info.set_first_sequence(bundle.first_sequence());
  info.set_last_sequence(bundle.last_sequence());
  info.set_records(bundle.records_size());
  info.set_checkpoints(bundle.checkpoints_size());
  info.set_total_bytes(static_cast<int64_t>(file.size()));
  info.set_key_id(audit::ToHex(log->signer().key_id()));
  note.detail =
      absl::StrCat("chain ", chain, ", records ", bundle.first_sequence(), "..",
                   bundle.last_sequence(), ", ", bundle.checkpoints_size(),
                   " checkpoints, ", file.size(), " bytes");
  return absl::OkStatus();
}

}  // namespace sild::auditsvc
