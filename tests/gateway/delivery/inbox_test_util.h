// Clients of the exchange used by the inbox, delivery-service and sildctl
// tests: a referral submitter and an inbox stream read on its own thread.
// The referral they submit is testing::SupportReferral
// (tests/testing/sample_messages.h).
#ifndef SILD_TESTS_GATEWAY_DELIVERY_INBOX_TEST_UTIL_H_
#define SILD_TESTS_GATEWAY_DELIVERY_INBOX_TEST_UTIL_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/inbox_service.grpc.pb.h"
#include "sild/v1/referral_service.grpc.pb.h"
#include "tests/gateway/delivery/delivery_test_env.h"
#include "tests/testing/sample_messages.h"

namespace sild::testing {

// School -> social services for support services on a rule that leaves out
// health data (so minimisation is visible).
inline void AddSupportReferralRule(config::v1::GatewayConfig& config) {
  google::protobuf::TextFormat::MergeFromString(
      R"pb(
        rules {
          id: "test-support-referral"
          citation: "Test statute § 1"
          sender_kinds: AGENCY_KIND_SCHOOL
          recipient_kinds: AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES
          purposes: PURPOSE_SUPPORT_SERVICE
          categories: DATA_CATEGORY_IDENTITY
          categories: DATA_CATEGORY_EDUCATION
          categories: DATA_CATEGORY_FREE_TEXT
        }
      )pb",
      &config);
}

// Submits as `who` ("school"); returns the status and fills `receipt`.
inline grpc::Status SubmitReferral(int port, const std::string& who,
                                   const sild::v1::Referral& referral,
                                   sild::v1::Receipt* receipt) {
  auto stub = sild::v1::ReferralService::NewStub(AgencyChannel(port, who));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  sild::v1::SubmitReferralRequest request;
  *request.mutable_referral() = referral;
  return stub->Submit(&context, request, receipt);
}

// An inbox subscription read on its own thread.
class InboxReader {
 public:
  InboxReader(int port, const std::string& who,
              sild::v1::SubscribeRequest request,
              absl::Duration deadline = absl::Seconds(60))
      : stub_(sild::v1::InboxService::NewStub(AgencyChannel(port, who))) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    thread_ = std::thread([this, request] {
      auto reader = stub_->Subscribe(&context_, request);
      sild::v1::InboxMessage message;
      while (reader->Read(&message)) {
        absl::MutexLock lock(&mu_);
        messages_.push_back(message);
      }
      grpc::Status status = reader->Finish();
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    });
  }
  ~InboxReader() {
    context_.TryCancel();
    thread_.join();
  }

  // True once at least `n` messages arrived within `timeout`.
  bool WaitFor(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return messages_.size() >= n || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return messages_.size() >= n;
  }
  // True once the stream ended within `timeout`.
  bool WaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
    return done_;
  }
  std::vector<sild::v1::InboxMessage> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  void Cancel() { context_.TryCancel(); }

 private:
  std::unique_ptr<sild::v1::InboxService::Stub> stub_;
  grpc::ClientContext context_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<sild::v1::InboxMessage> messages_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

inline grpc::Status Ack(int port, const std::string& who,
                        const std::vector<int64_t>& cursors,
                        sild::v1::AckResponse* response) {
  auto stub = sild::v1::InboxService::NewStub(AgencyChannel(port, who));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  sild::v1::AckRequest request;
  for (int64_t c : cursors) request.add_cursors(c);
  return stub->Ack(&context, request, response);
}

}  // namespace sild::testing

#endif  // SILD_TESTS_GATEWAY_DELIVERY_INBOX_TEST_UTIL_H_
