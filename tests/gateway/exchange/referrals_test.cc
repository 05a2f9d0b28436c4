// The referral domain operations on a real store, audit log and Dispatch,
// without gRPC (ExchangeContext from DeliveryTestEnv, decisions steered by
// the test): a status change goes through the one submit path, so a retry
// with its idempotency key returns the first receipt, a reused key is
// refused, a failed change leaves no key behind, and a change stands (and
// is sent in its operational form) when every decision denies.
#include "gateway/exchange/referrals.h"

#include "gateway/base/errors.h"
#include "gateway/exchange/exchange_store.h"
#include "gateway/exchange/validation.h"
#include "gtest/gtest.h"
#include "tests/gateway/delivery/delivery_test_env.h"
#include "tests/gateway/delivery/inbox_test_util.h"
#include "tests/gateway/exchange/domain_test_util.h"

namespace sild::exchange {
namespace {

using sild::v1::ReferralStatus;
using testing::DeliveryTestEnv;
using testing::kSchoolCode;
using testing::kSocialCode;
using testing::kUifCode;

class ReferralsTest : public ::testing::Test {
 protected:
  ReferralsTest()
      : env_("referrals-domain"), router_(&env_.config(), &env_.directory()) {}

  Actor As(const std::string& registry_code) {
    return {env_.directory().FindByRegistryCode(registry_code), "pro-1"};
  }

  absl::StatusOr<SubmitOutcome> Submit(const std::string& key) {
    return Await([&](SubmitDone done) {
      SubmitReferral(env_.context(), router_, As(kSchoolCode),
                     testing::SupportReferral(key), std::move(done));
    });
  }

  // The id of a fresh referral school -> social services.
  std::string Submitted() {
    auto outcome = Submit("r-1");
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) return "";
    EXPECT_FALSE(outcome->refused);
    return outcome->receipt.message_id();
  }

  absl::StatusOr<SubmitOutcome> Change(const std::string& who,
                                       const std::string& id,
                                       ReferralStatus status,
                                       const std::string& key,
                                       const std::string& note = "") {
    sild::v1::UpdateReferralStatusRequest request;
    request.set_referral_id(id);
    request.set_status(status);
    request.set_idempotency_key(key);
    request.set_note(note);
    return Await([&](SubmitDone done) {
      ChangeReferralStatus(env_.context(), router_, As(who), request,
                           std::move(done));
    });
  }

  ReferralStatus StoredStatus(const std::string& id) {
    ReferralStatus status = sild::v1::REFERRAL_STATUS_UNSPECIFIED;
    absl::Status read =
        env_.store()->Read([&](SqlConnection& sql) -> absl::Status {
          auto row = LoadReferral(sql, id);
          if (!row.ok()) return row.status();
          if (*row) status = (*row)->status;
          return absl::OkStatus();
        });
    EXPECT_TRUE(read.ok()) << read;
    return status;
  }

  int HistorySize(const std::string& id) {
    int size = -1;
    absl::Status read =
        env_.store()->Read([&](SqlConnection& sql) -> absl::Status {
          auto message = LoadMessage(sql, env_.store()->cipher(), id);
          if (!message.ok()) return message.status();
          if (*message) size = (*message)->envelope.referral().history_size();
          return absl::OkStatus();
        });
    EXPECT_TRUE(read.ok()) << read;
    return size;
  }

  size_t StatusChanges() {
    return env_.Records(sild::v1::AUDIT_ACTION_STATUS_CHANGE).size();
  }

  DeliveryTestEnv env_;
  Router router_;
};

TEST_F(ReferralsTest, RetriedStatusChangeReturnsTheFirstReceipt) {
  const std::string id = Submitted();
  auto first =
      Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_RECEIVED, "s-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->receipt.duplicate());
  // The lifecycle would refuse RECEIVED -> RECEIVED: the key is looked up
  // before the state is.
  auto retry =
      Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_RECEIVED, "s-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->refused);
  EXPECT_TRUE(retry->receipt.duplicate());
  EXPECT_EQ(retry->receipt.message_id(), first->receipt.message_id());
  EXPECT_EQ(retry->receipt.audit_sequence(), first->receipt.audit_sequence());
  EXPECT_EQ(retry->receipt.audit_record_hash(),
            first->receipt.audit_record_hash());
  // The change happened once.
  EXPECT_EQ(StoredStatus(id), sild::v1::REFERRAL_STATUS_RECEIVED);
  EXPECT_EQ(HistorySize(id), 2);
  EXPECT_EQ(StatusChanges(), 1u);
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM messages WHERE kind = ?",
                          {int64_t{sild::v1::MESSAGE_KIND_REFERRAL_STATUS}}),
            1);
}

