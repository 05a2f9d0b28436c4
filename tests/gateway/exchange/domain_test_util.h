// Shared pieces of the domain operation tests (referrals_test,
// transitions_test): runs an asynchronous operation to its outcome, and reads
// what it left in the store.
#ifndef SILD_TESTS_GATEWAY_EXCHANGE_DOMAIN_TEST_UTIL_H_
#define SILD_TESTS_GATEWAY_EXCHANGE_DOMAIN_TEST_UTIL_H_

#include <functional>
#include <memory>
#include <utility>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gateway/exchange/submit.h"
#include "gtest/gtest.h"

namespace sild::exchange {

// Runs `operation` with a done callback and waits for its outcome (a
// DEADLINE_EXCEEDED error if it does not come within 20 s).
inline absl::StatusOr<SubmitOutcome> Await(
    const std::function<void(SubmitDone)>& operation) {
  struct Result {
    absl::Notification done;
    absl::StatusOr<SubmitOutcome> outcome;
  };
  auto result = std::make_shared<Result>();
  operation([result](absl::StatusOr<SubmitOutcome> outcome) {
    result->outcome = std::move(outcome);
    result->done.Notify();
  });
  if (!result->done.WaitForNotificationWithTimeout(absl::Seconds(20))) {
    ADD_FAILURE() << "the operation did not finish";
    return absl::DeadlineExceededError("no outcome");
  }
  return result->outcome;
}

}  // namespace sild::exchange

#endif  // SILD_TESTS_GATEWAY_EXCHANGE_DOMAIN_TEST_UTIL_H_
