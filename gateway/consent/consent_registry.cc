#include "gateway/consent/consent_registry.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"
#include "gateway/consent/consent_id.h"
#include "gateway/consent/consent_time.h"
#include "gateway/minimise/category_set.h"

namespace sild {
namespace {

using consent_time::ToMillis;
using consent_time::ToTimestamp;
using sild::v1::Consent;

std::string ConsentAssociatedData(absl::string_view consent_id,
                                  int64_t version) {
  return absl::StrCat("consent:", consent_id, ":", version);
}

std::string NoticeAssociatedData(absl::string_view consent_id,
                                 absl::string_view recipient) {
  return absl::StrCat("consent-notice:", consent_id, ":", recipient);
}

absl::Status NotFound(absl::string_view consent_id) {
  return MakeError(absl::StatusCode::kNotFound, "CONSENT_NOT_FOUND",
                   "consent_id",
                   absl::StrCat("no consent ", consent_id,
                                " that this agency recorded or receives"));
}

SqlValue UntilValue(const Consent& consent) {
  if (!consent.has_valid_until()) return nullptr;
  return ToMillis(consent.valid_until());
}

}  // namespace

Migration ConsentRegistry::Schema() {
  return Migration{2, "consents", R"sql(
    CREATE TABLE consents (
      consent_id TEXT PRIMARY KEY,
      version BIGINT NOT NULL,
      subject TEXT NOT NULL,
      status INTEGER NOT NULL,
      valid_from_ms BIGINT NOT NULL,
      valid_until_ms BIGINT,
      recorder TEXT NOT NULL,
      recorded_ms BIGINT NOT NULL,
      updated_ms BIGINT NOT NULL,
      payload BLOB NOT NULL);
    CREATE INDEX consents_by_subject
      ON consents (subject, recorded_ms, consent_id);
    CREATE INDEX consents_by_recorded ON consents (recorded_ms, consent_id);
    CREATE TABLE consent_versions (
      consent_id TEXT NOT NULL,
      version BIGINT NOT NULL,
      status INTEGER NOT NULL,
      actor TEXT NOT NULL,
      updated_ms BIGINT NOT NULL,
      payload BLOB NOT NULL,
      PRIMARY KEY (consent_id, version));
    CREATE TABLE consent_recipients (
      consent_id TEXT NOT NULL,
      registry_code TEXT NOT NULL,
      kind INTEGER NOT NULL,
      PRIMARY KEY (consent_id, registry_code, kind));
    CREATE INDEX consent_recipients_by_code
      ON consent_recipients (registry_code);
    CREATE INDEX consent_recipients_by_kind ON consent_recipients (kind);
    CREATE TABLE consent_disclosures (
      consent_id TEXT NOT NULL,
      version BIGINT NOT NULL,
      recipient TEXT NOT NULL,
      message_id TEXT NOT NULL,
      disclosed_ms BIGINT NOT NULL,
      PRIMARY KEY (consent_id, recipient, message_id));
    CREATE TABLE consent_withdrawal_notices (
      consent_id TEXT NOT NULL,
      version BIGINT NOT NULL,
      recipient TEXT NOT NULL,
      message_ids TEXT NOT NULL,
      created_ms BIGINT NOT NULL,
      status TEXT NOT NULL,
      notice_message_id TEXT NOT NULL,
      notice BLOB NOT NULL,
      PRIMARY KEY (consent_id, recipient));
    CREATE INDEX consent_withdrawal_notices_by_status
      ON consent_withdrawal_notices (status, created_ms);
  )sql"};
}

bool ConsentRegistry::MaySee(const Consent& consent,
                             const v1::AgencyRef& agency) {
  const std::string& code = agency.registry_code();
  if (code.empty()) return false;
  if (consent.recorded_by().registry_code() == code) return true;
  const auto& codes = consent.recipients().registry_codes();
  if (std::find(codes.begin(), codes.end(), code) != codes.end()) return true;
  const auto& kinds = consent.recipients().kinds();
  return agency.kind() != v1::AGENCY_KIND_UNSPECIFIED &&
         std::find(kinds.begin(), kinds.end(), agency.kind()) != kinds.end();
}

absl::StatusOr<Consent> ConsentRegistry::OpenConsent(
    absl::string_view sealed, absl::string_view consent_id,
    int64_t version) const {
  SILD_ASSIGN_OR_RETURN(
      std::string plain,
      store_->cipher().Open(sealed,
                            ConsentAssociatedData(consent_id, version)));
  Consent consent;
  if (!consent.ParseFromString(plain) || consent.consent_id() != consent_id ||
      consent.version() != version) {
    return MakeError(absl::StatusCode::kDataLoss, "CONSENT_CORRUPT",
                     "consent_id",
                     absl::StrCat("consent ", consent_id, " version ", version,
                                  " does not match its row"));
  }
  return consent;
}

absl::StatusOr<std::string> ConsentRegistry::SealConsent(
    const Consent& consent) const {
  return store_->cipher().Seal(
      consent.SerializeAsString(),
      ConsentAssociatedData(consent.consent_id(), consent.version()));
}

absl::StatusOr<v1::AuditRecord> ConsentRegistry::AppendAudit(
    WriteTxn& txn, const ConsentActor& actor, const Consent& consent,
    absl::string_view reason, std::string detail) const {
  v1::AuditRecord draft;
  draft.mutable_actor()->set_registry_code(actor.agency.registry_code());
  draft.mutable_actor()->set_professional_id(actor.professional_id);
  draft.set_action(v1::AUDIT_ACTION_CONSENT_CHANGE);
  draft.set_subject_pseudonym(audit_log_->Pseudonym(consent.subject().value()));
  if (consent.purposes_size() == 1) draft.set_purpose(consent.purposes(0));
  draft.mutable_basis()->mutable_consent()->set_consent_id(
      consent.consent_id());
  draft.mutable_basis()->mutable_consent()->set_version(consent.version());
  for (v1::DataCategory category :
       CategorySet::FromRepeated(consent.data_categories()).ToVector()) {
    draft.add_categories(category);
  }
  draft.set_outcome(v1::AUDIT_OUTCOME_SUCCESS);
  draft.set_reason_code(std::string(reason));
  draft.set_detail(std::move(detail));
  return audit_log_->Append(txn, std::move(draft));
}

absl::StatusOr<v1::AuditRecord> ConsentRegistry::RecordCheck(
    WriteTxn& txn, const ConsentActor& actor, const DecisionRequest& request,
    const Decision& decision) const {
  v1::AuditRecord draft;
  draft.mutable_actor()->set_registry_code(actor.agency.registry_code());
  draft.mutable_actor()->set_professional_id(actor.professional_id);
  draft.set_action(v1::AUDIT_ACTION_DECISION);
  draft.set_message_kind(request.message_kind);
  draft.set_subject_pseudonym(
      audit_log_->Pseudonym(request.subject_personal_code));
  draft.set_purpose(request.purpose);
  draft.set_counterparty(request.recipient.registry_code());
  if (decision.basis.ByteSizeLong() > 0)
    *draft.mutable_basis() = decision.basis;
  for (v1::DataCategory category : decision.permitted.ToVector()) {
    draft.add_categories(category);
  }
  draft.set_outcome(decision.allow ? v1::AUDIT_OUTCOME_ALLOW
                                   : v1::AUDIT_OUTCOME_DENY);
  draft.set_reason_code(std::string(decision.reason_code()));
  draft.set_detail(absl::StrCat("Check only, nothing sent: ", decision.detail));
  return audit_log_->Append(txn, std::move(draft));
}

absl::StatusOr<ConsentChange> ConsentRegistry::Grant(WriteTxn& txn,
                                                     const ConsentActor& actor,
                                                     Consent consent) const {
  ForgetCachedConsents();
  SILD_ASSIGN_OR_RETURN(std::string id, NewConsentId());
  consent.set_consent_id(id);
  consent.set_version(1);
  *consent.mutable_recorded_by() = actor.agency;
  *consent.mutable_recorded_time() = ToTimestamp(txn.now());
  *consent.mutable_updated_time() = consent.recorded_time();
  if (!consent.has_valid_from())
    *consent.mutable_valid_from() = ToTimestamp(txn.now());
  const std::string subject = audit_log_->Pseudonym(consent.subject().value());
  const int64_t now_ms = ToMillis(consent.recorded_time());
  SILD_ASSIGN_OR_RETURN(std::string sealed, SealConsent(consent));

  SILD_RETURN_IF_ERROR(
      txn.sql()
          .Exec("INSERT INTO consents (consent_id, version, subject, status,"
                " valid_from_ms, valid_until_ms, recorder, recorded_ms,"
                " updated_ms, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                {id, int64_t{1}, subject, int64_t{consent.status()},
                 ToMillis(consent.valid_from()), UntilValue(consent),
                 actor.agency.registry_code(), now_ms, now_ms, SqlBlob{sealed}})
          .status());
  SILD_RETURN_IF_ERROR(
      txn.sql()
          .Exec("INSERT INTO consent_versions (consent_id, version, status,"
                " actor, updated_ms, payload) VALUES (?, ?, ?, ?, ?, ?)",
                {id, int64_t{1}, int64_t{consent.status()},
                 actor.agency.registry_code(), now_ms, SqlBlob{sealed}})
          .status());
  for (const std::string& code : consent.recipients().registry_codes()) {
    SILD_RETURN_IF_ERROR(
        txn.sql()
            .Exec("INSERT INTO consent_recipients (consent_id, registry_code,"
                  " kind) VALUES (?, ?, ?)",
                  {id, code, int64_t{0}})
            .status());
  }
  for (int kind : consent.recipients().kinds()) {
    SILD_RETURN_IF_ERROR(
        txn.sql()
            .Exec("INSERT INTO consent_recipients (consent_id, registry_code,"
                  " kind) VALUES (?, ?, ?)",
                  {id, std::string(), int64_t{kind}})
            .status());
  }

