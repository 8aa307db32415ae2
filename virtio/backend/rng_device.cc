#include "virtio/backend/rng_device.h"

#include <sys/random.h>

#include <cerrno>
#include <limits>

#include "virtio/entropy_layout.h"

namespace trellis::virtio::backend {

namespace {

// Fills `buffer` with random bytes; returns how many it got (all, unless
// getrandom fails, which it does not for the urandom pool once seeded).
size_t FillRandom(std::span<std::byte> buffer) {
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t n = ::getrandom(buffer.data() + done, buffer.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

size_t RngDevice::num_queues() const { return entropy::kNumQueues; }

void RngDevice::OnChain(DeviceContext& context, size_t queue, const DeviceChain& chain) {
  if (queue != entropy::kRequestQueue || !chain.readable.empty()) {
    context.Complete(queue, chain.head, 0);
    return;
  }
  uint64_t written = 0;
  for (std::span<std::byte> buffer : chain.writable) {
    const size_t n = FillRandom(buffer);
    written += n;
    if (n < buffer.size()) break;
  }
  // A chain's writable bytes fit u32 when it was walked with u32 lengths,
  // but a long chain of long buffers may not: report at most what fits.
  const uint64_t cap = std::numeric_limits<uint32_t>::max();
  context.Complete(queue, chain.head, static_cast<uint32_t>(written < cap ? written : cap));
}

}  // namespace trellis::virtio::backend
