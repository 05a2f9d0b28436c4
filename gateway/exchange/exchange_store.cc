#include "gateway/exchange/exchange_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"

namespace sild::exchange {
namespace {

int64_t Ms(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixMillis(t);
}

absl::Time FromMs(int64_t ms) {
  return ms == 0 ? absl::InfinitePast() : absl::FromUnixMillis(ms);
}

std::string MessageAad(const std::string& message_id) {
  return absl::StrCat("message:", message_id);
}

std::string DeliveryAad(const std::string& message_id,
                        const std::string& recipient) {
  return absl::StrCat("delivery:", message_id, ":", recipient);
}

absl::StatusOr<sild::v1::Envelope> OpenEnvelope(const PayloadCipher& cipher,
                                                const std::string& sealed,
                                                const std::string& aad) {
  SILD_ASSIGN_OR_RETURN(std::string bytes, cipher.Open(sealed, aad));
  sild::v1::Envelope envelope;
  if (!envelope.ParseFromString(bytes)) {
    return MakeError(absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT", "",
                     "a stored message cannot be parsed");
  }
  return envelope;
}

constexpr char kOutboxColumns[] =
    "delivery_id, message_id, recipient, kind, transport, state, attempts, "
    "last_error, created_ms, next_attempt_ms, delivered_ms, permitted, "
    "payload";

absl::StatusOr<OutboxRow> OutboxFromRow(const PayloadCipher& cipher,
                                        const SqlRow& r) {
  OutboxRow row;
  row.delivery_id = r.Int(0);
  row.message_id = r.Text(1);
  row.recipient = r.Text(2);
  row.kind = static_cast<sild::v1::MessageKind>(r.Int(3));
  row.transport = r.Text(4);
  row.state = static_cast<sild::v1::DeliveryState>(r.Int(5));
  row.attempts = static_cast<int32_t>(r.Int(6));
  row.last_error = r.Text(7);
  row.created = FromMs(r.Int(8));
  row.next_attempt = FromMs(r.Int(9));
  row.delivered = FromMs(r.Int(10));
  row.permitted = CategorySet::FromBits(static_cast<uint32_t>(r.Int(11)));
  SILD_ASSIGN_OR_RETURN(
      row.envelope, OpenEnvelope(cipher, r.Bytes(12),
                                 DeliveryAad(row.message_id, row.recipient)));
  return row;
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
  row.created = FromMs(r.Int(7));
  row.updated = FromMs(r.Int(8));
  row.acknowledge_by = FromMs(r.Int(9));
  row.escalated = r.Int(10) != 0;
  return row;
}

constexpr char kReferralColumns[] =
    "referral_id, status, service, urgency, requester, case_id, municipality, "
    "created_ms, updated_ms, acknowledge_by_ms, escalated";

}  // namespace

// Rows the delivery workers push: pending and not pulled through the gRPC
// inbox. Written with literals, not parameters, so the partial index
// outbox_push_due (same predicate) serves the workers' queries: a backlog
// of inbox rows nobody fetched yet costs them nothing.
std::string PushQueuePredicate() {
  return absl::StrCat("state = ", int{sild::v1::DELIVERY_STATE_PENDING},
                      " AND transport <> '", kGrpcInboxTransport, "'");
}

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
           Ms(row.created), SqlBlob{std::move(sealed_envelope)}})
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
  row.created = FromMs(r.Int(7));
  SILD_ASSIGN_OR_RETURN(
      row.envelope, OpenEnvelope(cipher, r.Bytes(8), MessageAad(message_id)));
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
           SqlBlob{receipt.SerializeAsString()}, Ms(txn.now())})
      .status();
}