TEST_F(ReferralsTest, KeyReusedForAnotherChangeIsRefused) {
  const std::string id = Submitted();
  ASSERT_TRUE(
      Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_RECEIVED, "s-1").ok());
  auto reused =
      Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_ACCEPTED, "s-1");
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorReason(reused.status()), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(ErrorField(reused.status()), "idempotency_key");
  EXPECT_EQ(StoredStatus(id), sild::v1::REFERRAL_STATUS_RECEIVED);
  EXPECT_EQ(StatusChanges(), 1u);
  // Keys are per sender: the requester may use the same one.
  auto withdrawn =
      Change(kSchoolCode, id, sild::v1::REFERRAL_STATUS_WITHDRAWN, "s-1");
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_FALSE(withdrawn->receipt.duplicate());
  EXPECT_EQ(StoredStatus(id), sild::v1::REFERRAL_STATUS_WITHDRAWN);
}

TEST_F(ReferralsTest, RefusedChangeLeavesNoKeyAndNoTrace) {
  const std::string id = Submitted();
  const size_t records = env_.Records().size();
  auto skipped =
      Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_COMPLETED, "s-1");
  ASSERT_FALSE(skipped.ok());
  EXPECT_EQ(ErrorReason(skipped.status()), "INVALID_TRANSITION");
  auto stranger =
      Change(kUifCode, id, sild::v1::REFERRAL_STATUS_RECEIVED, "s-2");
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReason(stranger.status()), "REFERRAL_NOT_FOUND");
  EXPECT_EQ(env_.Records().size(), records);
  // The key of the failed change is still free, for a different request.
  auto received =
      Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_RECEIVED, "s-1");
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_FALSE(received->receipt.duplicate());
}

TEST_F(ReferralsTest, ChangeStandsAndIsSentOperationallyWhenDecisionsDeny) {
  const std::string id = Submitted();
  env_.set_allow(false);
  auto accepted = Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_ACCEPTED,
                         "s-1", "first meeting on Monday");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_FALSE(accepted->refused);
  ASSERT_EQ(accepted->receipt.recipients_size(), 1);
  EXPECT_EQ(accepted->receipt.recipients(0).recipient().registry_code(),
            kSchoolCode);
  EXPECT_FALSE(accepted->receipt.recipients(0).allowed());
  EXPECT_EQ(StoredStatus(id), sild::v1::REFERRAL_STATUS_ACCEPTED);
  // The receipt names the status change's audit record.
  auto changes = env_.Records(sild::v1::AUDIT_ACTION_STATUS_CHANGE);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(accepted->receipt.audit_sequence(), changes[0].sequence());
  EXPECT_EQ(accepted->receipt.audit_record_hash(), changes[0].record_hash());
  EXPECT_EQ(changes[0].reason_code(), "REFERRAL_STATUS_ACCEPTED");
  // The requester still hears of it.
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM outbox WHERE recipient = ? "
                          "AND kind = ?",
                          {std::string(kSchoolCode),
                           int64_t{sild::v1::MESSAGE_KIND_REFERRAL_STATUS}}),
            1);
}

TEST_F(ReferralsTest, StatusChangeInputIsCheckedBeforeTheWrite) {
  const std::string id = Submitted();
  auto no_reason =
      Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_REJECTED, "s-1");
  ASSERT_FALSE(no_reason.ok());
  EXPECT_EQ(ErrorReason(no_reason.status()), "MISSING_REJECTION_REASON");
  EXPECT_EQ(ErrorField(no_reason.status()), "rejection_reason");
  auto long_note = Change(kSocialCode, id, sild::v1::REFERRAL_STATUS_RECEIVED,
                          "s-1", std::string(kMaxFreeTextBytes + 1, 'x'));
  ASSERT_FALSE(long_note.ok());
  EXPECT_EQ(ErrorReason(long_note.status()), "TEXT_TOO_LONG");
  EXPECT_EQ(ErrorField(long_note.status()), "note");
}

TEST_F(ReferralsTest, RefusedSubmitKeepsItsKeyFree) {
  env_.set_allow(false);
  auto refused = Submit("r-1");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(refused->refused);
  EXPECT_EQ(refused->refusal_reason, "CONSENT_WITHDRAWN");
  absl::Status status = OutcomeStatus(refused);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(status), "CONSENT_WITHDRAWN");
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM referrals"), 0);

  env_.set_allow(true);
  auto accepted = Submit("r-1");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_FALSE(accepted->refused);
  EXPECT_FALSE(accepted->receipt.duplicate());
  EXPECT_NE(accepted->receipt.message_id(), refused->receipt.message_id());
  auto retry = Submit("r-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->receipt.duplicate());
  EXPECT_EQ(retry->receipt.message_id(), accepted->receipt.message_id());
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM referrals"), 1);
}

}  // namespace
}  // namespace sild::exchange
