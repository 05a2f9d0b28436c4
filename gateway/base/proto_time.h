// Conversions between absl::Time and google.protobuf.Timestamp at
// millisecond precision (the precision the store and the audit trail keep).
#ifndef SILD_GATEWAY_BASE_PROTO_TIME_H_
#define SILD_GATEWAY_BASE_PROTO_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace sild {

inline google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
      absl::ToUnixMillis(t));
}

inline int64_t ProtoTimeMillis(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::TimestampToMilliseconds(t);
}

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMillis(ProtoTimeMillis(t));
}

}  // namespace sild

#endif  // SILD_GATEWAY_BASE_PROTO_TIME_H_