absl::Status InsertReferral(WriteTxn& txn, const ReferralRow& row) {
  return txn.sql()
      .Exec(absl::StrCat("INSERT INTO referrals (", kReferralColumns,
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            {row.referral_id, int64_t{row.status}, int64_t{row.service},
             int64_t{row.urgency}, row.requester, row.case_id, row.municipality,
             Ms(row.created), Ms(row.updated), Ms(row.acknowledge_by),
             int64_t{row.escalated ? 1 : 0}})
      .status();
}

absl::Status UpdateReferralStatus(WriteTxn& txn, const std::string& referral_id,
                                  sild::v1::ReferralStatus status,
                                  absl::Time updated) {
  return txn.sql()
      .Exec(
          "UPDATE referrals SET status = ?, updated_ms = ? WHERE "
          "referral_id = ?",
          {int64_t{status}, Ms(updated), referral_id})
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
           Ms(row.effective), Ms(row.acknowledge_by),
           int64_t{row.escalated ? 1 : 0}, Ms(row.created), Ms(row.updated)})
      .status();
}

absl::Status UpdateTransitionStatus(WriteTxn& txn, const std::string& id,
                                    sild::v1::AcknowledgementStatus status,
                                    absl::Time updated) {
  return txn.sql()
      .Exec(
          "UPDATE transitions SET status = ?, updated_ms = ? WHERE "
          "transition_id = ?",
          {int64_t{status}, Ms(updated), id})
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
  row.effective = FromMs(r.Int(4));
  row.acknowledge_by = FromMs(r.Int(5));
  row.escalated = r.Int(6) != 0;
  row.created = FromMs(r.Int(7));
  row.updated = FromMs(r.Int(8));
  return row;
}

absl::StatusOr<int64_t> InsertOutbox(WriteTxn& txn, const PayloadCipher& cipher,
                                     const OutboxRow& row) {
  SILD_ASSIGN_OR_RETURN(
      std::string sealed,
      cipher.Seal(row.envelope.SerializeAsString(),
                  DeliveryAad(row.message_id, row.recipient)));
  // RETURNING hands back the new id without a second index lookup.
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      txn.sql().Query(
          "INSERT INTO outbox (message_id, recipient, kind, transport,"
          " state, attempts, last_error, created_ms, next_attempt_ms,"
          " delivered_ms, lease_owner, lease_until_ms, inbox_sent_ms,"
          " redeliveries, permitted, payload)"
          " VALUES (?, ?, ?, ?, ?, 0, '', ?, ?, 0, '', 0, 0, 0, ?, ?)"
          " RETURNING delivery_id",
          {row.message_id, row.recipient, int64_t{row.kind}, row.transport,
           int64_t{sild::v1::DELIVERY_STATE_PENDING}, Ms(txn.now()),
           Ms(txn.now()), int64_t{row.permitted.bits()},
           SqlBlob{std::move(sealed)}}));
  if (rows.empty()) return absl::InternalError("outbox insert returned no id");
  return rows[0].Int(0);
}

absl::StatusOr<std::optional<OutboxRow>> LoadOutboxFor(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& message_id, const std::string& recipient) {
  SILD_ASSIGN_OR_RETURN(
      auto rows, sql.Query(absl::StrCat("SELECT ", kOutboxColumns,
                                        " FROM outbox WHERE message_id = ? AND "
                                        "recipient = ?"),
                           {message_id, recipient}));
  if (rows.empty()) return std::nullopt;
  SILD_ASSIGN_OR_RETURN(OutboxRow row, OutboxFromRow(cipher, rows[0]));
  return row;
}

absl::StatusOr<std::optional<OutboxRow>> LoadOutbox(SqlConnection& sql,
                                                    const PayloadCipher& cipher,
                                                    int64_t delivery_id) {
  SILD_ASSIGN_OR_RETURN(
      auto rows, sql.Query(absl::StrCat("SELECT ", kOutboxColumns,
                                        " FROM outbox WHERE delivery_id = ?"),
                           {delivery_id}));
  if (rows.empty()) return std::nullopt;
  SILD_ASSIGN_OR_RETURN(OutboxRow row, OutboxFromRow(cipher, rows[0]));
  return row;
}

// --- Delivery and deadlines. ---

