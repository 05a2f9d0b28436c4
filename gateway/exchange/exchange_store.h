// The exchange's tables and the repository functions over them. Used by the
// referral, transition, inbox and delivery code; all writes take a WriteTxn
// (so they commit with the audit records of the same request), all reads a
// SqlConnection from Store::Read or a WriteTxn.
//
// Payloads are sealed with the store's PayloadCipher; the associated data
// binds each to its row ("message:<id>", "delivery:<message id>:<recipient>").
// Subjects appear only as pseudonyms.
#ifndef SILD_GATEWAY_EXCHANGE_EXCHANGE_STORE_H_
#define SILD_GATEWAY_EXCHANGE_EXCHANGE_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/store/group_commit.h"
#include "gateway/store/migrations.h"
#include "gateway/store/payload_cipher.h"
#include "sild/v1/delivery_service.pb.h"
#include "sild/v1/exchange.pb.h"

namespace sild::exchange {

// Schema version 4.
Migration Schema();
// Schema() and the later exchange migrations, in order.
std::vector<Migration> Schemas();

// Party roles in message_parties.
inline constexpr char kRoleSender[] = "sender";
inline constexpr char kRoleRecipient[] = "recipient";
inline constexpr char kRoleCaseManager[] = "case_manager";

struct MessageRow {
  std::string message_id;
  sild::v1::MessageKind kind = sild::v1::MESSAGE_KIND_UNSPECIFIED;
  std::string sender;
  std::string case_id;
  std::string subject_pseudonym;
  sild::v1::Purpose purpose = sild::v1::PURPOSE_UNSPECIFIED;
  std::string in_reply_to;
  absl::Time created;
  // The message as accepted (header normalised by the gateway).
  sild::v1::Envelope envelope;
};

// The message's envelope as the messages table keeps it (sealed, bound to
// the message id); sealing ahead keeps the cipher off the writer thread.
absl::StatusOr<std::string> SealMessageEnvelope(
    const PayloadCipher& cipher, const std::string& message_id,
    const sild::v1::Envelope& envelope);
// Inserts the message row with its envelope already sealed (row.envelope is
// not read).
absl::Status InsertSealedMessage(WriteTxn& txn, const MessageRow& row,
                                 std::string sealed_envelope);
absl::Status UpdateMessageEnvelope(WriteTxn& txn, const PayloadCipher& cipher,
                                   const std::string& message_id,
                                   const sild::v1::Envelope& envelope);
absl::StatusOr<std::optional<MessageRow>> LoadMessage(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& message_id);

struct Party {
  std::string registry_code;
  const char* role;
};
// Several parties in one statement (one round trip, one index descent).
absl::Status AddParties(WriteTxn& txn, const std::string& message_id,
                        const std::vector<Party>& parties);
// Roles `registry_code` has on the message (empty: not a party).
absl::StatusOr<std::vector<std::string>> PartyRoles(
    SqlConnection& sql, const std::string& message_id,
    const std::string& registry_code);

// Idempotency: (sender, key) -> request hash and the receipt given.
struct IdempotencyRecord {
  std::string request_hash;
  sild::v1::Receipt receipt;
};
absl::StatusOr<std::optional<IdempotencyRecord>> FindIdempotencyKey(
    SqlConnection& sql, const std::string& sender, const std::string& key);
absl::Status InsertIdempotencyKey(WriteTxn& txn, const std::string& sender,
                                  const std::string& key,
                                  const std::string& request_hash,
                                  const sild::v1::Receipt& receipt);

// Referral state kept beside the message.
struct ReferralRow {
  std::string referral_id;
  sild::v1::ReferralStatus status = sild::v1::REFERRAL_STATUS_UNSPECIFIED;
  sild::v1::ServiceType service = sild::v1::SERVICE_TYPE_UNSPECIFIED;
  sild::v1::Urgency urgency = sild::v1::URGENCY_UNSPECIFIED;
  std::string requester;
  std::string case_id;
  std::string municipality;
  absl::Time created;
  absl::Time updated;
  // When the recipient must have acknowledged; InfinitePast() = no deadline.
  absl::Time acknowledge_by = absl::InfinitePast();
  bool escalated = false;
};
absl::Status InsertReferral(WriteTxn& txn, const ReferralRow& row);
absl::Status UpdateReferralStatus(WriteTxn& txn, const std::string& referral_id,
                                  sild::v1::ReferralStatus status,
                                  absl::Time updated);
absl::StatusOr<std::optional<ReferralRow>> LoadReferral(
    SqlConnection& sql, const std::string& referral_id);

struct ReferralListFilter {
  std::string agency;
  // Empty: any role.
  std::string role;
  sild::v1::ReferralStatus status = sild::v1::REFERRAL_STATUS_UNSPECIFIED;
  std::string case_id;
  int limit = 100;
  // Keyset cursor: rows created before (created_ms, referral_id).
  int64_t before_created_ms = 0;
  std::string before_id;
};
absl::StatusOr<std::vector<ReferralRow>> ListReferrals(
    SqlConnection& sql, const ReferralListFilter& filter);

// Transition state kept beside the message.
struct TransitionRow {
  std::string transition_id;
  std::string sender;
  std::string recipient;
  sild::v1::AcknowledgementStatus status =
      sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING;
  absl::Time effective;
  absl::Time acknowledge_by;
  bool escalated = false;
  absl::Time created;
  absl::Time updated;
};
absl::Status InsertTransition(WriteTxn& txn, const TransitionRow& row);
absl::Status UpdateTransitionStatus(WriteTxn& txn, const std::string& id,
                                    sild::v1::AcknowledgementStatus status,
                                    absl::Time updated);
absl::StatusOr<std::optional<TransitionRow>> LoadTransition(
    SqlConnection& sql, const std::string& transition_id);

// Mints a time-ordered UUID v7: the creation millisecond, then random bits
// (OpenSSL's RAND_bytes); the last 12 hex digits are all random.
std::string NewUuid();

// --- Delivery (delivery_workers.h, inbox_service.h, delivery_service.h):
// the outbox half lives in gateway/delivery/outbox_store.h. ---

// The message row without its payload (nothing is unsealed).
absl::StatusOr<std::optional<MessageRow>> LoadMessageSummary(
    SqlConnection& sql, const std::string& message_id);
// Registry codes that have `role` on the message, sorted.
absl::StatusOr<std::vector<std::string>> PartiesWithRole(
    SqlConnection& sql, const std::string& message_id, const char* role);

// --- Deadlines (deadline_scanner.h). ---

// SUBMITTED referrals whose acknowledge_by is at or before `now`, not yet
// escalated, oldest deadline first.
absl::StatusOr<std::vector<ReferralRow>> OverdueReferrals(SqlConnection& sql,
                                                          absl::Time now,
                                                          int limit);
// Marks a referral escalated if it is still SUBMITTED and not escalated;
// false otherwise (acknowledged meanwhile, or escalated already).
absl::StatusOr<bool> MarkReferralEscalated(WriteTxn& txn,
                                           const std::string& referral_id);
// PENDING transitions past acknowledge_by, not yet escalated.
absl::StatusOr<std::vector<TransitionRow>> OverdueTransitions(
    SqlConnection& sql, absl::Time now, int limit);
absl::StatusOr<bool> MarkTransitionEscalated(WriteTxn& txn,
                                             const std::string& transition_id);

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_EXCHANGE_STORE_H_
