// How the stores keep a time in an integer column: milliseconds since the
// Unix epoch, 0 for "never" (absl::InfinitePast()). Pure functions.
#ifndef SILD_GATEWAY_STORE_TIME_COLUMNS_H_
#define SILD_GATEWAY_STORE_TIME_COLUMNS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace sild {

inline int64_t MillisColumn(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixMillis(t);
}

inline absl::Time TimeFromMillisColumn(int64_t ms) {
  return ms == 0 ? absl::InfinitePast() : absl::FromUnixMillis(ms);
}

}  // namespace sild

#endif  // SILD_GATEWAY_STORE_TIME_COLUMNS_H_
