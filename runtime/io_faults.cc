#include "runtime/io_faults.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace trellis {

Result<std::shared_ptr<SeededIoFaults>> SeededIoFaults::FromSpec(const std::string& spec) {
  auto colon = spec.find(':');
  uint64_t seed = 0;
  unsigned per_mille = 0;
  auto parse = [](std::string_view text, auto& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
  };
  if (colon == std::string::npos || !parse(std::string_view(spec).substr(0, colon), seed) ||
      !parse(std::string_view(spec).substr(colon + 1), per_mille) || per_mille > 333) {
    return Fail(ErrorCode::kInvalidArgument,
                "io fault spec '" + spec + "' is not SEED:PER_MILLE with PER_MILLE at most 333");
  }
  return std::make_shared<SeededIoFaults>(seed, per_mille);
}

int32_t SeededIoFaults::Rewrite(bool is_read, int32_t result) {
  (void)is_read;
  MutexLock lock(mu_);
  ++counts_.seen;
  unsigned roll = static_cast<unsigned>(rng_() % 1000);
  if (roll < per_mille_) {
    if (result > 1) {
      ++counts_.shortened;
      return 1 + static_cast<int32_t>(rng_() % static_cast<uint64_t>(result - 1));
    }
    return result;
  }
  if (roll < 2 * per_mille_) {
    ++counts_.eagain;
    return -EAGAIN;
  }
  if (roll < 3 * per_mille_) {
    ++counts_.eio;
    return -EIO;
  }
  return result;
}

void SeededIoFaults::Reorder(std::span<size_t> order) {
  if (order.size() < 2) return;
  MutexLock lock(mu_);
  std::shuffle(order.begin(), order.end(), rng_);
  ++counts_.reordered_turns;
}

IoFaultCounts SeededIoFaults::counts() const {
  MutexLock lock(mu_);
  return counts_;
}

}  // namespace trellis