  ConsentChange change;
  SILD_ASSIGN_OR_RETURN(
      change.audit_record,
      AppendAudit(
          txn, actor, consent, "CONSENT_GRANTED",
          absl::StrCat(
              "Consent ", id, " version 1 recorded by ",
              actor.agency.registry_code(), " with status ",
              v1::ConsentStatus_Name(consent.status()), ", given by ",
              consent.grantor().has_representative()
                  ? absl::StrCat(
                        "a representative (",
                        v1::RepresentativeRelation_Name(
                            consent.grantor().representative().relation()),
                        ")")
                  : std::string("the subject"),
              ", covering ",
              CategorySet::FromRepeated(consent.data_categories()).ToString(),
              " for ", consent.purposes_size(), " purpose(s) and ",
              consent.recipients().registry_codes_size() +
                  consent.recipients().kinds_size(),
              " recipient(s).")));
  change.consent = std::move(consent);
  return change;
}

absl::StatusOr<ConsentChange> ConsentRegistry::Withdraw(
    WriteTxn& txn, const ConsentActor& actor, absl::string_view consent_id,
    absl::string_view note) const {
  ForgetCachedConsents();
  SILD_ASSIGN_OR_RETURN(std::optional<Consent> current,
                        Load(txn.sql(), consent_id));
  if (!current || !MaySee(*current, actor.agency)) return NotFound(consent_id);
  if (current->status() == v1::CONSENT_STATUS_WITHDRAWN) {
    return MakeError(
        absl::StatusCode::kFailedPrecondition, "ALREADY_WITHDRAWN",
        "consent_id",
        absl::StrCat("consent ", consent_id, " was already withdrawn (version ",
                     current->version(), ")"));
  }
  if (current->status() == v1::CONSENT_STATUS_DECLINED) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "CONSENT_DECLINED",
                     "consent_id",
                     absl::StrCat("consent ", consent_id,
                                  " was declined; there is nothing to "
                                  "withdraw"));
  }
  const int64_t previous_version = current->version();
  Consent next = *current;
  next.set_version(previous_version + 1);
  next.set_status(v1::CONSENT_STATUS_WITHDRAWN);
  next.set_status_note(std::string(note));
  *next.mutable_updated_time() = ToTimestamp(txn.now());
  const int64_t now_ms = ToMillis(next.updated_time());
  SILD_ASSIGN_OR_RETURN(std::string sealed, SealConsent(next));

  SILD_ASSIGN_OR_RETURN(
      int64_t updated,
      txn.sql().Exec(
          "UPDATE consents SET version = ?, status = ?,"
          " updated_ms = ?, payload = ? WHERE consent_id = ? AND"
          " version = ?",
          {next.version(), int64_t{next.status()}, now_ms, SqlBlob{sealed},
           std::string(consent_id), previous_version}));
  if (updated != 1) {
    return MakeError(absl::StatusCode::kAborted, "CONCURRENT_CHANGE",
                     "consent_id", "the consent changed meanwhile; retry");
  }
  SILD_RETURN_IF_ERROR(
      txn.sql()
          .Exec(
              "INSERT INTO consent_versions (consent_id, version, status,"
              " actor, updated_ms, payload) VALUES (?, ?, ?, ?, ?, ?)",
              {std::string(consent_id), next.version(), int64_t{next.status()},
               actor.agency.registry_code(), now_ms, SqlBlob{sealed}})
          .status());

  // A notice per recipient that received data under any version.
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      txn.sql().Query("SELECT recipient, message_id FROM consent_disclosures"
                      " WHERE consent_id = ?"
                      " ORDER BY recipient, disclosed_ms, message_id",
                      {std::string(consent_id)}));
  std::map<std::string, std::vector<std::string>> by_recipient;
  for (const SqlRow& row : rows) {
    by_recipient[row.Text(0)].push_back(row.Text(1));
  }
  ConsentChange change;
  for (const auto& [recipient, message_ids] : by_recipient) {
    v1::ConsentWithdrawalNotice notice;
    notice.set_consent_id(std::string(consent_id));
    notice.set_version(next.version());
    *notice.mutable_subject() = next.subject();
    *notice.mutable_withdrawn_time() = next.updated_time();
    for (const std::string& id : message_ids) notice.add_message_ids(id);
    SILD_ASSIGN_OR_RETURN(
        std::string sealed_notice,
        store_->cipher().Seal(notice.SerializeAsString(),
                              NoticeAssociatedData(consent_id, recipient)));
    SILD_RETURN_IF_ERROR(
        txn.sql()
            .Exec("INSERT INTO consent_withdrawal_notices (consent_id,"
                  " version, recipient, message_ids, created_ms, status,"
                  " notice_message_id, notice)"
                  " VALUES (?, ?, ?, ?, ?, 'PENDING', '', ?)",
                  {std::string(consent_id), next.version(), recipient,
                   absl::StrJoin(message_ids, ","), now_ms,
                   SqlBlob{sealed_notice}})
            .status());
    ++change.pending_notices;
  }

  SILD_ASSIGN_OR_RETURN(
      change.audit_record,
      AppendAudit(txn, actor, next, "CONSENT_WITHDRAWN",
                  absl::StrCat("Consent ", consent_id, " withdrawn by ",
                               actor.agency.registry_code(), " (version ",
                               next.version(), "); ", change.pending_notices,
                               " recipient(s) that received data under it "
                               "are owed a withdrawal notice.")));
  change.consent = std::move(next);
  return change;
}

