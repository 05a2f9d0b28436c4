// The deadline scanner on a real store and audit log with time moved by a
// ManualClock: overdue referrals and lost transitions escalate once, to the
// case managers (or the sender), audited; acknowledged ones never do.
#include "gateway/exchange/deadline_scanner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gateway/delivery/delivery_test_env.h"

namespace sild::exchange {

using delivery::LoadOutbox;
using delivery::OutboxRow;
namespace {

using testing::DeliveryTestEnv;
using testing::kCaseManagerCode;
using testing::kSchoolCode;
using testing::kSocialCode;
using testing::kUifCode;

class DeadlineScannerTest : public ::testing::Test {
 protected:
  DeadlineScannerTest()
      : env_("deadlines"), scanner_(&env_.context(), absl::Minutes(1)) {}

  // A submitted referral school -> social services due in 10 days.
  std::string Referral() {
    std::string id;
    env_.Queue(kSchoolCode, kSocialCode, &id);
    ReferralRow row;
    row.referral_id = id;
    row.status = sild::v1::REFERRAL_STATUS_SUBMITTED;
    row.service = sild::v1::SERVICE_TYPE_SOCIAL_WORKER;
    row.urgency = sild::v1::URGENCY_ROUTINE;
    row.requester = kSchoolCode;
    row.case_id = id;
    row.municipality = "Raasiku vald";
    row.created = env_.clock().Now();
    row.updated = row.created;
    row.acknowledge_by = env_.clock().Now() + absl::Hours(240);
    EXPECT_TRUE(
        env_.store()
            ->writer()
            .Run([&](WriteTxn& txn) { return InsertReferral(txn, row); })
            .ok());
    return id;
  }