namespace {

constexpr char kDeliverySummaryColumns[] =
    "delivery_id, message_id, recipient, kind, transport, state, attempts, "
    "last_error, created_ms, next_attempt_ms, delivered_ms, permitted";

OutboxRow DeliverySummaryFromRow(const SqlRow& r) {
  OutboxRow row;
  row.delivery_id = r.Int(0);
  row.message_id = r.Text(1);
  row.recipient = r.Text(2);
  row.kind = static_cast<sild::v1::MessageKind>(r.Int(3));
  row.transport = r.Text(4);
  row.state = static_cast<sild::v1::DeliveryState>(r.Int(5));
  row.attempts = static_cast<int32_t>(r.Int(6));
  row.last_error = r.Text(7);
  row.created = FromMs(r.Int(8));
  row.next_attempt = FromMs(r.Int(9));
  row.delivered = FromMs(r.Int(10));
  row.permitted = CategorySet::FromBits(static_cast<uint32_t>(r.Int(11)));
  return row;
}

// "?, ?, ?" for an IN list.
std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// Queries `ids` in chunks so a statement never holds too many parameters.
constexpr size_t kIdChunk = 256;

absl::StatusOr<std::vector<InboxRow>> InboxRowsFrom(
    const PayloadCipher& cipher, const std::vector<SqlRow>& rows) {
  std::vector<InboxRow> out;
  out.reserve(rows.size());
  for (const SqlRow& r : rows) {
    InboxRow row;
    SILD_ASSIGN_OR_RETURN(row.row, OutboxFromRow(cipher, r));
    row.sends = static_cast<int32_t>(r.Int(13));
    out.push_back(std::move(row));
  }
  return out;
}

TransitionRow TransitionFromRow(const SqlRow& r) {
  TransitionRow row;
  row.transition_id = r.Text(0);
  row.sender = r.Text(1);
  row.recipient = r.Text(2);
  row.status = static_cast<sild::v1::AcknowledgementStatus>(r.Int(3));
  row.effective = FromMs(r.Int(4));
  row.acknowledge_by = FromMs(r.Int(5));
  row.escalated = r.Int(6) != 0;
  row.created = FromMs(r.Int(7));
  row.updated = FromMs(r.Int(8));
  return row;
}

}  // namespace

absl::StatusOr<std::vector<OutboxRow>> ClaimDueDeliveries(
    WriteTxn& txn, const PayloadCipher& cipher, const std::string& owner,
    absl::Time lease_until, int limit) {
  int64_t now = Ms(txn.now());
  std::string select = absl::StrCat(
      "SELECT ", kOutboxColumns, " FROM outbox WHERE ", PushQueuePredicate(),
      " AND next_attempt_ms <= ? AND lease_until_ms <= ?"
      " ORDER BY next_attempt_ms, delivery_id LIMIT ?");
  if (txn.sql().backend() == "postgres") select += " FOR UPDATE SKIP LOCKED";
  SILD_ASSIGN_OR_RETURN(auto rows,
                        txn.sql().Query(select, {now, now, int64_t{limit}}));
  std::vector<OutboxRow> claimed;
  for (const SqlRow& r : rows) {
    SILD_ASSIGN_OR_RETURN(OutboxRow row, OutboxFromRow(cipher, r));
    SILD_ASSIGN_OR_RETURN(
        int64_t changed,
        txn.sql().Exec("UPDATE outbox SET lease_owner = ?, lease_until_ms = ?"
                       " WHERE delivery_id = ? AND state = ? AND"
                       " lease_until_ms <= ?",
                       {owner, Ms(lease_until), row.delivery_id,
                        int64_t{sild::v1::DELIVERY_STATE_PENDING}, now}));
    if (changed == 1) claimed.push_back(std::move(row));
  }
  return claimed;
}

absl::Status ReleaseDeliveryLease(WriteTxn& txn, int64_t delivery_id,
                                  const std::string& owner) {
  return txn.sql()
      .Exec(
          "UPDATE outbox SET lease_owner = '', lease_until_ms = 0"
          " WHERE delivery_id = ? AND lease_owner = ?",
          {delivery_id, owner})
      .status();
}

absl::StatusOr<std::optional<absl::Time>> NextDueDelivery(SqlConnection& sql) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query(absl::StrCat("SELECT MIN(CASE WHEN lease_until_ms > "
                             "next_attempt_ms THEN lease_until_ms ELSE "
                             "next_attempt_ms END) FROM outbox WHERE ",
                             PushQueuePredicate()),
                {}));
  if (rows.empty() || rows[0].IsNull(0)) return std::nullopt;
  return absl::FromUnixMillis(rows[0].Int(0));
}

