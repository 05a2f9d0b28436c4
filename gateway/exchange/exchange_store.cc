#include "gateway/exchange/exchange_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"
#include "gateway/delivery/outbox_store.h"
#include "gateway/store/time_columns.h"

namespace sild::exchange {

using delivery::OpenSealedEnvelope;
using delivery::PushQueuePredicate;
namespace {

std::string MessageAad(const std::string& message_id) {
  return absl::StrCat("message:", message_id);
}

ReferralRow ReferralFromRow(const SqlRow& r) {
  ReferralRow row;
  row.referral_id = r.Text(0);
  row.status = static_cast<sild::v1::ReferralStatus>(r.Int(1));
  row.service = static_cast<sild::v1::ServiceType>(r.Int(2));
  row.urgency = static_cast<sild::v1::Urgency>(r.Int(3));
  row.requester = r.Text(4);
  row.case_id = r.Text(5);
  row.municipality = r.Text(6);
  row.created = TimeFromMillisColumn(r.Int(7));
  row.updated = TimeFromMillisColumn(r.Int(8));
  row.acknowledge_by = TimeFromMillisColumn(r.Int(9));
  row.escalated = r.Int(10) != 0;
  return row;
}

constexpr char kReferralColumns[] =
    "referral_id, status, service, urgency, requester, case_id, municipality, "
    "created_ms, updated_ms, acknowledge_by_ms, escalated";

}  // namespace

std::vector<Migration> Schemas() {
  return {Schema(),
          Migration{5, "exchange push queue",
                    absl::StrCat(
                        // Superseded: it also indexed every inbox row.
                        "DROP INDEX outbox_pending;"
                        "CREATE INDEX outbox_push_due ON outbox "
                        "(next_attempt_ms, delivery_id) WHERE ",
                        PushQueuePredicate(), ";")}};
}

Migration Schema() {
  return Migration{4, "exchange", R"sql(
    CREATE TABLE messages (
      message_id TEXT PRIMARY KEY,
      kind INTEGER NOT NULL,
      sender TEXT NOT NULL,
      case_id TEXT NOT NULL,
      subject TEXT NOT NULL,
      purpose INTEGER NOT NULL,
      in_reply_to TEXT NOT NULL,
      created_ms BIGINT NOT NULL,
      payload BLOB NOT NULL);
    CREATE INDEX messages_by_reply ON messages (in_reply_to);
    CREATE TABLE message_parties (
      message_id TEXT NOT NULL,
      registry_code TEXT NOT NULL,
      role TEXT NOT NULL,
      PRIMARY KEY (message_id, registry_code, role));
    CREATE INDEX message_parties_by_agency
      ON message_parties (registry_code, role);
    CREATE TABLE idempotency_keys (
      sender TEXT NOT NULL,
      idempotency_key TEXT NOT NULL,
      request_hash BLOB NOT NULL,
      receipt BLOB NOT NULL,
      created_ms BIGINT NOT NULL,
      PRIMARY KEY (sender, idempotency_key));
    CREATE TABLE referrals (
      referral_id TEXT PRIMARY KEY,
      status INTEGER NOT NULL,
      service INTEGER NOT NULL,
      urgency INTEGER NOT NULL,
      requester TEXT NOT NULL,
      case_id TEXT NOT NULL,
      municipality TEXT NOT NULL,
      created_ms BIGINT NOT NULL,
      updated_ms BIGINT NOT NULL,
      acknowledge_by_ms BIGINT NOT NULL,
      escalated INTEGER NOT NULL);
    CREATE INDEX referrals_by_deadline
      ON referrals (escalated, acknowledge_by_ms);
    CREATE TABLE transitions (
      transition_id TEXT PRIMARY KEY,
      sender TEXT NOT NULL,
      recipient TEXT NOT NULL,
      status INTEGER NOT NULL,
      effective_ms BIGINT NOT NULL,
      acknowledge_by_ms BIGINT NOT NULL,
      escalated INTEGER NOT NULL,
      created_ms BIGINT NOT NULL,
      updated_ms BIGINT NOT NULL);
    CREATE INDEX transitions_by_deadline
      ON transitions (escalated, acknowledge_by_ms);
    CREATE TABLE outbox (
      delivery_id INTEGER PRIMARY KEY AUTOINCREMENT,
      message_id TEXT NOT NULL,
      recipient TEXT NOT NULL,
      kind INTEGER NOT NULL,
      transport TEXT NOT NULL,
      state INTEGER NOT NULL,
      attempts INTEGER NOT NULL,
      last_error TEXT NOT NULL,
      created_ms BIGINT NOT NULL,
      next_attempt_ms BIGINT NOT NULL,
      delivered_ms BIGINT NOT NULL,
      lease_owner TEXT NOT NULL,
      lease_until_ms BIGINT NOT NULL,
      inbox_sent_ms BIGINT NOT NULL,
      redeliveries INTEGER NOT NULL,
      permitted BIGINT NOT NULL,
      payload BLOB NOT NULL,
      UNIQUE (message_id, recipient));
    CREATE INDEX outbox_pending ON outbox (state, next_attempt_ms);
    CREATE INDEX outbox_by_recipient ON outbox (recipient, state, delivery_id);
  )sql"};
}

std::string NewUuid() {
  // UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random
  // bits. Ids minted close in time sort close together, so the indexes keyed
  // by message id (messages, parties, referrals, outbox, audit) take new
  // entries at their right edge: a group commit dirties a few pages per
  // index instead of one random leaf page per row.
  unsigned char b[16];
  if (RAND_bytes(b + 6, sizeof(b) - 6) != 1) {
    // No randomness is no identifier: the caller's write fails.
    return "";
  }
  const uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%"
                "02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

absl::StatusOr<std::string> SealMessageEnvelope(
    const PayloadCipher& cipher, const std::string& message_id,
    const sild::v1::Envelope& envelope) {
  return cipher.Seal(envelope.SerializeAsString(), MessageAad(message_id));
}

absl::Status InsertSealedMessage(WriteTxn& txn, const MessageRow& row,
                                 std::string sealed_envelope) {
  return txn.sql()
      .Exec(
          "INSERT INTO messages (message_id, kind, sender, case_id, subject,"
          " purpose, in_reply_to, created_ms, payload)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {row.message_id, int64_t{row.kind}, row.sender, row.case_id,
           row.subject_pseudonym, int64_t{row.purpose}, row.in_reply_to,
           MillisColumn(row.created), SqlBlob{std::move(sealed_envelope)}})
      .status();
}

absl::Status UpdateMessageEnvelope(WriteTxn& txn, const PayloadCipher& cipher,
                                   const std::string& message_id,
                                   const sild::v1::Envelope& envelope) {
  SILD_ASSIGN_OR_RETURN(
      std::string sealed,
      cipher.Seal(envelope.SerializeAsString(), MessageAad(message_id)));
  return txn.sql()
      .Exec("UPDATE messages SET payload = ? WHERE message_id = ?",
            {SqlBlob{std::move(sealed)}, message_id})
      .status();
}

absl::StatusOr<std::optional<MessageRow>> LoadMessage(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& message_id) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT message_id, kind, sender, case_id, subject, purpose,"
                " in_reply_to, created_ms, payload FROM messages"
                " WHERE message_id = ?",
                {message_id}));
  if (rows.empty()) return std::nullopt;
  const SqlRow& r = rows[0];
  MessageRow row;
  row.message_id = r.Text(0);
  row.kind = static_cast<sild::v1::MessageKind>(r.Int(1));
  row.sender = r.Text(2);
  row.case_id = r.Text(3);
  row.subject_pseudonym = r.Text(4);
  row.purpose = static_cast<sild::v1::Purpose>(r.Int(5));
  row.in_reply_to = r.Text(6);
  row.created = TimeFromMillisColumn(r.Int(7));
  SILD_ASSIGN_OR_RETURN(
      row.envelope,
      OpenSealedEnvelope(cipher, r.Bytes(8), MessageAad(message_id)));
  return row;
}

