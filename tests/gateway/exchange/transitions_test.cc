// The transition domain operations on a real store, audit log and Dispatch,
// without gRPC (ExchangeContext from DeliveryTestEnv, decisions steered by
// the test): an acknowledgement goes through the one submit path, so a
// retry with its idempotency key returns the first receipt, a reused key is
// refused, and only the receiver acknowledges, once.
#include "gateway/exchange/transitions.h"

#include "gateway/base/errors.h"
#include "gateway/exchange/exchange_store.h"
#include "gtest/gtest.h"
#include "tests/gateway/delivery/delivery_test_env.h"
#include "tests/gateway/exchange/domain_test_util.h"

namespace sild::exchange {
namespace {

using sild::v1::AcknowledgementStatus;
using testing::DeliveryTestEnv;
using testing::kSchoolCode;
using testing::kUifCode;

class TransitionsTest : public ::testing::Test {
 protected:
  TransitionsTest()
      : env_("transitions-domain"),
        router_(&env_.config(), &env_.directory()) {}

  Actor As(const std::string& registry_code) {
    return {env_.directory().FindByRegistryCode(registry_code), "pro-1"};
  }

  // A hand-over from the school with no next place (to the Fund).
  std::string Submitted() {
    sild::v1::Transition t;
    t.mutable_header()->set_idempotency_key("t-1");
    t.mutable_header()->set_purpose(sild::v1::PURPOSE_YOUTH_GUARANTEE);
    t.mutable_subject()->mutable_id()->set_scheme(
        sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    t.mutable_subject()->mutable_id()->set_value("50901011237");
    t.mutable_effective_date()->set_year(2025);
    t.mutable_effective_date()->set_month(6);
    t.mutable_effective_date()->set_day(15);
    t.set_leaving_reason(sild::v1::LEAVING_REASON_DROPPED_OUT);
    auto outcome = Await([&](SubmitDone done) {
      SubmitTransition(env_.context(), router_, As(kSchoolCode), t,
                       std::move(done));
    });
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) return "";
    EXPECT_FALSE(outcome->refused);
    EXPECT_EQ(outcome->receipt.recipients(0).recipient().registry_code(),
              kUifCode);
    return outcome->receipt.message_id();
  }

  absl::StatusOr<SubmitOutcome> Acknowledge(const std::string& who,
                                            const std::string& id,
                                            AcknowledgementStatus status,
                                            const std::string& key) {
    sild::v1::AcknowledgeTransitionRequest request;
    request.set_transition_id(id);
    request.mutable_acknowledgement()->set_status(status);
    request.set_idempotency_key(key);
    return Await([&](SubmitDone done) {
      AcknowledgeTransition(env_.context(), As(who), request, std::move(done));
    });
  }

  AcknowledgementStatus StoredStatus(const std::string& id) {
    AcknowledgementStatus status = sild::v1::ACKNOWLEDGEMENT_STATUS_UNSPECIFIED;
    absl::Status read =
        env_.store()->Read([&](SqlConnection& sql) -> absl::Status {
          auto row = LoadTransition(sql, id);
          if (!row.ok()) return row.status();
          if (*row) status = (*row)->status;
          return absl::OkStatus();
        });
    EXPECT_TRUE(read.ok()) << read;
    return status;
  }

  int64_t Acks() {
    return env_.QueryInt("SELECT COUNT(*) FROM messages WHERE kind = ?",
                         {int64_t{sild::v1::MESSAGE_KIND_TRANSITION_ACK}});
  }

  DeliveryTestEnv env_;
  Router router_;
};

TEST_F(TransitionsTest, RetriedAcknowledgementReturnsTheFirstReceipt) {
  const std::string id = Submitted();
  auto first = Acknowledge(kUifCode, id,
                           sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED, "a-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->receipt.duplicate());
  ASSERT_EQ(first->receipt.recipients_size(), 1);
  EXPECT_EQ(first->receipt.recipients(0).recipient().registry_code(),
            kSchoolCode);
  // A second acknowledgement would be ALREADY_ACKNOWLEDGED: the key is looked
  // up before the state is.
  auto retry = Acknowledge(kUifCode, id,
                           sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED, "a-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->receipt.duplicate());
  EXPECT_EQ(retry->receipt.message_id(), first->receipt.message_id());
  EXPECT_EQ(retry->receipt.audit_sequence(), first->receipt.audit_sequence());
  EXPECT_EQ(StoredStatus(id), sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED);
  EXPECT_EQ(Acks(), 1);
}

TEST_F(TransitionsTest, KeyReusedForAnotherAcknowledgementIsRefused) {
  const std::string id = Submitted();
  ASSERT_TRUE(Acknowledge(kUifCode, id,
                          sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED, "a-1")
                  .ok());
  auto reused = Acknowledge(kUifCode, id,
                            sild::v1::ACKNOWLEDGEMENT_STATUS_REFUSED, "a-1");
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorReason(reused.status()), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(ErrorField(reused.status()), "idempotency_key");
  // Without a key, the second acknowledgement meets the state.
  auto again =
      Acknowledge(kUifCode, id, sild::v1::ACKNOWLEDGEMENT_STATUS_REFUSED, "");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(again.status()), "ALREADY_ACKNOWLEDGED");
  EXPECT_EQ(StoredStatus(id), sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED);
  EXPECT_EQ(Acks(), 1);
}

TEST_F(TransitionsTest, OnlyTheReceiverAcknowledgesAndTheKeyStaysFree) {
  const std::string id = Submitted();
  auto sender = Acknowledge(kSchoolCode, id,
                            sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED, "a-1");
  ASSERT_FALSE(sender.ok());
  EXPECT_EQ(sender.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReason(sender.status()), "TRANSITION_NOT_FOUND");
  auto pending = Acknowledge(kUifCode, id,
                             sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING, "a-1");
  ASSERT_FALSE(pending.ok());
  EXPECT_EQ(ErrorReason(pending.status()), "INVALID_STATUS");
  EXPECT_EQ(ErrorField(pending.status()), "acknowledgement.status");
  // The school's failed attempt recorded no key for the school, nor did
  // the invalid one for the Fund.
  auto enrolled = Acknowledge(kUifCode, id,
                              sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED, "a-1");
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  EXPECT_FALSE(enrolled->receipt.duplicate());
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM idempotency_keys WHERE "
                          "sender = ? AND idempotency_key = ?",
                          {std::string(kSchoolCode), std::string("a-1")}),
            0);
}

TEST_F(TransitionsTest, AcknowledgementStandsWhenTheDecisionDenies) {
  const std::string id = Submitted();
  env_.set_allow(false);
  auto refused = Acknowledge(kUifCode, id,
                             sild::v1::ACKNOWLEDGEMENT_STATUS_REFUSED, "a-1");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->refused);
  ASSERT_EQ(refused->receipt.recipients_size(), 1);
  EXPECT_FALSE(refused->receipt.recipients(0).allowed());
  EXPECT_EQ(StoredStatus(id), sild::v1::ACKNOWLEDGEMENT_STATUS_REFUSED);
  EXPECT_EQ(env_.QueryInt("SELECT COUNT(*) FROM outbox WHERE recipient = ? "
                          "AND kind = ?",
                          {std::string(kSchoolCode),
                           int64_t{sild::v1::MESSAGE_KIND_TRANSITION_ACK}}),
            1);
}

}  // namespace
}  // namespace sild::exchange
