// VhostUserFrontend: typed vhost-user control calls to one backend, the
// driver side of the protocol (what QEMU's hw/virtio/vhost-user.c does).
//
// Setup order that QEMU uses and libvhost-user backends (qemu-storage-daemon)
// expect:
//   GetFeatures, GetProtocolFeatures, SetProtocolFeatures, SetOwner,
//   GetConfig; SetFeatures, SetMemTable; per queue SetVringNum,
//   SetVringBase, SetVringAddr, SetVringKick, SetVringCall, then
//   SetVringEnable(true). GetVringBase stops a ring and returns where the
//   backend stopped reading the avail ring.
//
// These are BLOCKING CONTROL-PATH calls, for setup and teardown: each sends
// one request and waits (poll) for its reply or acknowledgement, bounded by
// the options' timeout. The data path never goes through here: it is the
// rings in shared memory plus the kick/call eventfds.
//
// Once REPLY_ACK is negotiated (SetProtocolFeatures with that bit), every
// call without a reply of its own asks for an acknowledgement, so each
// setting is confirmed; a non-zero ack is an error.
//
// A connection that saw a transport or protocol error (hang-up, timeout, a
// malformed reply) is out of step with the backend: every later call fails
// with kFailedPrecondition naming the first error. Make a new frontend.
//
// Errors carry the backend: "vhost-user backend /run/x.sock: GET_CONFIG reply
// has 12 bytes, expected 72". Codes: kUnavailable (backend gone or not
// listening), kDeadlineExceeded (no answer in time; the request's outcome is
// unknown), kInternal (the backend broke the protocol), kAborted (the backend
// refused a setting: non-zero ack, or an empty GET_CONFIG reply),
// kInvalidArgument (bad arguments, checked before anything is sent).
//
// Owns its socket; move-only; one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "virtio/vhost_user/connection.h"
#include "virtio/vhost_user/message.h"

namespace trellis::vhost_user {

struct FrontendOptions {
  // Bound on connecting and on each call (send + reply).
  std::chrono::milliseconds timeout{5000};
};

class VhostUserFrontend {
 public:
  // Connects to the backend listening at `path` (see Connection::Connect).
  static Result<VhostUserFrontend> Connect(const std::string& path, FrontendOptions options = {});

  VhostUserFrontend(VhostUserFrontend&&) noexcept = default;
  VhostUserFrontend& operator=(VhostUserFrontend&&) noexcept = default;

  // Virtio feature bits the backend offers / the ones the driver accepted.
  Result<uint64_t> GetFeatures();
  Result<void> SetFeatures(uint64_t features);

  // Needs feature bit 30 (kFeatureProtocolFeatures) offered by the backend.
  Result<uint64_t> GetProtocolFeatures();
  // Also turns on acknowledged set-calls when `features` has REPLY_ACK.
  Result<void> SetProtocolFeatures(uint64_t features);

  Result<void> SetOwner();

  // Queues the backend supports. Errors: kFailedPrecondition unless MQ was
  // negotiated with SetProtocolFeatures.
  Result<uint64_t> GetQueueNum();

  // `size` bytes of the device's config space from `offset`. Needs CONFIG
  // negotiated (kFailedPrecondition otherwise). Asks for bytes [0,
  // offset + size) and returns the tail: libvhost-user ignores the offset
  // field and always answers from the start. Errors: kAborted when the
  // backend refuses (an empty reply; libvhost-user-blk does for more than
  // sizeof(virtio_blk_config)); kInvalidArgument if offset + size > 256.
  Result<std::vector<std::byte>> GetConfig(uint32_t offset, uint32_t size);

  // Shares the regions (one fd each, borrowed: sent, not closed). The
  // backend maps them; ring addresses are then given in userspace_addr terms
  // and buffer addresses in guest_phys_addr terms.
  Result<void> SetMemTable(std::span<const MemoryRegion> regions);

  Result<void> SetVringNum(uint32_t index, uint32_t num);
  Result<void> SetVringBase(uint32_t index, uint32_t base);
  Result<void> SetVringAddr(const VringAddr& addr);
  // `fd` is an eventfd (borrowed), or -1 for none (sends the no-fd bit).
  // Kick: the driver writes it to notify the device. Call: the device writes
  // it when it has used buffers.
  Result<void> SetVringKick(uint32_t index, int fd);
  Result<void> SetVringCall(uint32_t index, int fd);
  Result<void> SetVringEnable(uint32_t index, bool enable);
  // Stops the ring; returns the backend's next avail index to read.
  Result<uint32_t> GetVringBase(uint32_t index);

  const std::string& path() const { return connection_.path(); }
  // The socket, for watching it for a hang-up (never read or write it).
  int fd() const { return connection_.fd(); }
  uint64_t protocol_features() const { return protocol_features_; }
  bool reply_ack() const { return reply_ack_; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  void set_timeout(std::chrono::milliseconds timeout) { options_.timeout = timeout; }

 private:
  VhostUserFrontend(Connection connection, FrontendOptions options)
      : connection_(std::move(connection)), options_(options) {}

  // Sends `request` and reads a reply payload of exactly `reply_size` bytes.
  Result<std::vector<std::byte>> Call(Request request, std::span<const std::byte> payload,
                                      std::span<const int> fds, uint32_t reply_size);
  // Sends a request without a reply of its own; waits for the ack when
  // REPLY_ACK is on.
  Result<void> CallSet(Request request, std::span<const std::byte> payload,
                       std::span<const int> fds = {});
  Result<void> SetVringFd(Request request, uint32_t index, int fd);
  // The body of Call/CallSet; errors here break the connection.
  Result<std::vector<std::byte>> Exchange(Request request, std::span<const std::byte> payload,
                                          std::span<const int> fds, bool need_reply,
                                          std::optional<uint32_t> reply_size);
  Error WithBackend(Error error) const;

  Connection connection_;
  FrontendOptions options_;
  uint64_t protocol_features_ = 0;
  bool reply_ack_ = false;
  std::optional<Error> broken_;
};

}  // namespace trellis::vhost_user