absl::Status AddParties(WriteTxn& txn, const std::string& message_id,
                        const std::vector<Party>& parties) {
  if (parties.empty()) return absl::OkStatus();
  std::string sql =
      "INSERT INTO message_parties (message_id, registry_code, role) VALUES ";
  std::vector<SqlValue> params;
  params.reserve(parties.size() * 3);
  for (size_t i = 0; i < parties.size(); ++i) {
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "(?, ?, ?)");
    params.emplace_back(message_id);
    params.emplace_back(parties[i].registry_code);
    params.emplace_back(std::string(parties[i].role));
  }
  absl::StrAppend(&sql, " ON CONFLICT DO NOTHING");
  return txn.sql().Exec(sql, params).status();
}

absl::StatusOr<std::vector<std::string>> PartyRoles(
    SqlConnection& sql, const std::string& message_id,
    const std::string& registry_code) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT role FROM message_parties WHERE message_id = "
                "? AND registry_code = ?",
                {message_id, registry_code}));
  std::vector<std::string> roles;
  for (const auto& r : rows) roles.push_back(r.Text(0));
  return roles;
}

absl::StatusOr<std::optional<IdempotencyRecord>> FindIdempotencyKey(
    SqlConnection& sql, const std::string& sender, const std::string& key) {
  SILD_ASSIGN_OR_RETURN(
      auto rows, sql.Query("SELECT request_hash, receipt FROM idempotency_keys"
                           " WHERE sender = ? AND idempotency_key = ?",
                           {sender, key}));
  if (rows.empty()) return std::nullopt;
  IdempotencyRecord record;
  record.request_hash = rows[0].Bytes(0);
  if (!record.receipt.ParseFromString(rows[0].Bytes(1))) {
    return MakeError(absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT", "",
                     "a stored receipt cannot be parsed");
  }
  return record;
}