absl::Status ConsentRegistry::RecordDisclosure(
    WriteTxn& txn, absl::string_view consent_id, int64_t version,
    absl::string_view recipient_code, absl::string_view message_id) const {
  SILD_ASSIGN_OR_RETURN(auto rows, txn.sql().Query("SELECT status FROM consents"
                                                   " WHERE consent_id = ?",
                                                   {std::string(consent_id)}));
  if (rows.empty()) {
    return MakeError(absl::StatusCode::kNotFound, "CONSENT_NOT_FOUND",
                     "consent_id", absl::StrCat("no consent ", consent_id));
  }
  if (rows[0].Int(0) == v1::CONSENT_STATUS_WITHDRAWN) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "CONSENT_WITHDRAWN",
                     "consent_id",
                     absl::StrCat("consent ", consent_id,
                                  " is withdrawn; nothing may be disclosed "
                                  "under it"));
  }
  return txn.sql()
      .Exec(
          "INSERT INTO consent_disclosures (consent_id, version, recipient,"
          " message_id, disclosed_ms) VALUES (?, ?, ?, ?, ?)"
          " ON CONFLICT DO NOTHING",
          {std::string(consent_id), version, std::string(recipient_code),
           std::string(message_id), absl::ToUnixMillis(txn.now())})
      .status();
}

