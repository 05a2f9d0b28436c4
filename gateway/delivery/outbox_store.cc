#include "gateway/delivery/outbox_store.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"
#include "gateway/store/time_columns.h"

namespace sild::delivery {
namespace {

std::string DeliveryAad(const std::string& message_id,
                        const std::string& recipient) {
  return absl::StrCat("delivery:", message_id, ":", recipient);
}

constexpr char kOutboxColumns[] =
    "delivery_id, message_id, recipient, kind, transport, state, attempts, "
    "last_error, created_ms, next_attempt_ms, delivered_ms, permitted, "
    "payload";

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
  row.created = TimeFromMillisColumn(r.Int(8));
  row.next_attempt = TimeFromMillisColumn(r.Int(9));
  row.delivered = TimeFromMillisColumn(r.Int(10));
  row.permitted = CategorySet::FromBits(static_cast<uint32_t>(r.Int(11)));
  return row;
}

// A full row (kOutboxColumns): the summary and its unsealed envelope.
absl::StatusOr<OutboxRow> OutboxFromRow(const PayloadCipher& cipher,
                                        const SqlRow& r) {
  OutboxRow row = DeliverySummaryFromRow(r);
  SILD_ASSIGN_OR_RETURN(
      row.envelope,
      OpenSealedEnvelope(cipher, r.Bytes(12),
                         DeliveryAad(row.message_id, row.recipient)));
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

}  // namespace

absl::StatusOr<sild::v1::Envelope> OpenSealedEnvelope(
    const PayloadCipher& cipher, const std::string& sealed,
    const std::string& aad) {
  SILD_ASSIGN_OR_RETURN(std::string bytes, cipher.Open(sealed, aad));
  sild::v1::Envelope envelope;
  if (!envelope.ParseFromString(bytes)) {
    return MakeError(absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT", "",
                     "a stored message cannot be parsed");
  }
  return envelope;
}

// Rows the delivery workers push: pending and not pulled through the gRPC
// inbox. Written with literals, not parameters, so the partial index
// outbox_push_due (same predicate) serves the workers' queries: a backlog
// of inbox rows nobody fetched yet costs them nothing.
std::string PushQueuePredicate() {
  return absl::StrCat("state = ", int{sild::v1::DELIVERY_STATE_PENDING},
                      " AND transport <> '", kGrpcInboxTransport, "'");
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
           int64_t{sild::v1::DELIVERY_STATE_PENDING}, MillisColumn(txn.now()),
           MillisColumn(txn.now()), int64_t{row.permitted.bits()},
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

absl::StatusOr<std::vector<OutboxRow>> ClaimDueDeliveries(
    WriteTxn& txn, const PayloadCipher& cipher, const std::string& owner,
    absl::Time lease_until, int limit) {
  int64_t now = MillisColumn(txn.now());
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
                       {owner, MillisColumn(lease_until), row.delivery_id,
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
          {int64_t{sild::v1::DELIVERY_STATE_DELIVERED}, MillisColumn(txn.now()),
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
           int64_t{attempts}, MillisColumn(next_attempt), error, delivery_id,
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
    std::vector<SqlValue> params = {MillisColumn(txn.now()),
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
          {int64_t{sild::v1::DELIVERY_STATE_PENDING}, MillisColumn(txn.now()),
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

}  // namespace sild::delivery