absl::Status InsertIdempotencyKey(WriteTxn& txn, const std::string& sender,
                                  const std::string& key,
                                  const std::string& request_hash,
                                  const sild::v1::Receipt& receipt) {
  return txn.sql()
      .Exec(
          "INSERT INTO idempotency_keys (sender, idempotency_key,"
          " request_hash, receipt, created_ms) VALUES (?, ?, ?, ?, ?)",
          {sender, key, SqlBlob{request_hash},
           SqlBlob{receipt.SerializeAsString()}, MillisColumn(txn.now())})
      .status();
}

absl::Status InsertReferral(WriteTxn& txn, const ReferralRow& row) {
  return txn.sql()
      .Exec(absl::StrCat("INSERT INTO referrals (", kReferralColumns,
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            {row.referral_id, int64_t{row.status}, int64_t{row.service},
             int64_t{row.urgency}, row.requester, row.case_id, row.municipality,
             MillisColumn(row.created), MillisColumn(row.updated),
             MillisColumn(row.acknowledge_by), int64_t{row.escalated ? 1 : 0}})
      .status();
}

absl::Status UpdateReferralStatus(WriteTxn& txn, const std::string& referral_id,
                                  sild::v1::ReferralStatus status,
                                  absl::Time updated) {
  return txn.sql()
      .Exec(
          "UPDATE referrals SET status = ?, updated_ms = ? WHERE "
          "referral_id = ?",
          {int64_t{status}, MillisColumn(updated), referral_id})
      .status();
}

absl::StatusOr<std::optional<ReferralRow>> LoadReferral(
    SqlConnection& sql, const std::string& referral_id) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query(absl::StrCat("SELECT ", kReferralColumns,
                             " FROM referrals WHERE referral_id = ?"),
                {referral_id}));
  if (rows.empty()) return std::nullopt;
  return ReferralFromRow(rows[0]);
}

