// Shared by the integration tests that run sild-gateway as a child process
// (crash_test, scaleout_test): the demo referral and consent, channels
// straight to 127.0.0.1, free ports.
#ifndef SILD_TESTS_INTEGRATION_INTEGRATION_UTIL_H_
#define SILD_TESTS_INTEGRATION_INTEGRATION_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "sild/v1/inbox_service.grpc.pb.h"
#include "sild/v1/referral_service.grpc.pb.h"
#include "tests/testing/sample_messages.h"
#include "tests/testing/test_env.h"

namespace sild::testing {

inline constexpr char kSocialServices[] = "75001023";
inline constexpr char kParent[] = "38001012341";

inline int FreePort() { return FreeLoopbackPort(); }

inline google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// The same bytes for every attempt with `key`, so a retry is the same request.
inline sild::v1::SubmitReferralRequest Referral(const std::string& key) {
  sild::v1::SubmitReferralRequest request;
  sild::v1::Referral& r = *request.mutable_referral();
  r = SupportReferral(key, kPupil, kSocialServices);
  r.set_summary(absl::StrCat("Absent most Mondays (", key, ")."));
  r.mutable_requested_by()->set_name("Teacher Kask");
  return request;
}

inline sild::v1::GrantConsentRequest ParentConsent() {
  sild::v1::GrantConsentRequest request;
  sild::v1::Consent& consent = *request.mutable_consent();
  consent.mutable_subject()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  consent.mutable_subject()->set_value(kPupil);
  auto* rep = consent.mutable_grantor()->mutable_representative();
  rep->set_relation(sild::v1::REPRESENTATIVE_RELATION_PARENT);
  rep->mutable_person()->mutable_id()->set_value(kParent);
  rep->mutable_person()->set_given_name("Parent");
  rep->mutable_person()->set_family_name("Tamm");
  consent.mutable_recipients()->add_registry_codes(kSocialServices);
  consent.add_purposes(sild::v1::PURPOSE_SUPPORT_SERVICE);
  consent.add_data_categories(sild::v1::DATA_CATEGORY_IDENTITY);
  consent.add_data_categories(sild::v1::DATA_CATEGORY_EDUCATION);
  consent.add_data_categories(sild::v1::DATA_CATEGORY_FREE_TEXT);
  *consent.mutable_valid_from() = At(absl::Now() - absl::Hours(1));
  *consent.mutable_valid_until() = At(absl::Now() + absl::Hours(24));
  return request;
}

// An mTLS channel as `who` straight to 127.0.0.1: no DNS, so reconnecting
// after a restart is not held back by the resolver's 30 s re-resolution
// cooldown, and quick reconnect backoff.
inline std::shared_ptr<grpc::Channel> Channel(int port,
                                              const std::string& who) {
  const std::string& pki = TestPkiDir();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadTestFile(pki + "/ca.crt");
  ssl.pem_cert_chain = ReadTestFile(pki + "/" + who + ".crt");
  ssl.pem_private_key = ReadTestFile(pki + "/" + who + ".key");
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel(absl::StrCat("ipv4:127.0.0.1:", port),
                                   grpc::SslCredentials(ssl), args);
}

// Failures a client sees when the gateway dies under it or is not up yet.
inline bool GatewayWentAway(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::CANCELLED ||
         code == grpc::StatusCode::UNKNOWN;
}

// What an agency's inbox stream gave: message ids (distinct, and every one
// in arrival order) and how the stream ended.
struct InboxDrain {
  std::set<std::string> distinct;
  std::vector<std::string> received;
  grpc::Status status;
};

// Subscribes as `who` and reads until `want` distinct messages arrived or
// the stream ends (`deadline`), acknowledging in batches as a client would.
inline InboxDrain DrainInbox(int port, const std::string& who, size_t want,
                             absl::Duration deadline) {
  auto inbox = sild::v1::InboxService::NewStub(Channel(port, who));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  auto reader = inbox->Subscribe(&context, sild::v1::SubscribeRequest());
  InboxDrain drain;
  std::vector<int64_t> cursors;
  sild::v1::InboxMessage message;
  bool open = true;
  while (drain.distinct.size() < want && (open = reader->Read(&message))) {
    drain.distinct.insert(message.envelope().message_id());
    drain.received.push_back(message.envelope().message_id());
    cursors.push_back(message.cursor());
    if (cursors.size() >= 100) {
      grpc::ClientContext ack_context;
      sild::v1::AckRequest ack;
      for (int64_t c : cursors) ack.add_cursors(c);
      sild::v1::AckResponse acked;
      (void)inbox->Ack(&ack_context, ack, &acked);
      cursors.clear();
    }
  }
  // Stop a stream that is still open (everything wanted arrived); a stream
  // the server ended keeps its status.
  if (open) context.TryCancel();
  drain.status = reader->Finish();
  return drain;
}

}  // namespace sild::testing

#endif  // SILD_TESTS_INTEGRATION_INTEGRATION_UTIL_H_
