// The outbox and the gRPC inbox: the delivery half of the exchange's
// tables (the tables themselves are created by the exchange's migrations,
// exchange_store.h). One outbox row per (message, recipient) holds the
// envelope already minimised for that recipient, sealed with the store's
// PayloadCipher and bound to "delivery:<message id>:<recipient>".
//
// Intake queues rows (InsertOutbox, through the disclosure step); the
// delivery workers claim, deliver and record them; the gRPC inbox serves the
// rows of agencies that pull; operators list and replay dead letters. All
// writes take a WriteTxn (they commit with the audit records of the same
// request), all reads a SqlConnection from Store::Read or a WriteTxn.
// Thread-compatible free functions.
#ifndef SILD_GATEWAY_DELIVERY_OUTBOX_STORE_H_
#define SILD_GATEWAY_DELIVERY_OUTBOX_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/minimise/category_set.h"
#include "gateway/store/group_commit.h"
#include "gateway/store/payload_cipher.h"
#include "sild/v1/delivery_service.pb.h"
#include "sild/v1/exchange.pb.h"

namespace sild::delivery {

// The outbox: one row per (message, recipient), holding the envelope already
// minimised for that recipient.
struct OutboxRow {
  int64_t delivery_id = 0;
  std::string message_id;
  std::string recipient;
  sild::v1::MessageKind kind = sild::v1::MESSAGE_KIND_UNSPECIFIED;
  // Transport name ("grpc-inbox", "file", ...).
  std::string transport;
  sild::v1::DeliveryState state = sild::v1::DELIVERY_STATE_PENDING;
  int32_t attempts = 0;
  std::string last_error;
  absl::Time created;
  absl::Time next_attempt;
  absl::Time delivered = absl::InfinitePast();
  // The categories the recipient's decision permitted (for re-projection of
  // later status history and for replay).
  CategorySet permitted;
  sild::v1::Envelope envelope;
};
// Inserts a PENDING row; returns its delivery id. A second row for the same
// (message, recipient) is refused (ALREADY_EXISTS).
absl::StatusOr<int64_t> InsertOutbox(WriteTxn& txn, const PayloadCipher& cipher,
                                     const OutboxRow& row);
// The row a recipient received for a message, if any.
absl::StatusOr<std::optional<OutboxRow>> LoadOutboxFor(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& message_id, const std::string& recipient);
absl::StatusOr<std::optional<OutboxRow>> LoadOutbox(SqlConnection& sql,
                                                    const PayloadCipher& cipher,
                                                    int64_t delivery_id);

// The transport of agencies that pull their messages over gRPC.
inline constexpr char kGrpcInboxTransport[] = "grpc-inbox";

// Claims up to `limit` due rows of push transports (every transport but the
// gRPC inbox): PENDING, next_attempt <= txn.now() and no live lease. The
// claim sets lease_owner/lease_until; rows come back with their envelopes.
// On PostgreSQL the select takes FOR UPDATE SKIP LOCKED so replicas never
// claim the same row; SQLite's single writer serialises claims.
absl::StatusOr<std::vector<OutboxRow>> ClaimDueDeliveries(
    WriteTxn& txn, const PayloadCipher& cipher, const std::string& owner,
    absl::Time lease_until, int limit);
// Hands a claimed row back (its lease ends now) if `owner` still holds it.
absl::Status ReleaseDeliveryLease(WriteTxn& txn, int64_t delivery_id,
                                  const std::string& owner);
// When the next push row becomes due (the later of next_attempt and its
// lease); nullopt when there is none.
absl::StatusOr<std::optional<absl::Time>> NextDueDelivery(SqlConnection& sql);
// PENDING -> DELIVERED at txn.now(), lease cleared. False (and nothing
// changed) when the row is not PENDING: someone recorded it first.
absl::StatusOr<bool> MarkDelivered(WriteTxn& txn, int64_t delivery_id);
// Records a failed attempt of `owner`'s claim: attempts, last error and the
// next attempt, and DEAD when `dead`. False when `owner` no longer holds the
// row (its lease expired and another worker took it).
absl::StatusOr<bool> RecordFailedAttempt(WriteTxn& txn, int64_t delivery_id,
                                         const std::string& owner,
                                         int32_t attempts,
                                         absl::Time next_attempt,
                                         const std::string& error, bool dead);

// A gRPC inbox row and how often it was handed to a stream before.
struct InboxRow {
  OutboxRow row;
  int32_t sends = 0;
};
// The recipient's PENDING gRPC inbox rows after `after_id`, oldest first.
absl::StatusOr<std::vector<InboxRow>> LoadInboxRows(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& recipient, int64_t after_id, int limit);
// Those of `ids` that are still PENDING rows of the recipient's inbox.
absl::StatusOr<std::vector<InboxRow>> LoadPendingInboxRowsById(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& recipient, const std::vector<int64_t>& ids);
// Those of `ids` that are still PENDING (ids only, no payloads).
absl::StatusOr<std::vector<int64_t>> StillPendingDeliveries(
    SqlConnection& sql, const std::vector<int64_t>& ids);
// Counts a hand-over to an inbox stream (redelivery hints survive restarts).
absl::Status MarkInboxSent(WriteTxn& txn, const std::vector<int64_t>& ids);

struct DeliveryFilter {
  // UNSPECIFIED: any state.
  sild::v1::DeliveryState state = sild::v1::DELIVERY_STATE_UNSPECIFIED;
  // Empty: any recipient.
  std::string recipient;
  // Keyset cursor: rows with delivery_id > after_id, oldest first.
  int64_t after_id = 0;
  int limit = 50;
};
// Rows without their envelopes (nothing is unsealed for a listing).
absl::StatusOr<std::vector<OutboxRow>> ListDeliveries(
    SqlConnection& sql, const DeliveryFilter& filter);
// A replayed dead letter: PENDING again, due now, attempts reset; stores the
// row's (re-minimised) envelope, permitted categories and transport.
absl::Status ResetForReplay(WriteTxn& txn, const PayloadCipher& cipher,
                            const OutboxRow& row);
// A replayed dead letter whose decision no longer allows it.
absl::Status MarkRefusedOnReplay(WriteTxn& txn, int64_t delivery_id,
                                 const std::string& reason);

// The SQL predicate of the rows the delivery workers push (pending, not
// pulled through the gRPC inbox); the exchange's push-queue index is
// partial on the same predicate.
std::string PushQueuePredicate();

// Unseals an envelope stored under `aad`; DATA_LOSS PAYLOAD_CORRUPT when it
// does not parse.
absl::StatusOr<sild::v1::Envelope> OpenSealedEnvelope(
    const PayloadCipher& cipher, const std::string& sealed,
    const std::string& aad);

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_OUTBOX_STORE_H_
