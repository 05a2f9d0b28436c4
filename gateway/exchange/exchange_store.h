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
#include "gateway/minimise/category_set.h"
#include "gateway/store/group_commit.h"
#include "gateway/store/migrations.h"
#include "gateway/store/payload_cipher.h"
#include "sild/v1/delivery_service.pb.h"
#include "sild/v1/exchange.pb.h"

namespace sild::exchange {

// Schema version 4.
Migration Schema();

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

absl::Status InsertMessage(WriteTxn& txn, const PayloadCipher& cipher,
                           const MessageRow& row);
absl::Status UpdateMessageEnvelope(WriteTxn& txn, const PayloadCipher& cipher,
                                   const std::string& message_id,
                                   const sild::v1::Envelope& envelope);
absl::StatusOr<std::optional<MessageRow>> LoadMessage(
    SqlConnection& sql, const PayloadCipher& cipher,
    const std::string& message_id);

absl::Status AddParty(WriteTxn& txn, const std::string& message_id,
                      const std::string& registry_code, const char* role);
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

// Mints a random UUID v4 (OpenSSL's RAND_bytes).
std::string NewUuid();

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_EXCHANGE_STORE_H_
