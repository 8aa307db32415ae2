// VhostUserSession: one frontend connection of a VhostUserBackend — the
// protocol state the frontend builds up (features, memory table, per-queue
// settings) and the running queues it leads to.
//
// Requests are decoded strictly (vhost_user_requests.h). A malformed
// message, an unknown request without need_reply, or a refused setting
// without need_reply ends the session with one log line naming the request
// and the reason; with need_reply a refusal is a failure ack and the
// session goes on.
//
// A queue starts once it has a size, ring addresses, a kick fd, memory, and
// is enabled (rings start enabled unless VHOST_USER_F_PROTOCOL_FEATURES was
// acked, then they wait for SET_VRING_ENABLE). Then a DeviceQueue runs over
// the MappedGuestMemory; kicks pop chains to the device, and completions
// (Complete) push them back and signal the call eventfd when the driver
// wants it (FlushCalls, after each event). A ring the driver broke stops
// that queue with a log line; the session goes on.
//
// Ownership and threading: owns the socket, the memory mappings and the
// queue fds; borrows the device (which outlives it). Made, used and
// destroyed on the backend's loop thread. The destructor stops every queue
// (OnQueueStopped) before the memory is unmapped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "virtio/backend/backend_device.h"
#include "virtio/backend/device_queue.h"
#include "virtio/backend/hostile_options.h"
#include "virtio/backend/mapped_guest_memory.h"
#include "runtime/unique_fd.h"
#include "virtio/backend/vhost_user_requests.h"

namespace trellis::virtio::backend {

using LogFn = std::function<void(const std::string& line)>;

// The transport feature bits every backend offers, beside the device's.
uint64_t BackendTransportFeatures();
// The protocol features offered: REPLY_ACK, CONFIG and MQ (GET_QUEUE_NUM).
uint64_t BackendProtocolFeatures();

class VhostUserSession final : public DeviceContext {
 public:
  VhostUserSession(UniqueFd socket, BackendDevice& device, HostileOptions hostile, LogFn log,
                   std::string name, std::chrono::milliseconds io_timeout);
  ~VhostUserSession();
  VhostUserSession(const VhostUserSession&) = delete;
  VhostUserSession& operator=(const VhostUserSession&) = delete;

  int socket_fd() const { return socket_.get(); }
  const std::string& name() const { return name_; }

  // Reads and handles one request. Returns the reason to close the
  // connection (already logged unless it is a plain hang-up), or nullopt to
  // go on.
  std::optional<std::string> OnSocketReadable();

  // The kick eventfd of queue `index` if the queue is running, else -1.
  int kick_fd(size_t index) const;
  size_t num_queues() const { return vrings_.size(); }
  // Queue `index`'s kick fd is readable: drain it and process the ring.
  void OnKick(size_t index);
  // Signals the driver for each queue with pushes it wants to hear about.
  void FlushCalls();

  void Complete(size_t queue, uint16_t head, uint32_t written) override;

 private:
  struct Vring {
    uint32_t num = 0;  // 0 until SET_VRING_NUM.
    uint16_t base = 0;
    std::optional<vhost_user::VringAddr> addr;
    UniqueFd kick;
    UniqueFd call;
    std::optional<bool> enabled;  // Until SET_VRING_ENABLE: the default.
    std::optional<DeviceQueue> queue;
    uint64_t pushes = 0;
    bool pending_call = false;
    bool force_call = false;  // A misbehaving push: always signal it.
  };

  // A setting the backend refuses (kAborted): a failure ack with need_reply.
  static std::unexpected<Error> Refuse(const std::string& reason);

  Result<void> Handle(ReceivedRequest& request);
  Result<void> HandleVringRequest(ReceivedRequest& request);
  Result<void> Reply(const ReceivedRequest& request, std::span<const std::byte> payload);
  Result<void> SetMemTable(ReceivedRequest& request);
  Result<void> GetConfig(const ReceivedRequest& request);
  Result<void> SetVringFd(ReceivedRequest& request);
  void Reset();

  // Starts queue `index` if all its settings are there (no-op otherwise).
  Result<void> TryStart(size_t index);
  // Stops a running queue, keeping where it stopped as its base.
  void StopQueue(size_t index);
  // StopQueue, then TryStart with the new settings.
  Result<void> Restart(size_t index);
  void ProcessRing(size_t index);
  void Log(const std::string& line) const { log_(name_ + ": " + line); }

  UniqueFd socket_;
  BackendDevice& device_;
  const HostileOptions hostile_;
  const LogFn log_;
  const std::string name_;
  const std::chrono::milliseconds io_timeout_;

  uint64_t features_ = 0;           // Acked with SET_FEATURES.
  uint64_t protocol_features_ = 0;  // Acked with SET_PROTOCOL_FEATURES.
  std::unique_ptr<MappedGuestMemory> memory_;
  std::vector<Vring> vrings_;
  uint64_t completions_ = 0;
  bool stalled_ = false;
};

}  // namespace trellis::virtio::backend
