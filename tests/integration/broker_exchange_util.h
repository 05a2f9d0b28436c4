// Shared by the end-to-end tests through a message broker
// (nats_exchange_test, amqp_exchange_test, kafka_exchange_test): the school
// system's native referral and the audit trail every one of them checks.
#ifndef SILD_TESTS_INTEGRATION_BROKER_EXCHANGE_UTIL_H_
#define SILD_TESTS_INTEGRATION_BROKER_EXCHANGE_UTIL_H_

#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "sild/config/v1/config.pb.h"
#include "sild/v1/audit_service.grpc.pb.h"
#include "sild/v1/consent_service.grpc.pb.h"
#include "tests/integration/integration_util.h"

namespace sild::testing {

// A school information system's referral of kPupil from `school` to
// `performer` (EHIS XML, as tests/connectors/codecs/ehis/golden/
// referral.native.xml, cut down); `key` is its idempotency key, and
// "ehis-<key>" its message id.
inline std::string EhisReferralXml(const std::string& key,
                                   const std::string& school,
                                   const std::string& performer) {
  return absl::StrFormat(R"(<?xml version="1.0" encoding="UTF-8"?>
<opilane>
  <sonum>
    <id>%s</id>
    <idempotentsusvoti>%s</idempotentsusvoti>
    <liik>SUUNAMINE</liik>
    <eesmark>TUGITEENUS</eesmark>
  </sonum>
  <isikukood>%s</isikukood>
  <oppeasutus><registrikood>%s</registrikood></oppeasutus>
  <pohjusetaPuudumised>
    <pohjusetaPuudumine>
      <aasta>2023</aasta><veerand>2</veerand>
      <tunnid>220</tunnid><puudumised>31</puudumised>
    </pohjusetaPuudumine>
  </pohjusetaPuudumised>
  <suunamine>
    <teenus>PSUHHOLOOG</teenus>
    <teenuseOsutaja><registrikood>%s</registrikood></teenuseOsutaja>
  </suunamine>
  <markus>Sagedased puudumised (%s).</markus>
</opilane>
)",
                         "ehis-" + key, key, kPupil, school, performer, key);
}

// Puts the school (`school`) on `transport` as its ingress, reading its
// system's EHIS XML with `school_config`, and social services on the same
// transport as their egress, in social-json with `social_config`.
inline void ConnectSchoolAndSocialServices(
    sild::config::v1::GatewayConfig& config, const std::string& school,
    const std::string& transport,
    const google::protobuf::Message& school_config,
    const google::protobuf::Message& social_config) {
  for (sild::config::v1::AgencyConfig& agency : *config.mutable_agencies()) {
    if (agency.registry_code() == school) {
      agency.set_codec("ehis-xml");
      agency.set_ingress_transport(transport);
      agency.mutable_ingress_transport_config()->PackFrom(school_config);
    } else if (agency.registry_code() == kSocialServices) {
      agency.set_codec("social-json");
      agency.set_transport(transport);
      agency.mutable_transport_config()->PackFrom(social_config);
    }
  }
}

// Social services record the parent's consent (ParentConsent()) through
// the gateway on `gateway_port`: it covers them, not school health.
inline void GrantParentConsent(int gateway_port) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  sild::v1::GrantConsentResponse granted;
  grpc::Status status = sild::v1::ConsentService::NewStub(
                            AgencyChannel(gateway_port, "social-services"))
                            ->Grant(&context, ParentConsent(), &granted);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

// The gateway on `gateway_port` audited the referral's disclosure to social
// services and its delivery, and refused `refused_recipient` for want of a
// covering consent; the audit chain verifies. Asked as the auditor.
inline void ExpectDisclosureDeliveryAndRefusalAudited(
    int gateway_port, const std::string& refused_recipient) {
  auto audit =
      sild::v1::AuditService::NewStub(AgencyChannel(gateway_port, "auditor"));
  grpc::ClientContext query_context;
  sild::v1::AuditQueryRequest query;
  query.set_subject_personal_code(kPupil);
  sild::v1::AuditQueryResponse records;
  ASSERT_TRUE(audit->Query(&query_context, query, &records).ok());
  // (action, outcome, counterparty, reason) of every record about the pupil.
  std::set<std::tuple<int, int, std::string, std::string>> trail;
  for (const auto& record : records.records()) {
    trail.insert({record.action(), record.outcome(), record.counterparty(),
                  record.reason_code()});
  }
  EXPECT_TRUE(
      trail.count({sild::v1::AUDIT_ACTION_DISCLOSURE,
                   sild::v1::AUDIT_OUTCOME_ALLOW, kSocialServices, "OK"}));
  EXPECT_TRUE(trail.count({sild::v1::AUDIT_ACTION_DELIVERY,
                           sild::v1::AUDIT_OUTCOME_SUCCESS, kSocialServices,
                           "DELIVERED"}));
  EXPECT_TRUE(trail.count({sild::v1::AUDIT_ACTION_DECISION,
                           sild::v1::AUDIT_OUTCOME_DENY, refused_recipient,
                           "RECIPIENT_NOT_COVERED"}));
  grpc::ClientContext verify_context;
  sild::v1::AuditVerifyResponse verified;
  ASSERT_TRUE(
      audit->Verify(&verify_context, sild::v1::AuditVerifyRequest(), &verified)
          .ok());
  EXPECT_TRUE(verified.intact()) << verified.DebugString();
}

}  // namespace sild::testing

#endif  // SILD_TESTS_INTEGRATION_BROKER_EXCHANGE_UTIL_H_
