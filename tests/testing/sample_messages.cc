#include "tests/testing/sample_messages.h"

namespace sild::testing {

v1::Referral SupportReferral(const std::string& idempotency_key,
                             const std::string& subject,
                             const std::string& performer) {
  v1::Referral r;
  r.mutable_header()->set_idempotency_key(idempotency_key);
  r.mutable_header()->set_purpose(sild::v1::PURPOSE_SUPPORT_SERVICE);
  r.mutable_subject()->mutable_id()->set_scheme(
      sild::v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  r.mutable_subject()->mutable_id()->set_value(subject);
  r.mutable_subject()->set_given_name("Mari");
  r.mutable_subject()->set_family_name("Tamm");
  r.set_service(sild::v1::SERVICE_TYPE_SOCIAL_WORKER);
  r.mutable_performer()->set_registry_code(performer);
  auto* attendance = r.add_risk_indicators()->mutable_attendance();
  attendance->set_lessons(180);
  attendance->set_unexcused_absences(31);
  r.add_risk_indicators()->mutable_health()->set_concern("suspected anxiety");
  r.set_summary("Absent most Mondays since October.");
  return r;
}

v1::AgencyRef SampleSchool() {
  v1::AgencyRef school;
  school.set_registry_code(kSampleSchoolCode);
  school.set_kind(v1::AGENCY_KIND_SCHOOL);
  school.set_name("Aruküla Põhikool");
  school.set_municipality("Raasiku vald");
  return school;
}

v1::AgencyRef SampleSocialServices() {
  v1::AgencyRef agency;
  agency.set_registry_code(kSampleSocialServicesCode);
  agency.set_kind(v1::AGENCY_KIND_MUNICIPAL_SOCIAL_SERVICES);
  agency.set_name("Raasiku Vallavalitsus");
  agency.set_municipality("Raasiku vald");
  return agency;
}

v1::Referral SampleReferral() {
  v1::Referral r;
  v1::MessageHeader* h = r.mutable_header();
  h->set_message_id("0f8e5c1a-6d2b-4c7e-9a51-3b2f0d9e7c44");
  h->set_idempotency_key("aruk-2026-0117");
  h->set_case_id("case-raasiku-2026-031");
  *h->mutable_sender() = SampleSchool();
  *h->add_recipients() = SampleSocialServices();
  h->set_purpose(v1::PURPOSE_SUPPORT_SERVICE);
  h->mutable_created_time()->set_seconds(1772442000);  // 2026-03-02 09:00 UTC
  h->set_schema_version("1.0");
  h->set_kind(v1::MESSAGE_KIND_REFERRAL);

  v1::Person* s = r.mutable_subject();
  s->mutable_id()->set_scheme(v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  s->mutable_id()->set_value(kSamplePupilCode);
  s->set_given_name("Mart");
  s->set_family_name("Tamm");
  s->mutable_birth_date()->set_year(2011);
  s->mutable_birth_date()->set_month(9);
  s->mutable_birth_date()->set_day(14);
  s->mutable_contact()->mutable_address()->set_street("Tallinna mnt 12-4");
  s->mutable_contact()->mutable_address()->set_settlement("Aruküla");
  s->mutable_contact()->mutable_address()->set_municipality("Raasiku vald");
  s->mutable_contact()->mutable_address()->set_county("Harju maakond");
  s->mutable_contact()->mutable_address()->set_postal_code("75201");
  s->set_home_language("et");

  v1::Representative* parent = r.add_representatives();
  parent->set_relation(v1::REPRESENTATIVE_RELATION_PARENT);
  parent->mutable_person()->mutable_id()->set_scheme(
      v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE);
  parent->mutable_person()->mutable_id()->set_value(kSampleParentCode);
  parent->mutable_person()->set_given_name("Kadri");
  parent->mutable_person()->set_family_name("Tamm");
  parent->mutable_person()->mutable_contact()->set_phone("+372 5123 4567");
  parent->mutable_person()->mutable_contact()->set_email(
      "kadri.tamm@example.ee");

  r.set_service(v1::SERVICE_TYPE_SOCIAL_PEDAGOGUE);
  v1::AttendanceIndicator* attendance =
      r.add_risk_indicators()->mutable_attendance();
  attendance->set_school_year(2025);
  attendance->set_quarter(2);
  attendance->set_lessons(212);
  attendance->set_unexcused_absences(31);
  attendance->set_excused_absences(12);
  v1::AcademicIndicator* academic = r.add_risk_indicators()->mutable_academic();
  academic->add_failing_subjects("matemaatika");
  academic->add_failing_subjects("inglise keel");
  v1::BehaviourIndicator* behaviour =
      r.add_risk_indicators()->mutable_behaviour();
  behaviour->set_incidents(3);
  behaviour->set_description("Leaves lessons without permission.");
  v1::HealthIndicator* health = r.add_risk_indicators()->mutable_health();
  health->set_concern("suspected anxiety; complains of headaches");

  r.set_urgency(v1::URGENCY_URGENT);
  r.set_summary(
      "Absences have grown since November; the family has asked the school "
      "for help. The class teacher and the support team recommend a social "
      "pedagogue.");
  v1::Professional* pro = r.mutable_requested_by();
  pro->set_id("t-0412");
  pro->set_name("Liis Kask");
  pro->set_role("class teacher");
  pro->set_phone("+372 600 1234");
  pro->set_email("liis.kask@arukyla.edu.ee");
  *r.mutable_performer() = SampleSocialServices();
  r.set_municipality("Raasiku vald");
  *r.mutable_current_institution() = SampleSchool();
  r.mutable_education_stage()->set_level(v1::EDUCATION_LEVEL_BASIC_GRADES_7_9);
  r.mutable_education_stage()->set_isced_level(2);
  r.mutable_education_stage()->set_grade(8);
  r.set_status(v1::REFERRAL_STATUS_SUBMITTED);
  r.mutable_respond_by()->set_year(2026);
  r.mutable_respond_by()->set_month(3);
  r.mutable_respond_by()->set_day(12);
  return r;
}

}  // namespace sild::testing