absl::Status ConsentRegistry::MarkWithdrawalNoticeQueued(
    WriteTxn& txn, absl::string_view consent_id,
    absl::string_view recipient_code,
    absl::string_view notice_message_id) const {
  SILD_ASSIGN_OR_RETURN(
      int64_t updated,
      txn.sql().Exec("UPDATE consent_withdrawal_notices SET status = 'QUEUED',"
                     " notice_message_id = ? WHERE consent_id = ? AND"
                     " recipient = ? AND status = 'PENDING'",
                     {std::string(notice_message_id), std::string(consent_id),
                      std::string(recipient_code)}));
  if (updated != 1) {
    return MakeError(absl::StatusCode::kNotFound, "NOTICE_NOT_FOUND",
                     "consent_id",
                     absl::StrCat("no pending withdrawal notice of consent ",
                                  consent_id, " for ", recipient_code));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Consent>> ConsentRegistry::Load(
    SqlConnection& sql, absl::string_view consent_id) const {
  SILD_ASSIGN_OR_RETURN(auto rows,
                        sql.Query("SELECT version, payload FROM consents"
                                  " WHERE consent_id = ?",
                                  {std::string(consent_id)}));
  if (rows.empty()) return std::optional<Consent>();
  SILD_ASSIGN_OR_RETURN(
      Consent consent,
      OpenConsent(rows[0].Bytes(1), consent_id, rows[0].Int(0)));
  return std::optional<Consent>(std::move(consent));
}

absl::StatusOr<std::vector<Consent>> ConsentRegistry::LoadVersions(
    SqlConnection& sql, absl::string_view consent_id) const {
  SILD_ASSIGN_OR_RETURN(
      auto rows, sql.Query("SELECT version, payload FROM consent_versions"
                           " WHERE consent_id = ? ORDER BY version",
                           {std::string(consent_id)}));
  std::vector<Consent> versions;
  for (const SqlRow& row : rows) {
    SILD_ASSIGN_OR_RETURN(Consent consent,
                          OpenConsent(row.Bytes(1), consent_id, row.Int(0)));
    versions.push_back(std::move(consent));
  }
  return versions;
}

absl::StatusOr<ConsentPage> ConsentRegistry::List(
    SqlConnection& sql, const ConsentListQuery& query) const {
  // An unknown kind must match no kind row (they hold kinds > 0).
  auto kind_value = [](v1::AgencyKind kind) -> int64_t {
    return kind == v1::AGENCY_KIND_UNSPECIFIED ? -1 : int64_t{kind};
  };
  const std::string viewer = query.viewer.registry_code();
  const int64_t viewer_kind = kind_value(query.viewer.kind());
  const int64_t limit = int64_t{query.limit} + 1;
  constexpr absl::string_view kVisibleAfterCursor =
      " AND (c.recorder = ? OR EXISTS (SELECT 1 FROM consent_recipients r"
      " WHERE r.consent_id = c.consent_id AND (r.registry_code = ? OR"
      " r.kind = ?)))"
      " AND (c.recorded_ms > ? OR (c.recorded_ms = ? AND c.consent_id > ?))"
      " ORDER BY c.recorded_ms, c.consent_id LIMIT ?";
  std::string sql_text;
  std::vector<SqlValue> params;
  if (!query.subject_code.empty()) {
    sql_text = absl::StrCat(
        "SELECT c.consent_id, c.version, c.payload FROM consents c"
        " WHERE c.subject = ?",
        kVisibleAfterCursor);
    params = {audit_log_->Pseudonym(query.subject_code),
              viewer,
              viewer,
              viewer_kind,
              query.after_recorded_ms,
              query.after_recorded_ms,
              query.after_consent_id,
              limit};
  } else {
    sql_text = absl::StrCat(
        "SELECT c.consent_id, c.version, c.payload FROM consents c"
        " WHERE EXISTS (SELECT 1 FROM consent_recipients f WHERE"
        " f.consent_id = c.consent_id AND (f.registry_code = ? OR"
        " f.kind = ?))",
        kVisibleAfterCursor);
    params = {query.recipient_code,
              kind_value(query.recipient_kind),
              viewer,
              viewer,
              viewer_kind,
              query.after_recorded_ms,
              query.after_recorded_ms,
              query.after_consent_id,
              limit};
  }
  SILD_ASSIGN_OR_RETURN(auto rows, sql.Query(sql_text, params));
  ConsentPage page;
  for (const SqlRow& row : rows) {
    if (static_cast<int>(page.consents.size()) == query.limit) {
      page.more = true;
      break;
    }
    SILD_ASSIGN_OR_RETURN(Consent consent,
                          OpenConsent(row.Bytes(2), row.Text(0), row.Int(1)));
    page.consents.push_back(std::move(consent));
  }
  return page;
}

absl::StatusOr<std::vector<Consent>> ConsentRegistry::ConsentsForSubject(
    SqlConnection& sql, absl::string_view personal_code) const {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT consent_id, version, payload FROM consents"
                " WHERE subject = ? ORDER BY recorded_ms, consent_id",
                {audit_log_->Pseudonym(personal_code)}));
  std::vector<Consent> consents;
  consents.reserve(rows.size());
  for (const SqlRow& row : rows) {
    SILD_ASSIGN_OR_RETURN(Consent consent,
                          OpenConsent(row.Bytes(2), row.Text(0), row.Int(1)));
    // A pseudonym collision would be astronomically unlikely; a consent of
    // another person must still never be judged for this one.
    if (consent.subject().value() != personal_code) continue;
    consents.push_back(std::move(consent));
  }
  return consents;
}

