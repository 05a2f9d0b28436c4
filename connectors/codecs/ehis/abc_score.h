// ABC early-warning score: attendance, behaviour and course performance
// points and the resulting support tier (docs/codecs.md, DOMAIN.md).
//
//   AbcScore score = ScoreAbc({.lessons = 220, .absences = 31,
//                              .behaviour_incidents = 0, .failing_grades = 1});
//   // 31/220 = 14.1% >= 10%: 2 + 0 + 1 = 3 points, RISK_TIER_2
//
// Rules: absences below 5% of lessons 0 points, 5% to 9.9% (at risk) 1
// point, 10% or more (chronic) 2 points; behaviour incidents 0 / 1-2 / 3+
// give 0 / 1 / 2 points; failing annual grades 0 / 1 / 2+ give 0 / 1 / 2
// points; 0-2, 3-4 and 5-6 points are tiers 1, 2 and 3. No lessons recorded
// gives 0 attendance points (nothing to measure). Negative inputs count as 0.
//
// A pure function: no state, thread-safe.
#ifndef SILD_CONNECTORS_CODECS_EHIS_ABC_SCORE_H_
#define SILD_CONNECTORS_CODECS_EHIS_ABC_SCORE_H_

#include <cstdint>

#include "sild/v1/assessment.pb.h"

namespace sild::connectors {

struct AbcInputs {
  // Lessons (or school days) in the period, and absences in the same unit.
  int64_t lessons = 0;
  int64_t absences = 0;
  int64_t behaviour_incidents = 0;
  int64_t failing_grades = 0;
};

struct AbcScore {
  int attendance_points = 0;
  int behaviour_points = 0;
  int course_points = 0;
  sild::v1::RiskTier tier = sild::v1::RISK_TIER_1;

  int total() const {
    return attendance_points + behaviour_points + course_points;
  }
};

AbcScore ScoreAbc(const AbcInputs& inputs);

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_CODECS_EHIS_ABC_SCORE_H_
