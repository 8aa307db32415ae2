// The VirtIO core library (trellis_virtio), table of contents. See
// ../shared/DESIGN.md, section "VirtIO".
//
//   features.h        feature bits, status bits, DeviceType, names for errors
//   device_driver.h   VirtioDeviceDriver: what a device driver tells the framework
//   transport.h       VirtioTransport: status/feature/reset access (vhost-user later)
//   initialize.h      InitializeDevice: the status sequence and feature negotiation
//   ring_layout.h     split ring structures, sizes, vring_need_event
//   ring_barriers.h   the memory ordering of ring accesses, in one place
//   split_queue.h     SplitQueue: the driver side of a split virtqueue
//
// Device side (trellis_virtio_backend), for our own backends and tests:
//   backend/guest_memory.h  device address -> host pointer translation
//   backend/device_queue.h  DeviceQueue, with a hostile mode (Misbehaviour)
//
// Tests: testing/queue_pair.h (both sides over one region), *_test.cc;
// fuzz/split_queue_fuzz.cc (TRELLIS_BUILD_FUZZERS, cmake/Fuzzing.cmake).
#pragma once

#include "virtio/device_driver.h"
#include "virtio/features.h"
#include "virtio/initialize.h"
#include "virtio/split_queue.h"
#include "virtio/transport.h"
