// BackendDevice: what a device implements to be served by VhostUserBackend
// (vhost_user_backend.h), and DeviceContext, what the backend offers it back.
//
// The backend owns the protocol and the rings; the device owns the device's
// meaning. When the driver makes chains available, the backend pops them and
// hands each to OnChain; the device completes a chain (DeviceContext::
// Complete) at once or keeps a copy and completes it later, for example when
// input arrives on its input fd, which the backend polls for it. A chain's
// spans point into guest memory: they are valid until the device completes
// the chain or OnQueueStopped(queue) is called, whichever is first; after
// OnQueueStopped the device must drop every chain it kept for that queue.
//
// Threading: every method runs on the backend's loop thread, and
// DeviceContext may only be used there, during one of these calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "virtio/backend/device_queue.h"
#include "virtio/features.h"

namespace trellis::virtio::backend {

class DeviceContext {
 public:
  // Returns chain `head` of `queue` to the driver with `written` bytes
  // written into its writable buffers, and notifies the driver (once per
  // batch, as it asked). Ignored if the queue is not running (the chain was
  // dropped with OnQueueStopped). A push the ring refuses stops the queue
  // with a log line.
  virtual void Complete(size_t queue, uint16_t head, uint32_t written) = 0;

 protected:
  ~DeviceContext() = default;
};

class BackendDevice {
 public:
  virtual ~BackendDevice() = default;

  virtual DeviceType type() const = 0;
  // Device-specific feature bits (0-23, 50-63) offered to the driver; the
  // backend adds the transport ones.
  virtual uint64_t features() const = 0;
  // The configuration space (GET_CONFIG reads from it); may be empty.
  virtual std::vector<std::byte> config() const = 0;
  virtual size_t num_queues() const = 0;

  // A chain the driver made available on `queue`.
  virtual void OnChain(DeviceContext& context, size_t queue, const DeviceChain& chain) = 0;
  // `queue` stopped (GET_VRING_BASE, new memory, disconnect, a broken ring):
  // drop the chains kept for it.
  virtual void OnQueueStopped(size_t /*queue*/) {}

  // An fd the backend should poll for POLLIN now, or -1. Asked before every
  // poll, so a device stops being asked to read by returning -1 (a full
  // buffer, end of input).
  virtual int input_fd() const { return -1; }
  // input_fd() is readable (or hung up). Runs with or without a connected
  // driver; `context` then completes nothing (no queue is running).
  virtual void OnInputReady(DeviceContext& /*context*/) {}
};

}  // namespace trellis::virtio::backend