absl::StatusOr<std::vector<ReferralRow>> ListReferrals(
    SqlConnection& sql, const ReferralListFilter& filter) {
  std::string query = absl::StrCat(
      "SELECT DISTINCT r.referral_id, r.status, r.service, r.urgency,"
      " r.requester, r.case_id, r.municipality, r.created_ms, r.updated_ms,"
      " r.acknowledge_by_ms, r.escalated FROM referrals r JOIN message_parties"
      " p ON p.message_id = r.referral_id WHERE p.registry_code = ?");
  std::vector<SqlValue> params = {filter.agency};
  if (!filter.role.empty()) {
    query += " AND p.role = ?";
    params.emplace_back(filter.role);
  }
  if (filter.status != sild::v1::REFERRAL_STATUS_UNSPECIFIED) {
    query += " AND r.status = ?";
    params.emplace_back(int64_t{filter.status});
  }
  if (!filter.case_id.empty()) {
    query += " AND r.case_id = ?";
    params.emplace_back(filter.case_id);
  }
  if (filter.before_created_ms > 0) {
    query +=
        " AND (r.created_ms < ? OR (r.created_ms = ? AND r.referral_id < ?))";
    params.emplace_back(filter.before_created_ms);
    params.emplace_back(filter.before_created_ms);
    params.emplace_back(filter.before_id);
  }
  query += " ORDER BY r.created_ms DESC, r.referral_id DESC LIMIT ?";
  params.emplace_back(int64_t{filter.limit});
  SILD_ASSIGN_OR_RETURN(auto rows, sql.Query(query, params));
  std::vector<ReferralRow> out;
  for (const auto& r : rows) out.push_back(ReferralFromRow(r));
  return out;
}

absl::Status InsertTransition(WriteTxn& txn, const TransitionRow& row) {
  return txn.sql()
      .Exec(
          "INSERT INTO transitions (transition_id, sender, recipient,"
          " status, effective_ms, acknowledge_by_ms, escalated, created_ms,"
          " updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {row.transition_id, row.sender, row.recipient, int64_t{row.status},
           MillisColumn(row.effective), MillisColumn(row.acknowledge_by),
           int64_t{row.escalated ? 1 : 0}, MillisColumn(row.created),
           MillisColumn(row.updated)})
      .status();
}

absl::Status UpdateTransitionStatus(WriteTxn& txn, const std::string& id,
                                    sild::v1::AcknowledgementStatus status,
                                    absl::Time updated) {
  return txn.sql()
      .Exec(
          "UPDATE transitions SET status = ?, updated_ms = ? WHERE "
          "transition_id = ?",
          {int64_t{status}, MillisColumn(updated), id})
      .status();
}

absl::StatusOr<std::optional<TransitionRow>> LoadTransition(
    SqlConnection& sql, const std::string& transition_id) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT transition_id, sender, recipient, status,"
                " effective_ms, acknowledge_by_ms, escalated, created_ms,"
                " updated_ms FROM transitions WHERE transition_id = ?",
                {transition_id}));
  if (rows.empty()) return std::nullopt;
  const SqlRow& r = rows[0];
  TransitionRow row;
  row.transition_id = r.Text(0);
  row.sender = r.Text(1);
  row.recipient = r.Text(2);
  row.status = static_cast<sild::v1::AcknowledgementStatus>(r.Int(3));
  row.effective = TimeFromMillisColumn(r.Int(4));
  row.acknowledge_by = TimeFromMillisColumn(r.Int(5));
  row.escalated = r.Int(6) != 0;
  row.created = TimeFromMillisColumn(r.Int(7));
  row.updated = TimeFromMillisColumn(r.Int(8));
  return row;
}

// --- Deadlines. ---

namespace {

TransitionRow TransitionFromRow(const SqlRow& r) {
  TransitionRow row;
  row.transition_id = r.Text(0);
  row.sender = r.Text(1);
  row.recipient = r.Text(2);
  row.status = static_cast<sild::v1::AcknowledgementStatus>(r.Int(3));
  row.effective = TimeFromMillisColumn(r.Int(4));
  row.acknowledge_by = TimeFromMillisColumn(r.Int(5));
  row.escalated = r.Int(6) != 0;
  row.created = TimeFromMillisColumn(r.Int(7));
  row.updated = TimeFromMillisColumn(r.Int(8));
  return row;
}

}  // namespace