absl::StatusOr<bool> MarkDelivered(WriteTxn& txn, int64_t delivery_id) {
  SILD_ASSIGN_OR_RETURN(
      int64_t changed,
      txn.sql().Exec(
          "UPDATE outbox SET state = ?, delivered_ms = ?,"
          " lease_owner = '', lease_until_ms = 0"
          " WHERE delivery_id = ? AND state = ?",
          {int64_t{sild::v1::DELIVERY_STATE_DELIVERED}, Ms(txn.now()),
           delivery_id, int64_t{sild::v1::DELIVERY_STATE_PENDING}}));
  return changed == 1;
}

absl::StatusOr<bool> RecordFailedAttempt(WriteTxn& txn, int64_t delivery_id,
                                         const std::string& owner,
                                         int32_t attempts,
                                         absl::Time next_attempt,
                                         const std::string& error, bool dead) {
  SILD_ASSIGN_OR_RETURN(
      int64_t changed,
      txn.sql().Exec(
          "UPDATE outbox SET state = ?, attempts = ?, next_attempt_ms = ?,"
          " last_error = ?, lease_owner = '', lease_until_ms = 0"
          " WHERE delivery_id = ? AND state = ? AND lease_owner = ?",
          {int64_t{dead ? sild::v1::DELIVERY_STATE_DEAD
                        : sild::v1::DELIVERY_STATE_PENDING},
           int64_t{attempts}, Ms(next_attempt), error, delivery_id,
           int64_t{sild::v1::DELIVERY_STATE_PENDING}, owner}));
  return changed == 1;
}

absl::StatusOr<std::vector<InboxRow>> LoadInboxRows(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& recipient, int64_t after_id, int limit) {
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query(absl::StrCat("SELECT ", kOutboxColumns,
                             ", redeliveries FROM outbox WHERE recipient = ?"
                             " AND state = ? AND transport = ? AND"
                             " delivery_id > ? ORDER BY delivery_id LIMIT ?"),
                {recipient, int64_t{sild::v1::DELIVERY_STATE_PENDING},
                 std::string(kGrpcInboxTransport), after_id, int64_t{limit}}));
  return InboxRowsFrom(cipher, rows);
}

absl::StatusOr<std::vector<InboxRow>> LoadPendingInboxRowsById(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& recipient, const std::vector<int64_t>& ids) {
  std::vector<InboxRow> out;
  for (size_t i = 0; i < ids.size(); i += kIdChunk) {
    size_t n = std::min(kIdChunk, ids.size() - i);
    std::vector<SqlValue> params = {recipient,
                                    int64_t{sild::v1::DELIVERY_STATE_PENDING},
                                    std::string(kGrpcInboxTransport)};
    for (size_t j = 0; j < n; ++j) params.emplace_back(ids[i + j]);
    SILD_ASSIGN_OR_RETURN(
        auto rows,
        sql.Query(absl::StrCat("SELECT ", kOutboxColumns,
                               ", redeliveries FROM outbox WHERE recipient = ?"
                               " AND state = ? AND transport = ? AND"
                               " delivery_id IN (",
                               Placeholders(n), ") ORDER BY delivery_id"),
                  params));
    SILD_ASSIGN_OR_RETURN(auto chunk, InboxRowsFrom(cipher, rows));
    for (auto& row : chunk) out.push_back(std::move(row));
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> StillPendingDeliveries(
    SqlConnection& sql, const std::vector<int64_t>& ids) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < ids.size(); i += kIdChunk) {
    size_t n = std::min(kIdChunk, ids.size() - i);
    std::vector<SqlValue> params = {int64_t{sild::v1::DELIVERY_STATE_PENDING}};
    for (size_t j = 0; j < n; ++j) params.emplace_back(ids[i + j]);
    SILD_ASSIGN_OR_RETURN(
        auto rows,
        sql.Query(absl::StrCat("SELECT delivery_id FROM outbox WHERE state = ?"
                               " AND delivery_id IN (",
                               Placeholders(n), ")"),
                  params));
    for (const auto& r : rows) out.push_back(r.Int(0));
  }
  return out;
}

