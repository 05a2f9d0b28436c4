#include "connectors/codecs/ehis/abc_score.h"

#include "gtest/gtest.h"

namespace sild::connectors {
namespace {

struct Case {
  const char* name;
  AbcInputs inputs;
  int attendance;
  int behaviour;
  int course;
  sild::v1::RiskTier tier;
};

TEST(ScoreAbc, Table) {
  const Case cases[] = {
      {"nothing", {}, 0, 0, 0, sild::v1::RISK_TIER_1},
      {"no lessons recorded",
       {.lessons = 0, .absences = 5},
       0,
       0,
       0,
       sild::v1::RISK_TIER_1},
      {"4.99% absent",
       {.lessons = 10000, .absences = 499},
       0,
       0,
       0,
       sild::v1::RISK_TIER_1},
      {"exactly 5% is at risk",
       {.lessons = 200, .absences = 10},
       1,
       0,
       0,
       sild::v1::RISK_TIER_1},
      {"9.99% is still at risk",
       {.lessons = 10000, .absences = 999},
       1,
       0,
       0,
       sild::v1::RISK_TIER_1},
      {"exactly 10% is chronic",
       {.lessons = 200, .absences = 20},
       2,
       0,
       0,
       sild::v1::RISK_TIER_1},
      {"all lessons missed",
       {.lessons = 30, .absences = 30},
       2,
       0,
       0,
       sild::v1::RISK_TIER_1},
      {"1 incident",
       {.behaviour_incidents = 1},
       0,
       1,
       0,
       sild::v1::RISK_TIER_1},
      {"2 incidents",
       {.behaviour_incidents = 2},
       0,
       1,
       0,
       sild::v1::RISK_TIER_1},
      {"3 incidents",
       {.behaviour_incidents = 3},
       0,
       2,
       0,
       sild::v1::RISK_TIER_1},
      {"one failing grade",
       {.failing_grades = 1},
       0,
       0,
       1,
       sild::v1::RISK_TIER_1},
      {"two failing grades",
       {.failing_grades = 2},
       0,
       0,
       2,
       sild::v1::RISK_TIER_1},
      {"seven failing grades",
       {.failing_grades = 7},
       0,
       0,
       2,
       sild::v1::RISK_TIER_1},
      {"3 points is tier 2",
       {.lessons = 100, .absences = 10, .failing_grades = 1},
       2,
       0,
       1,
       sild::v1::RISK_TIER_2},
      {"4 points is tier 2",
       {.lessons = 100, .absences = 10, .failing_grades = 2},
       2,
       0,
       2,
       sild::v1::RISK_TIER_2},
      {"5 points is tier 3",
       {.lessons = 100,
        .absences = 10,
        .behaviour_incidents = 1,
        .failing_grades = 2},
       2,
       1,
       2,
       sild::v1::RISK_TIER_3},
      {"6 points is tier 3",
       {.lessons = 100,
        .absences = 50,
        .behaviour_incidents = 9,
        .failing_grades = 3},
       2,
       2,
       2,
       sild::v1::RISK_TIER_3},
      {"negative counts count as none",
       {.lessons = -1,
        .absences = -1,
        .behaviour_incidents = -4,
        .failing_grades = -2},
       0,
       0,
       0,
       sild::v1::RISK_TIER_1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const AbcScore score = ScoreAbc(c.inputs);
    EXPECT_EQ(score.attendance_points, c.attendance);
    EXPECT_EQ(score.behaviour_points, c.behaviour);
    EXPECT_EQ(score.course_points, c.course);
    EXPECT_EQ(score.total(), c.attendance + c.behaviour + c.course);
    EXPECT_EQ(score.tier, c.tier);
  }
}

}  // namespace
}  // namespace sild::connectors
