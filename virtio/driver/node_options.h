// The node properties every vhost-user virtio driver reads (virtio-blk,
// virtio-rng, virtio-console), parsed and range-checked in one place:
//   virtio.socket      string, required: the backend's vhost-user socket
//   virtio.queue_size  int: descriptors per queue, a power of two in 4..1024
//   virtio.timeout_ms  int, default 5000 (10..600000): bound on each control
//                      message, and on how long a request may sit in the
//                      device before the backend counts as stalled
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/driver/properties.h"
#include "runtime/error.h"

namespace trellis::virtio {

struct VirtioNodeOptions {
  std::string socket;
  uint16_t queue_size = 0;
  std::chrono::milliseconds timeout{5000};
};

// Errors: kInvalidArgument naming the property and what is wrong with it.
Result<VirtioNodeOptions> ParseVirtioNodeOptions(const NodeProperties& props,
                                                 uint16_t default_queue_size);

}  // namespace trellis::virtio
