// Conversions between std::chrono and the protobuf Duration/Timestamp the
// Power service speaks. Shared by the governor and the lease table.
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <chrono>

namespace trellis::power {

inline google::protobuf::Duration ToDuration(std::chrono::nanoseconds d) {
  return google::protobuf::util::TimeUtil::NanosecondsToDuration(d.count());
}

inline std::chrono::nanoseconds ToNanos(const google::protobuf::Duration& d) {
  return std::chrono::nanoseconds(google::protobuf::util::TimeUtil::DurationToNanoseconds(d));
}

inline std::chrono::milliseconds ToMillis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(google::protobuf::util::TimeUtil::DurationToMilliseconds(d));
}

inline google::protobuf::Timestamp ToTimestamp(std::chrono::system_clock::time_point t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace trellis::power
