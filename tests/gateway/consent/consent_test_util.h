// Shared pieces of the consent tests: subjects with known ages, a typical
// consent, and a ConsentService client that keeps each call's reason and
// field trailers.
#ifndef SILD_TESTS_GATEWAY_CONSENT_CONSENT_TEST_UTIL_H_
#define SILD_TESTS_GATEWAY_CONSENT_CONSENT_TEST_UTIL_H_

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/audit/audit_log.h"
#include "gateway/base/clock.h"
#include "gateway/consent/consent_registry.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/store/store.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "sild/v1/consent_service.grpc.pb.h"

namespace sild::testing {

// The tests' "now": 2025-03-01 10:00 UTC.
inline absl::Time TestNow() {
  return absl::FromCivil(absl::CivilSecond(2025, 3, 1, 10, 0, 0),
                         absl::UTCTimeZone());
}

// Born 2012-05-28: 12 at TestNow(), so a parent consents for him.
inline constexpr char kChild[] = "51205280105";
// Born 2009-03-15: 15 at TestNow(), old enough to consent herself
// (self_consent_age 15 in the demo config).
inline constexpr char kTeen[] = "60903150224";
inline constexpr char kParent[] = "39001010000";

inline constexpr char kSchool[] = "75001017";
inline constexpr char kSocialServices[] = "75001023";
inline constexpr char kChildProtection[] = "75001039";
inline constexpr char kSchoolHealth[] = "75001046";
inline constexpr char kUif[] = "75001052";

inline google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// A parent's consent for kChild: school health may receive health and
// education data for support services, for a year from TestNow().
inline sild::v1::Consent ParentConsent() {
  sild::v1::Consent consent;
  consent.mutable_subject()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  consent.mutable_subject()->set_value(kChild);
  auto* rep = consent.mutable_grantor()->mutable_representative();
  rep->set_relation(sild::v1::REPRESENTATIVE_RELATION_PARENT);
  rep->mutable_person()->mutable_id()->set_value(kParent);
  rep->mutable_person()->set_given_name("Mari");
  rep->mutable_person()->set_family_name("Tamm");
  consent.mutable_recipients()->add_registry_codes(kSchoolHealth);
  consent.add_purposes(sild::v1::PURPOSE_SUPPORT_SERVICE);
  consent.add_data_categories(sild::v1::DATA_CATEGORY_HEALTH);
  consent.add_data_categories(sild::v1::DATA_CATEGORY_EDUCATION);
  *consent.mutable_valid_from() = At(TestNow() - absl::Hours(1));
  *consent.mutable_valid_until() = At(TestNow() + absl::Hours(24 * 365));
  return consent;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// One call's outcome: the status as the client sees it (reason and field
// from the trailers) and the raw trailers.
struct CallOutcome {
  absl::Status status;
  std::string reason_trailer;
  std::string field_trailer;
  bool ok() const { return status.ok(); }
};

class ConsentClient {
 public:
  explicit ConsentClient(std::shared_ptr<grpc::Channel> channel)
      : stub_(sild::v1::ConsentService::NewStub(std::move(channel))) {}

  template <typename Request, typename Response, typename Method>
  CallOutcome Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    grpc::Status status = (stub_.get()->*method)(&context, request, response);
    CallOutcome outcome;
    outcome.status = FromGrpcStatus(status, &context);
    const auto& trailers = context.GetServerTrailingMetadata();
    if (auto it = trailers.find(kReasonMetadataKey); it != trailers.end()) {
      outcome.reason_trailer.assign(it->second.data(), it->second.size());
    }
    if (auto it = trailers.find(kFieldMetadataKey); it != trailers.end()) {
      outcome.field_trailer.assign(it->second.data(), it->second.size());
    }
    return outcome;
  }

  CallOutcome Grant(const sild::v1::Consent& consent,
                    sild::v1::GrantConsentResponse* response) {
    sild::v1::GrantConsentRequest request;
    *request.mutable_consent() = consent;
    return Call(&sild::v1::ConsentService::Stub::Grant, request, response);
  }
  CallOutcome Withdraw(const std::string& id, const std::string& note,
                       sild::v1::WithdrawConsentResponse* response) {
    sild::v1::WithdrawConsentRequest request;
    request.set_consent_id(id);
    request.set_note(note);
    return Call(&sild::v1::ConsentService::Stub::Withdraw, request, response);
  }
  CallOutcome Get(const std::string& id, sild::v1::Consent* response) {
    sild::v1::GetConsentRequest request;
    request.set_consent_id(id);
    return Call(&sild::v1::ConsentService::Stub::Get, request, response);
  }
  CallOutcome History(const std::string& id,
                      sild::v1::ConsentHistoryResponse* response) {
    sild::v1::ConsentHistoryRequest request;
    request.set_consent_id(id);
    return Call(&sild::v1::ConsentService::Stub::History, request, response);
  }
  CallOutcome List(const sild::v1::ListConsentsRequest& request,
                   sild::v1::ListConsentsResponse* response) {
    return Call(&sild::v1::ConsentService::Stub::List, request, response);
  }
  // Health and education data about kChild to school health, for support
  // services, in a referral.
  CallOutcome Check(sild::v1::CheckConsentResponse* response,
                    const std::string& subject = kChild,
                    const std::string& recipient = kSchoolHealth) {
    sild::v1::CheckConsentRequest request;
    request.set_recipient_registry_code(recipient);
    request.set_purpose(sild::v1::PURPOSE_SUPPORT_SERVICE);
    request.mutable_subject()->set_value(subject);
    request.set_message_kind(sild::v1::MESSAGE_KIND_REFERRAL);
    request.add_categories(sild::v1::DATA_CATEGORY_HEALTH);
    request.add_categories(sild::v1::DATA_CATEGORY_EDUCATION);
    return Call(&sild::v1::ConsentService::Stub::Check, request, response);
  }

 private:
  std::unique_ptr<sild::v1::ConsentService::Stub> stub_;
};

// A store with the audit and consent schemas and its audit log, which is
// already the writer's participant. The store is not started: a test adds
// its own participants first, then calls store->Start().
struct ConsentStore {
  std::unique_ptr<Store> store;
  std::unique_ptr<AuditLog> audit_log;
};

inline absl::StatusOr<ConsentStore> OpenConsentStore(
    const config::v1::GatewayConfig& config, Clock* clock) {
  ConsentStore opened;
  auto store = Store::Open(config.store(), clock,
                           {AuditLog::Schema(), ConsentRegistry::Schema()});
  if (!store.ok()) return store.status();
  opened.store = std::move(*store);
  AuditLog::Options options;
  options.chain_id = "sild-test";
  options.signing_key_file = config.audit().signing_key_file();
  options.pseudonym_key_file = config.audit().pseudonym_key_file();
  auto log = AuditLog::Open(opened.store.get(), options);
  if (!log.ok()) return log.status();
  opened.audit_log = std::move(*log);
  opened.store->writer().AddParticipant(opened.audit_log.get());
  return opened;
}

}  // namespace sild::testing

#endif  // SILD_TESTS_GATEWAY_CONSENT_CONSENT_TEST_UTIL_H_
