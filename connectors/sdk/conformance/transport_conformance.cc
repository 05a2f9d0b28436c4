#include "connectors/sdk/conformance/transport_conformance.h"

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gateway/base/errors.h"

namespace sild::connectors::conformance {
namespace {

// What the handler saw, guarded for the transport's threads.
class Inbox {
 public:
  void Add(const InboundMessage& message) {
    absl::MutexLock lock(&mu_);
    ++count_[message.message_id];
    bytes_[message.message_id] = message.bytes;
  }
  int Count(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = count_.find(id);
    return it == count_.end() ? 0 : it->second;
  }
  std::string Bytes(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return bytes_[id];
  }
  // Waits until `id` was seen at least `times` times.
  bool WaitFor(const std::string& id, int times, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto seen = [&] {
      mu_.AssertHeld();
      auto it = count_.find(id);
      return it != count_.end() && it->second >= times;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> count_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> bytes_ ABSL_GUARDED_BY(mu_);
};

OutboundMessage Outbound(const std::string& id, const std::string& bytes) {
  OutboundMessage message;
  message.message_id = id;
  message.kind = "REFERRAL";
  message.content_type = "text/plain";
  message.bytes = bytes;
  message.key = "case-1";
  message.recipient = "75001023";
  return message;
}

// Makes a pair, fails the test when it cannot, and cleans up at scope end.
class PairHolder {
 public:
  explicit PairHolder(const TransportConformanceParams& params) {
    auto pair = params.make_pair();
    EXPECT_TRUE(pair.ok()) << pair.status();
    if (pair.ok()) pair_ = std::move(*pair);
  }
  ~PairHolder() {
    if (pair_.ingress != nullptr) pair_.ingress->Stop();
    if (pair_.cleanup) pair_.cleanup();
  }
  bool ok() const {
    return pair_.egress != nullptr && pair_.ingress != nullptr;
  }
  TransportPair& operator*() { return pair_; }
  TransportPair* operator->() { return &pair_; }

 private:
  TransportPair pair_;
};

void Deliver(EgressTransport& egress, const OutboundMessage& message) {
  DeliveryResult result = egress.Deliver(message);
  ASSERT_EQ(result.outcome, DeliveryResult::kDelivered) << result.error;
}

}  // namespace

// A binary may link the kit and instantiate only one of its suites.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TransportConformanceTest);

void PrintTo(const TransportConformanceParams& params, std::ostream* os) {
  *os << "TransportConformanceParams{" << params.name << "}";
}

TEST_P(TransportConformanceTest, DeliveredMessagesArriveWithTheirIds) {
  const TransportConformanceParams& params = GetParam();
  PairHolder pair(params);
  ASSERT_TRUE(pair.ok());
  Inbox inbox;
  ASSERT_TRUE(pair->ingress
                  ->Start([&](const InboundMessage& message,
                              std::function<void(absl::Status)> done) {
                    inbox.Add(message);
                    done(absl::OkStatus());
                  })
                  .ok());
  std::vector<OutboundMessage> sent;
  for (int i = 0; i < 5; ++i) {
    sent.push_back(
        Outbound(absl::StrCat("0190c5a8-0000-7000-8000-00000000000", i),
                 absl::StrCat("payload ", i, ";\xc3\xb5\n")));
    Deliver(*pair->egress, sent.back());
  }
  for (const OutboundMessage& message : sent) {
    ASSERT_TRUE(inbox.WaitFor(message.message_id, 1, params.timeout))
        << message.message_id << " never arrived";
    EXPECT_EQ(inbox.Bytes(message.message_id), message.bytes);
  }
  EXPECT_TRUE(pair->egress->health().ok()) << pair->egress->health();
  EXPECT_TRUE(pair->ingress->health().ok()) << pair->ingress->health();
}

TEST_P(TransportConformanceTest, AcknowledgedOnlyAfterDoneOk) {
  const TransportConformanceParams& params = GetParam();
  PairHolder pair(params);
  ASSERT_TRUE(pair.ok());
  Inbox inbox;
  const std::string failing_id = "0190c5a8-0000-7000-8000-0000000000f1";
  const std::string late_ok_id = "0190c5a8-0000-7000-8000-0000000000f2";
  std::vector<std::thread> finishers;
  absl::Mutex finishers_mu;
  ASSERT_TRUE(pair->ingress
                  ->Start([&](const InboundMessage& message,
                              std::function<void(absl::Status)> done) {
                    inbox.Add(message);
                    if (message.message_id == failing_id &&
                        inbox.Count(failing_id) == 1) {
                      done(absl::UnavailableError("store busy, try again"));
                      return;
                    }
                    // Acknowledge later from another thread, as the gateway
                    // does after its group commit.
                    absl::MutexLock lock(&finishers_mu);
                    finishers.emplace_back([done = std::move(done)] {
                      absl::SleepFor(absl::Milliseconds(50));
                      done(absl::OkStatus());
                    });
                  })
                  .ok());
  Deliver(*pair->egress, Outbound(failing_id, "retry me"));
  Deliver(*pair->egress, Outbound(late_ok_id, "acknowledge me late"));
  EXPECT_TRUE(inbox.WaitFor(failing_id, 2, params.timeout))
      << "a message whose handler failed was not handed over again";
  ASSERT_TRUE(inbox.WaitFor(late_ok_id, 1, params.timeout));
  absl::SleepFor(params.settle);
  pair->ingress->Stop();
  {
    absl::MutexLock lock(&finishers_mu);
    for (std::thread& thread : finishers) thread.join();
  }
  // At-least-once allows a duplicate, but a message acknowledged OK must not
  // be handed over again and again.
  EXPECT_LE(inbox.Count(late_ok_id), 2);
  EXPECT_LE(inbox.Count(failing_id), 3);
  for (const DeadLetter& dead : pair->dead_letters()) {
    EXPECT_NE(dead.message_id, late_ok_id);
    EXPECT_NE(dead.message_id, failing_id)
        << "a retryable failure must not dead-letter";
  }
}

TEST_P(TransportConformanceTest, PermanentRefusalReachesDeadLetters) {
  const TransportConformanceParams& params = GetParam();
  PairHolder pair(params);
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(pair->dead_letters) << "params must give dead_letters";
  Inbox inbox;
  const std::string refused_id = "0190c5a8-0000-7000-8000-0000000000d1";
  ASSERT_TRUE(pair->ingress
                  ->Start([&](const InboundMessage& message,
                              std::function<void(absl::Status)> done) {
                    inbox.Add(message);
                    done(InvalidField("INVALID_PERSONAL_CODE", "subject",
                                      "check digit does not match"));
                  })
                  .ok());
  Deliver(*pair->egress, Outbound(refused_id, "not a valid message"));
  ASSERT_TRUE(inbox.WaitFor(refused_id, 1, params.timeout));
  const absl::Time deadline = absl::Now() + params.timeout;
  std::vector<DeadLetter> dead;
  while (absl::Now() < deadline) {
    dead = pair->dead_letters();
    if (!dead.empty()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(dead.size(), 1u) << "the refused message did not dead-letter";
  EXPECT_EQ(dead[0].message_id, refused_id);
  EXPECT_EQ(dead[0].bytes, "not a valid message");
  EXPECT_NE(dead[0].reason.find("INVALID_PERSONAL_CODE"), std::string::npos)
      << dead[0].reason;
  absl::SleepFor(params.settle);
  EXPECT_EQ(inbox.Count(refused_id), 1)
      << "a permanently refused message was handed over again";
}

TEST_P(TransportConformanceTest, StopWaitsForInFlightHandlers) {
  const TransportConformanceParams& params = GetParam();
  PairHolder pair(params);
  ASSERT_TRUE(pair.ok());
  absl::Notification entered;
  std::atomic<bool> finished{false};
  ASSERT_TRUE(pair->ingress
                  ->Start([&](const InboundMessage&,
                              std::function<void(absl::Status)> done) {
                    if (!entered.HasBeenNotified()) entered.Notify();
                    absl::SleepFor(absl::Milliseconds(300));
                    finished = true;
                    done(absl::OkStatus());
                  })
                  .ok());
  Deliver(*pair->egress,
          Outbound("0190c5a8-0000-7000-8000-0000000000a1", "slow handler"));
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(params.timeout));
  pair->ingress->Stop();
  EXPECT_TRUE(finished) << "Stop() returned while a handler was running";
}

}  // namespace sild::connectors::conformance
