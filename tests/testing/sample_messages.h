// Sample sild.v1 referrals for tests and benchmarks, built in one place.
//
// SupportReferral: the demo federation's referral (gateway/demo): a school
// refers kPupil to social services' social worker. What the gateway tests
// submit; a test needing a variant adjusts the returned proto.
//
// SampleReferral: a realistic, fully filled-in referral (a basic school
// refers a 14-year-old pupil to the municipal social services) for the
// minimiser's tests and benchmarks. Its agencies are not in the demo
// federation.
#ifndef SILD_TESTS_TESTING_SAMPLE_MESSAGES_H_
#define SILD_TESTS_TESTING_SAMPLE_MESSAGES_H_

#include <string>

#include "sild/v1/referral.pb.h"

namespace sild::testing {

// The demo federation's pupil (born 2012-05-28) and social services.
inline constexpr char kPupil[] = "51205280105";
inline constexpr char kDemoSocialServices[] = "75001023";

// A support-service referral about `subject` for `performer`'s social worker
// with `idempotency_key`: the subject's code and name (Mari Tamm), an
// attendance indicator (31 of 180 lessons missed), a health concern and a
// summary. No sender or recipients: the gateway takes them from the caller
// and the routing.
v1::Referral SupportReferral(
    const std::string& idempotency_key, const std::string& subject = kPupil,
    const std::string& performer = kDemoSocialServices);

// The realistic referral's people and agencies. The pupil was born
// 2011-09-14: 14 years old on 2026-03-02.
inline constexpr char kSamplePupilCode[] = "51109140229";
inline constexpr char kSampleParentCode[] = "48203150223";
inline constexpr char kSampleSchoolCode[] = "75016705";
inline constexpr char kSampleSocialServicesCode[] = "77000329";

// The realistic referral's sender and recipient.
v1::AgencyRef SampleSchool();
v1::AgencyRef SampleSocialServices();

// Subject, a parent representative, four risk indicators (attendance,
// academic, behaviour, health), a summary and the referring professional.
v1::Referral SampleReferral();

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_SAMPLE_MESSAGES_H_