absl::StatusOr<std::optional<MessageRow>> LoadMessageSummary(
    SqlConnection& sql, const std::string& message_id) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT message_id, kind, sender, case_id, subject, purpose,"
                " in_reply_to, created_ms FROM messages WHERE message_id = ?",
                {message_id}));
  if (rows.empty()) return std::nullopt;
  const SqlRow& r = rows[0];
  MessageRow row;
  row.message_id = r.Text(0);
  row.kind = static_cast<sild::v1::MessageKind>(r.Int(1));
  row.sender = r.Text(2);
  row.case_id = r.Text(3);
  row.subject_pseudonym = r.Text(4);
  row.purpose = static_cast<sild::v1::Purpose>(r.Int(5));
  row.in_reply_to = r.Text(6);
  row.created = TimeFromMillisColumn(r.Int(7));
  return row;
}

absl::StatusOr<std::vector<std::string>> PartiesWithRole(
    SqlConnection& sql, const std::string& message_id, const char* role) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query("SELECT registry_code FROM message_parties WHERE message_id = ?"
                " AND role = ? ORDER BY registry_code",
                {message_id, std::string(role)}));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.Text(0));
  return out;
}

absl::StatusOr<std::vector<ReferralRow>> OverdueReferrals(SqlConnection& sql,
                                                          absl::Time now,
                                                          int limit) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query(
          absl::StrCat("SELECT ", kReferralColumns,
                       " FROM referrals WHERE escalated = 0 AND"
                       " acknowledge_by_ms > 0 AND acknowledge_by_ms <= ?"
                       " AND status = ? ORDER BY acknowledge_by_ms,"
                       " referral_id LIMIT ?"),
          {MillisColumn(now), int64_t{sild::v1::REFERRAL_STATUS_SUBMITTED},
           int64_t{limit}}));
  std::vector<ReferralRow> out;
  for (const auto& r : rows) out.push_back(ReferralFromRow(r));
  return out;
}

absl::StatusOr<bool> MarkReferralEscalated(WriteTxn& txn,
                                           const std::string& referral_id) {
  SILD_ASSIGN_OR_RETURN(
      int64_t changed,
      txn.sql().Exec(
          "UPDATE referrals SET escalated = 1 WHERE referral_id = ?"
          " AND escalated = 0 AND status = ?",
          {referral_id, int64_t{sild::v1::REFERRAL_STATUS_SUBMITTED}}));
  return changed == 1;
}

absl::StatusOr<std::vector<TransitionRow>> OverdueTransitions(
    SqlConnection& sql, absl::Time now, int limit) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query(
          "SELECT transition_id, sender, recipient, status,"
          " effective_ms, acknowledge_by_ms, escalated, created_ms,"
          " updated_ms FROM transitions WHERE escalated = 0 AND"
          " acknowledge_by_ms > 0 AND acknowledge_by_ms <= ? AND"
          " status = ? ORDER BY acknowledge_by_ms, transition_id"
          " LIMIT ?",
          {MillisColumn(now), int64_t{sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING},
           int64_t{limit}}));
  std::vector<TransitionRow> out;
  for (const auto& r : rows) out.push_back(TransitionFromRow(r));
  return out;
}

absl::StatusOr<bool> MarkTransitionEscalated(WriteTxn& txn,
                                             const std::string& transition_id) {
  SILD_ASSIGN_OR_RETURN(
      int64_t changed,
      txn.sql().Exec(
          "UPDATE transitions SET escalated = 1 WHERE"
          " transition_id = ? AND escalated = 0 AND status = ?",
          {transition_id, int64_t{sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING}}));
  return changed == 1;
}

}  // namespace sild::exchange
