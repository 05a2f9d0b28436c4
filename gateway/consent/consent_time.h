// Conversions between absl::Time and google.protobuf.Timestamp for the
// consent registry. Times are kept to the millisecond, the precision of the
// store's time columns, so a payload and its row always agree.
// Internal to gateway/consent. Thread-safe; no state.
#ifndef SILD_GATEWAY_CONSENT_CONSENT_TIME_H_
#define SILD_GATEWAY_CONSENT_CONSENT_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace sild::consent_time {

inline absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  const int64_t ms = absl::ToUnixMillis(t);
  int64_t seconds = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(millis * 1000000));
  return ts;
}

inline int64_t ToMillis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

}  // namespace sild::consent_time

#endif  // SILD_GATEWAY_CONSENT_CONSENT_TIME_H_
