// ConsentRegistry: the consent registry's tables in the store. Start here for
// consents.
//
//   ConsentRegistry registry(store, audit_log);   // cheap; no state of its own
//                                                 // (but an optional writer
//                                                 // cache, UseWriterCache)
//   // inside a write request (store->writer().Submit):
//   SILD_ASSIGN_OR_RETURN(auto granted, registry.Grant(txn, actor, prepared));
//   SILD_ASSIGN_OR_RETURN(auto withdrawn,
//                         registry.Withdraw(txn, actor, consent_id, note));
//   // reads, through Store::Read or a WriteTxn's connection:
//   SILD_ASSIGN_OR_RETURN(auto consents,
//                         registry.ConsentsForSubject(sql, personal_code));
//
// The exchange, deciding per recipient inside its own write, reads through
// the writer's connection (TxnConsentReader in store_consent_reader.h wraps
// ConsentsForSubjectInTxn), records what it disclosed on a consent with
// RecordDisclosure, and drains PendingWithdrawalNotices.
//
// Storage (schema version 2, "consents"): `consents` holds each consent's
// current version, `consent_versions` every version (nothing is deleted or
// overwritten there), `consent_recipients` the recipients for listing by
// recipient, `consent_disclosures` which recipient received which message
// under a consent, and `consent_withdrawal_notices` the notices owed after a
// withdrawal. Payloads are sealed with the store's PayloadCipher, bound to
// "consent:<id>:<version>"; subjects are indexed only by the audit log's
// pseudonym, so the database never holds a raw personal code.
//
// Every Grant and Withdraw appends an AUDIT_ACTION_CONSENT_CHANGE record in
// the same transaction as the consent rows. Write functions must run on the
// writer thread (inside GroupCommitter requests); read functions are
// thread-safe given their own connection. Errors: NOT_FOUND
// CONSENT_NOT_FOUND, FAILED_PRECONDITION ALREADY_WITHDRAWN / CONSENT_DECLINED
// / CONSENT_WITHDRAWN, DATA_LOSS when a sealed payload does not open, and the
// store's errors.
#ifndef SILD_GATEWAY_CONSENT_CONSENT_REGISTRY_H_
#define SILD_GATEWAY_CONSENT_CONSENT_REGISTRY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/audit/audit_log.h"
#include "gateway/consent/writer_consent_cache.h"
#include "gateway/policy/decision.h"
#include "gateway/store/group_commit.h"
#include "gateway/store/migrations.h"
#include "gateway/store/store.h"
#include "sild/v1/audit.pb.h"
#include "sild/v1/consent.pb.h"

namespace sild {

// Who changes a consent: the agency from the caller's certificate and the
// professional from request metadata.
struct ConsentActor {
  sild::v1::AgencyRef agency;
  std::string professional_id;
};

// The result of Grant or Withdraw.
struct ConsentChange {
  sild::v1::Consent consent;           // the new version as stored
  sild::v1::AuditRecord audit_record;  // the CONSENT_CHANGE record appended
  int pending_notices = 0;             // withdrawal notices queued
};

// Which consents List returns, oldest first. Exactly one of subject_code /
// recipient_code is set.
struct ConsentListQuery {
  // Consents about this validated personal code...
  std::string subject_code;
  // ...or consents naming this registry code, or this agency kind.
  std::string recipient_code;
  sild::v1::AgencyKind recipient_kind = sild::v1::AGENCY_KIND_UNSPECIFIED;
  // Only consents this agency recorded or is a recipient of.
  sild::v1::AgencyRef viewer;
  int limit = 50;
  // Keyset cursor: consents after (recorded_ms, consent_id).
  int64_t after_recorded_ms = -1;
  std::string after_consent_id;
};

struct ConsentPage {
  std::vector<sild::v1::Consent> consents;
  bool more = false;  // another page follows
};

// A withdrawal notice owed to one recipient.
struct PendingWithdrawalNotice {
  std::string consent_id;
  int64_t version = 0;  // the withdrawn version
  std::string recipient_code;
  absl::Time created;
  // Ready to send but for the header (the exchange sets it): consent id,
  // version, subject, withdrawal time and the message ids the recipient
  // received under the consent.
  sild::v1::ConsentWithdrawalNotice notice;
};

class ConsentRegistry {
 public:
  static Migration Schema();

  // `store` and `audit_log` must outlive the registry.
  ConsentRegistry(Store* store, AuditLog* audit_log)
      : store_(store), audit_log_(audit_log) {}

