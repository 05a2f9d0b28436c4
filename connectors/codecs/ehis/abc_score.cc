#include "connectors/codecs/ehis/abc_score.h"

namespace sild::connectors {
namespace {

int CountPoints(int64_t count) {
  if (count <= 0) return 0;
  return count <= 2 ? 1 : 2;
}

}  // namespace

AbcScore ScoreAbc(const AbcInputs& inputs) {
  AbcScore score;
  if (inputs.lessons > 0 && inputs.absences > 0) {
    // Integer comparison of absences / lessons against 10% and 5%, so 9.99%
    // never rounds up into "chronic".
    const int64_t per_hundred = inputs.absences * 100;
    if (per_hundred >= inputs.lessons * 10) {
      score.attendance_points = 2;
    } else if (per_hundred >= inputs.lessons * 5) {
      score.attendance_points = 1;
    }
  }
  score.behaviour_points = CountPoints(inputs.behaviour_incidents);
  score.course_points =
      inputs.failing_grades <= 0 ? 0 : (inputs.failing_grades == 1 ? 1 : 2);
  const int total = score.total();
  score.tier = total <= 2   ? sild::v1::RISK_TIER_1
               : total <= 4 ? sild::v1::RISK_TIER_2
                            : sild::v1::RISK_TIER_3;
  return score;
}

}  // namespace sild::connectors
