// DriverLatencies: each driver's suspend and resume callback times across
// cycles (log2 histograms), checked against the manifest's targets
// (power.suspend_target_ms, resume_target_ms) and against its own past: a
// callback more than twice the median of the earlier ones is a regression.
// `powerctl stats` shows them.
//
// Threading: the governor's dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "trellis/power/v1/power.pb.h"

namespace trellis::power {

class DriverLatencies {
 public:
  // Buckets [2^i, 2^(i+1)) µs for i < kBuckets - 1; the last holds the rest
  // (2^25 µs is over 30 s, past any callback deadline).
  static constexpr size_t kBuckets = 26;
  // Samples kept per driver and phase for the median.
  static constexpr size_t kWindow = 64;
  // Drivers tracked; later ones are not.
  static constexpr size_t kMaxDrivers = 4096;

  enum class Phase { kSuspend, kResume };

  // One callback of the driver at `node_path` took `took`; `target` is its
  // manifest target (0: none).
  void Record(const std::string& node_path, const std::string& driver, Phase phase,
              std::chrono::microseconds took, std::chrono::milliseconds target);
  // Appends one DriverLatency per driver, in the order first seen.
  void Fill(v1::SuspendStats& stats) const;

 private:
  struct Histogram {
    uint64_t count = 0;
    std::vector<uint64_t> buckets = std::vector<uint64_t>(kBuckets, 0);
    uint64_t last_us = 0, max_us = 0, target_us = 0, over_target = 0;
    std::deque<uint64_t> earlier;  // Before the last, up to kWindow.
    void Add(uint64_t us, uint64_t target);
    void Fill(v1::LatencyHistogram& out) const;
  };
  struct Entry {
    std::string node_path, driver;
    Histogram suspend, resume;
  };

  std::vector<Entry> entries_;
  std::map<std::pair<std::string, std::string>, size_t> index_;
};

}  // namespace trellis::power