  // A hand-over school -> UIF effective now, with no case manager party.
  std::string Transition() {
    std::string id = NewUuid();
    DispatchRequest dispatch;
    sild::v1::Envelope& envelope = dispatch.envelope;
    envelope.set_message_id(id);
    envelope.set_kind(sild::v1::MESSAGE_KIND_TRANSITION);
    auto* transition = envelope.mutable_transition();
    auto* header = transition->mutable_header();
    header->set_message_id(id);
    header->set_case_id(id);
    header->set_kind(sild::v1::MESSAGE_KIND_TRANSITION);
    header->set_purpose(sild::v1::PURPOSE_YOUTH_GUARANTEE);
    const Agency* school = env_.directory().FindByRegistryCode(kSchoolCode);
    const Agency* uif = env_.directory().FindByRegistryCode(kUifCode);
    *header->mutable_sender() = school->ref;
    *header->add_recipients() = uif->ref;
    transition->mutable_subject()->mutable_id()->set_scheme(
        sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
    transition->mutable_subject()->mutable_id()->set_value(testing::kPupil);
    dispatch.subject_personal_code = testing::kPupil;
    dispatch.recipients = {uif};
    dispatch.sender = school;
    dispatch.professional_id = "teacher-17";
    TransitionRow row;
    row.transition_id = id;
    row.sender = kSchoolCode;
    row.recipient = kUifCode;
    row.status = sild::v1::ACKNOWLEDGEMENT_STATUS_PENDING;
    row.effective = env_.clock().Now();
    row.acknowledge_by = row.effective + absl::Hours(24 * 14);
    row.created = row.effective;
    row.updated = row.effective;
    EXPECT_TRUE(env_.store()
                    ->writer()
                    .Run([&](WriteTxn& txn) -> absl::Status {
                      auto result = Dispatch(txn, env_.context(), dispatch);
                      if (!result.ok()) return result.status();
                      return InsertTransition(txn, row);
                    })
                    .ok());
    return id;
  }

  // Escalation rows in the outbox, oldest first.
  std::vector<OutboxRow> Escalations() {
    std::vector<OutboxRow> out;
    EXPECT_TRUE(env_.store()
                    ->Read([&](SqlConnection& sql) -> absl::Status {
                      auto rows = sql.Query(
                          "SELECT delivery_id FROM outbox WHERE kind = ? ORDER "
                          "BY delivery_id",
                          {int64_t{sild::v1::MESSAGE_KIND_ESCALATION}});
                      if (!rows.ok()) return rows.status();
                      for (const auto& r : *rows) {
                        auto row =
                            LoadOutbox(sql, env_.store()->cipher(), r.Int(0));
                        if (!row.ok()) return row.status();
                        out.push_back(**row);
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }

  DeliveryTestEnv env_;
  DeadlineScanner scanner_;
};

TEST_F(DeadlineScannerTest, UnacknowledgedReferralEscalatesOnce) {
  absl::Time start = env_.clock().Now();
  std::string id = Referral();

  auto scan = scanner_.ScanOnce(start + absl::Hours(24 * 9));
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->referrals, 0);
  EXPECT_TRUE(Escalations().empty());

  env_.clock().Set(start + absl::Hours(240) + absl::Minutes(1));
  scan = scanner_.ScanOnce(env_.clock().Now());
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->referrals, 1);
  EXPECT_EQ(scan->transitions, 0);

  auto escalations = Escalations();
  ASSERT_EQ(escalations.size(), 1u);
  const OutboxRow& row = escalations[0];
  EXPECT_EQ(row.recipient, kCaseManagerCode);  // the case's case manager
  ASSERT_TRUE(row.envelope.has_escalation());
  const auto& escalation = row.envelope.escalation();
  EXPECT_EQ(escalation.escalation(),
            sild::v1::ESCALATION_KIND_REFERRAL_NOT_ACKNOWLEDGED);
  EXPECT_EQ(escalation.overdue_message_id(), id);
  EXPECT_EQ(escalation.overdue_party().registry_code(), kSocialCode);
  EXPECT_EQ(escalation.case_id(), id);
  EXPECT_EQ(escalation.subject().value(), testing::kPupil);
  EXPECT_EQ(FromProtoTime(escalation.due_time()), start + absl::Hours(240));
  EXPECT_EQ(escalation.header().purpose(), sild::v1::PURPOSE_CASE_MANAGEMENT);
  EXPECT_EQ(escalation.header().sender().registry_code(), kSchoolCode);
  EXPECT_EQ(escalation.header().in_reply_to(), id);

  auto records = env_.Records(sild::v1::AUDIT_ACTION_ESCALATION);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].reason_code(), "REFERRAL_NOT_ACKNOWLEDGED");
  EXPECT_EQ(records[0].message_id(), id);
  EXPECT_EQ(records[0].counterparty(), kSocialCode);
  EXPECT_EQ(records[0].actor().registry_code(), kSchoolCode);
  EXPECT_EQ(records[0].actor().professional_id(), "sild-gateway");
  EXPECT_EQ(records[0].subject_pseudonym(),
            env_.audit_log()->Pseudonym(testing::kPupil));
  EXPECT_EQ(env_.QueryInt(
                "SELECT escalated FROM referrals WHERE referral_id = ?", {id}),
            1);

  // Not twice.
  env_.clock().Advance(absl::Hours(48));
  scan = scanner_.ScanOnce(env_.clock().Now());
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->referrals, 0);
  EXPECT_EQ(Escalations().size(), 1u);
  EXPECT_EQ(env_.Records(sild::v1::AUDIT_ACTION_ESCALATION).size(), 1u);
}

TEST_F(DeadlineScannerTest, AcknowledgedReferralNeverEscalates) {
  absl::Time start = env_.clock().Now();
  std::string received = Referral();
  std::string rejected = Referral();
  ASSERT_TRUE(
      env_.store()
          ->writer()
          .Run([&](WriteTxn& txn) -> absl::Status {
            absl::Status a = UpdateReferralStatus(
                txn, received, sild::v1::REFERRAL_STATUS_RECEIVED, txn.now());
            if (!a.ok()) return a;
            return UpdateReferralStatus(
                txn, rejected, sild::v1::REFERRAL_STATUS_REJECTED, txn.now());
          })
          .ok());
  auto scan = scanner_.ScanOnce(start + absl::Hours(24 * 30));
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->referrals, 0);
  EXPECT_TRUE(Escalations().empty());
  EXPECT_TRUE(env_.Records(sild::v1::AUDIT_ACTION_ESCALATION).empty());
}

TEST_F(DeadlineScannerTest, LostInTransitionTellsTheSenderWhenNoCaseManager) {
  absl::Time start = env_.clock().Now();
  std::string lost = Transition();
  std::string enrolled = Transition();
  ASSERT_TRUE(env_.store()
                  ->writer()
                  .Run([&](WriteTxn& txn) {
                    return UpdateTransitionStatus(
                        txn, enrolled,
                        sild::v1::ACKNOWLEDGEMENT_STATUS_ENROLLED, txn.now());
                  })
                  .ok());
  // No basis for the gateway to name the child to anyone: the escalation
  // still goes out, with its operational part only.
  env_.set_allow(false);

  auto scan = scanner_.ScanOnce(start + absl::Hours(24 * 13));
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->transitions, 0);
  scan = scanner_.ScanOnce(start + absl::Hours(24 * 14) + absl::Seconds(1));
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->transitions, 1);

  auto escalations = Escalations();
  ASSERT_EQ(escalations.size(), 1u);
  EXPECT_EQ(escalations[0].recipient, kSchoolCode);
  const auto& escalation = escalations[0].envelope.escalation();
  EXPECT_EQ(escalation.escalation(),
            sild::v1::ESCALATION_KIND_LOST_IN_TRANSITION);
  EXPECT_EQ(escalation.overdue_message_id(), lost);
  EXPECT_EQ(escalation.overdue_party().registry_code(), kUifCode);
  EXPECT_FALSE(escalation.has_subject());  // identity withheld
  auto records = env_.Records(sild::v1::AUDIT_ACTION_ESCALATION);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].reason_code(), "LOST_IN_TRANSITION");

  scan = scanner_.ScanOnce(start + absl::Hours(24 * 40));
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->transitions, 0);
  EXPECT_EQ(Escalations().size(), 1u);
}

TEST_F(DeadlineScannerTest, RunsOnItsOwnEveryInterval) {
  Referral();
  env_.clock().Advance(absl::Hours(24 * 11));
  DeadlineScanner periodic(&env_.context(), absl::Milliseconds(20));
  periodic.Start();
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (Escalations().empty() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  periodic.Stop();
  EXPECT_EQ(Escalations().size(), 1u);
}

}  // namespace
}  // namespace sild::exchange