  // True if `agency` recorded `consent` or is named among its recipients
  // (by registry code or by kind): who may read it.
  static bool MaySee(const sild::v1::Consent& consent,
                     const sild::v1::AgencyRef& agency);

  // Writes (writer thread). `prepared` comes from PrepareConsentGrant; the
  // registry assigns consent_id, version 1, recorded_by = actor.agency and
  // the times (txn.now()).
  absl::StatusOr<ConsentChange> Grant(WriteTxn& txn, const ConsentActor& actor,
                                      sild::v1::Consent prepared) const;
  // Records the next version with status WITHDRAWN and `note`, and queues a
  // withdrawal notice for every recipient with a recorded disclosure under
  // the consent. NOT_FOUND unless actor.agency MaySee the consent.
  absl::StatusOr<ConsentChange> Withdraw(WriteTxn& txn,
                                         const ConsentActor& actor,
                                         absl::string_view consent_id,
                                         absl::string_view note) const;
  // The exchange records each copy it delivers on a consent basis, in the
  // write that commits the disclosure. FAILED_PRECONDITION
  // CONSENT_WITHDRAWN if the consent is withdrawn, NOT_FOUND if unknown.
  // Recording the same (consent, recipient, message) twice is a no-op.
  absl::Status RecordDisclosure(WriteTxn& txn, absl::string_view consent_id,
                                int64_t version,
                                absl::string_view recipient_code,
                                absl::string_view message_id) const;
  // Marks a notice handed to the delivery path (status QUEUED), so the next
  // drain skips it. NOT_FOUND if no such pending notice.
  absl::Status MarkWithdrawalNoticeQueued(
      WriteTxn& txn, absl::string_view consent_id,
      absl::string_view recipient_code,
      absl::string_view notice_message_id) const;

  // Reads: `sql` from Store::Read, or txn.sql() inside a write.
  // The current version as stored (status not adjusted for expiry).
  absl::StatusOr<std::optional<sild::v1::Consent>> Load(
      SqlConnection& sql, absl::string_view consent_id) const;
  // Every version, oldest first; empty if the consent is unknown.
  absl::StatusOr<std::vector<sild::v1::Consent>> LoadVersions(
      SqlConnection& sql, absl::string_view consent_id) const;
  absl::StatusOr<ConsentPage> List(SqlConnection& sql,
                                   const ConsentListQuery& query) const;
  // Every consent of the subject at its current version, as stored (the
  // ConsentReader contract).
  absl::StatusOr<std::vector<sild::v1::Consent>> ConsentsForSubject(
      SqlConnection& sql, absl::string_view personal_code) const;
  // The same through the writer's connection: sees the transaction's own
  // uncommitted writes, and nothing can change between this read and the
  // commit. Answered from the writer cache when one is in use.
  absl::StatusOr<std::vector<sild::v1::Consent>> ConsentsForSubjectInTxn(
      WriteTxn& txn, absl::string_view personal_code) const;

  // Lets the writer keep the consents it read (writer_consent_cache.h says
  // when that is safe). `cache` must outlive the registry; set it before the
  // store starts.
  void UseWriterCache(WriterConsentCache* cache) { writer_cache_ = cache; }
  // Audits a Check: what a decision would be, with nothing sent. A check
  // tells the caller whether a person's consent covers a flow, which is
  // itself information about that person, so it is on the trail like any
  // decision (action DECISION, detail starting "Check only").
  absl::StatusOr<sild::v1::AuditRecord> RecordCheck(
      WriteTxn& txn, const ConsentActor& actor, const DecisionRequest& request,
      const Decision& decision) const;

  // Notices with status PENDING, oldest first, at most `limit`.
  absl::StatusOr<std::vector<PendingWithdrawalNotice>> PendingWithdrawalNotices(
      SqlConnection& sql, int limit = 100) const;

 private:
  absl::StatusOr<sild::v1::Consent> OpenConsent(absl::string_view sealed,
                                                absl::string_view consent_id,
                                                int64_t version) const;
  absl::StatusOr<std::string> SealConsent(
      const sild::v1::Consent& consent) const;
  absl::StatusOr<sild::v1::AuditRecord> AppendAudit(
      WriteTxn& txn, const ConsentActor& actor,
      const sild::v1::Consent& consent, absl::string_view reason,
      std::string detail) const;

  // Clears the writer cache before a consent write.
  void ForgetCachedConsents() const;

  Store* store_;
  AuditLog* audit_log_;
  WriterConsentCache* writer_cache_ = nullptr;
};

}  // namespace sild

#endif  // SILD_GATEWAY_CONSENT_CONSENT_REGISTRY_H_