absl::StatusOr<std::vector<Consent>> ConsentRegistry::ConsentsForSubjectInTxn(
    WriteTxn& txn, absl::string_view personal_code) const {
  if (writer_cache_ == nullptr) {
    return ConsentsForSubject(txn.sql(), personal_code);
  }
  if (auto cached = writer_cache_->Find(personal_code)) return *cached;
  SILD_ASSIGN_OR_RETURN(std::vector<Consent> consents,
                        ConsentsForSubject(txn.sql(), personal_code));
  writer_cache_->Put(personal_code, consents);
  return consents;
}

void ConsentRegistry::ForgetCachedConsents() const {
  if (writer_cache_ != nullptr) writer_cache_->Clear();
}

absl::StatusOr<std::vector<PendingWithdrawalNotice>>
ConsentRegistry::PendingWithdrawalNotices(SqlConnection& sql, int limit) const {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT consent_id, version, recipient, created_ms, notice"
                " FROM consent_withdrawal_notices WHERE status = 'PENDING'"
                " ORDER BY created_ms, consent_id, recipient LIMIT ?",
                {int64_t{limit}}));
  std::vector<PendingWithdrawalNotice> notices;
  for (const SqlRow& row : rows) {
    PendingWithdrawalNotice pending;
    pending.consent_id = row.Text(0);
    pending.version = row.Int(1);
    pending.recipient_code = row.Text(2);
    pending.created = absl::FromUnixMillis(row.Int(3));
    SILD_ASSIGN_OR_RETURN(
        std::string plain,
        store_->cipher().Open(
            row.Bytes(4),
            NoticeAssociatedData(pending.consent_id, pending.recipient_code)));
    if (!pending.notice.ParseFromString(plain)) {
      return MakeError(absl::StatusCode::kDataLoss, "CONSENT_CORRUPT",
                       "consent_id",
                       absl::StrCat("withdrawal notice of consent ",
                                    pending.consent_id, " does not parse"));
    }
    notices.push_back(std::move(pending));
  }
  return notices;
}

}  // namespace sild