absl::Status MarkInboxSent(WriteTxn& txn, const std::vector<int64_t>& ids) {
  for (size_t i = 0; i < ids.size(); i += kIdChunk) {
    size_t n = std::min(kIdChunk, ids.size() - i);
    std::vector<SqlValue> params = {Ms(txn.now()),
                                    int64_t{sild::v1::DELIVERY_STATE_PENDING}};
    for (size_t j = 0; j < n; ++j) params.emplace_back(ids[i + j]);
    SILD_RETURN_IF_ERROR(
        txn.sql()
            .Exec(absl::StrCat("UPDATE outbox SET inbox_sent_ms = ?,"
                               " redeliveries = redeliveries + 1"
                               " WHERE state = ? AND delivery_id IN (",
                               Placeholders(n), ")"),
                  params)
            .status());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<OutboxRow>> ListDeliveries(
    SqlConnection& sql, const DeliveryFilter& filter) {
  std::string query = absl::StrCat("SELECT ", kDeliverySummaryColumns,
                                   " FROM outbox WHERE delivery_id > ?");
  std::vector<SqlValue> params = {filter.after_id};
  if (filter.state != sild::v1::DELIVERY_STATE_UNSPECIFIED) {
    query += " AND state = ?";
    params.emplace_back(int64_t{filter.state});
  }
  if (!filter.recipient.empty()) {
    query += " AND recipient = ?";
    params.emplace_back(filter.recipient);
  }
  query += " ORDER BY delivery_id LIMIT ?";
  params.emplace_back(int64_t{filter.limit});
  SILD_ASSIGN_OR_RETURN(auto rows, sql.Query(query, params));
  std::vector<OutboxRow> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(DeliverySummaryFromRow(r));
  return out;
}

absl::Status ResetForReplay(WriteTxn& txn, const PayloadCipher& cipher,
                            const OutboxRow& row) {
  SILD_ASSIGN_OR_RETURN(
      std::string sealed,
      cipher.Seal(row.envelope.SerializeAsString(),
                  DeliveryAad(row.message_id, row.recipient)));
  return txn.sql()
      .Exec(
          "UPDATE outbox SET state = ?, attempts = 0, last_error = '',"
          " next_attempt_ms = ?, lease_owner = '', lease_until_ms = 0,"
          " transport = ?, permitted = ?, payload = ? WHERE delivery_id = ?",
          {int64_t{sild::v1::DELIVERY_STATE_PENDING}, Ms(txn.now()),
           row.transport, int64_t{row.permitted.bits()},
           SqlBlob{std::move(sealed)}, row.delivery_id})
      .status();
}

absl::Status MarkRefusedOnReplay(WriteTxn& txn, int64_t delivery_id,
                                 const std::string& reason) {
  return txn.sql()
      .Exec(
          "UPDATE outbox SET state = ?, last_error = ?, lease_owner = '',"
          " lease_until_ms = 0 WHERE delivery_id = ?",
          {int64_t{sild::v1::DELIVERY_STATE_REFUSED_ON_REPLAY}, reason,
           delivery_id})
      .status();
}

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
  row.created = FromMs(r.Int(7));
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
      sql.Query(absl::StrCat("SELECT ", kReferralColumns,
                             " FROM referrals WHERE escalated = 0 AND"
                             " acknowledge_by_ms > 0 AND acknowledge_by_ms <= ?"
                             " AND status = ? ORDER BY acknowledge_by_ms,"
                             " referral_id LIMIT ?"),
                {Ms(now), int64_t{sild::v1::REFERRAL_STATUS_SUBMITTED},
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
      sql.Query("SELECT transition_id, sender, recipient, status,"
                " effective_ms, acknowledge_by_ms, escalated, created_ms,"
                " updated_ms FROM transitions WHERE escalated = 0 AND"
                " acknowledge_by_ms > 0 AND acknowledge_by_ms <= ? AND"
                " status = ? ORDER BY acknowledge_by_ms, transition_id"
                " LIMIT ?",
                {Ms(now), int64_t{sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING},
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
