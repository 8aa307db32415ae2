#include "power/driver_latency.h"

#include <algorithm>
#include <bit>

namespace trellis::power {

namespace {

uint64_t Median(std::vector<uint64_t> values) {
  if (values.empty()) return 0;
  auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  return *mid;
}

// Regressed: more than twice the median of at least 4 earlier callbacks,
// and over 1 ms (below that, scheduling noise doubles times).
constexpr size_t kMinEarlier = 4;
constexpr uint64_t kNoiseFloorUs = 1000;

}  // namespace

void DriverLatencies::Histogram::Add(uint64_t us, uint64_t target) {
  if (count > 0) {
    earlier.push_back(last_us);
    if (earlier.size() > kWindow) earlier.pop_front();
  }
  ++count;
  size_t bucket = us == 0 ? 0 : static_cast<size_t>(std::bit_width(us) - 1);
  ++buckets[std::min(bucket, kBuckets - 1)];
  last_us = us;
  max_us = std::max(max_us, us);
  target_us = target;
  if (target > 0 && us > target) ++over_target;
}

void DriverLatencies::Histogram::Fill(v1::LatencyHistogram& out) const {
  out.set_count(count);
  for (uint64_t b : buckets) out.add_buckets(b);
  out.set_last_us(last_us);
  out.set_max_us(max_us);
  const uint64_t median = Median({earlier.begin(), earlier.end()});
  out.set_median_us(median);
  out.set_target_us(target_us);
  out.set_over_target(over_target);
  out.set_regressed(earlier.size() >= kMinEarlier && last_us > kNoiseFloorUs &&
                    last_us > 2 * median);
}

void DriverLatencies::Record(const std::string& node_path, const std::string& driver,
                             Phase phase, std::chrono::microseconds took,
                             std::chrono::milliseconds target) {
  auto key = std::pair(node_path, driver);
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (entries_.size() >= kMaxDrivers) return;
    it = index_.emplace(key, entries_.size()).first;
    entries_.push_back(Entry{.node_path = node_path, .driver = driver});
  }
  Entry& entry = entries_[it->second];
  const auto us = static_cast<uint64_t>(std::max<int64_t>(took.count(), 0));
  const auto target_us =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(target).count());
  (phase == Phase::kSuspend ? entry.suspend : entry.resume).Add(us, target_us);
}

void DriverLatencies::Fill(v1::SuspendStats& stats) const {
  for (const auto& entry : entries_) {
    auto* out = stats.add_drivers();
    out->set_driver(entry.driver);
    out->set_node_path(entry.node_path);
    entry.suspend.Fill(*out->mutable_suspend());
    entry.resume.Fill(*out->mutable_resume());
  }
}

}  // namespace trellis::power
