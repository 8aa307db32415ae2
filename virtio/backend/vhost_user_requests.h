// Strict decoding of vhost-user REQUESTS, the backend's side of the wire
// format in virtio/vhost_user/message.h (docs/interop/vhost-user.rst).
//
// The frontend is untrusted. Before a request is acted on, it is checked
// against what that request must look like: version 1 and no reply flag, the
// exact payload size for the request, the number of file descriptors that
// came with it (SET_MEM_TABLE: one per region; SET_VRING_KICK/CALL/ERR: one,
// or none with the no-fd bit; everything else: none), the queue index
// against the device's queue count, and for SET_MEM_TABLE the region count,
// zero sizes, address overflow and overlaps. Every error is
// kInvalidArgument and names the request: "SET_VRING_NUM: queue index 7 out
// of range (2 queues)". The caller closes the connection on any of them.
//
// Pure functions over a received message: no I/O, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/unique_fd.h"
#include "virtio/vhost_user/message.h"

namespace trellis::virtio::backend {

// The largest payload a request may announce; anything bigger is refused
// before it is read (SET_MEM_TABLE with 8 regions is 264 bytes, GET_CONFIG
// at most 268).
inline constexpr uint32_t kMaxRequestPayload = 4096;

// One request as it came off the socket. Owns the fds that came with it.
struct ReceivedRequest {
  vhost_user::Header header{};
  std::vector<std::byte> payload;
  std::vector<UniqueFd> fds;

  vhost_user::Request request() const { return static_cast<vhost_user::Request>(header.request); }
  bool need_reply() const { return (header.flags & vhost_user::kFlagNeedReply) != 0; }
  std::string name() const { return vhost_user::RequestName(header.request); }
};

// Whether we know `request` (and so can check its size and fds).
bool IsKnownRequest(uint32_t request);

// The header check every request gets: version 1, no reply flag, payload at
// most kMaxRequestPayload. Runs on the header alone, before the payload is
// read.
Result<void> CheckRequestHeader(const vhost_user::Header& header);

// For a known request: the payload size (exact, or for SET_MEM_TABLE and
// GET_CONFIG consistent with their own count/size fields) and the fd count.
// Unknown requests pass (the caller refuses them).
Result<void> CheckRequestShape(const ReceivedRequest& request);

// SET_FEATURES / SET_PROTOCOL_FEATURES: the u64.
Result<uint64_t> DecodeU64Request(const ReceivedRequest& request);

// SET_VRING_NUM / SET_VRING_BASE / SET_VRING_ENABLE / GET_VRING_BASE, with
// index < num_queues.
Result<vhost_user::VringState> DecodeVringStateRequest(const ReceivedRequest& request,
                                                       size_t num_queues);

// SET_VRING_ADDR, with index < num_queues and no flag bits but LOG (which
// we ignore: we offer no logging).
Result<vhost_user::VringAddr> DecodeVringAddrRequest(const ReceivedRequest& request,
                                                     size_t num_queues);

// SET_VRING_KICK / SET_VRING_CALL / SET_VRING_ERR: the queue and its fd (an
// invalid UniqueFd with the no-fd bit). Moves the fd out of `request`.
struct VringFd {
  uint32_t index = 0;
  UniqueFd fd;
};
Result<VringFd> DecodeVringFdRequest(ReceivedRequest& request, size_t num_queues);

// SET_MEM_TABLE: 1 to 8 regions, each with a non-zero size, no 64-bit
// overflow of guest, user or mmap ranges, no two regions overlapping in
// guest-physical or in frontend-userspace addresses. Moves the fds out.
struct MemTableEntry {
  uint64_t guest_phys_addr = 0;
  uint64_t memory_size = 0;
  uint64_t userspace_addr = 0;
  uint64_t mmap_offset = 0;
  UniqueFd fd;
};
Result<std::vector<MemTableEntry>> DecodeMemTableRequest(ReceivedRequest& request);

// GET_CONFIG: the header (size 1 to kMaxConfigSize, matching the payload).
Result<vhost_user::ConfigHeader> DecodeGetConfigRequest(const ReceivedRequest& request);

// A reply to `request`: version 1, the reply flag, `payload`.
std::vector<std::byte> EncodeReply(uint32_t request, std::span<const std::byte> payload);

}  // namespace trellis::virtio::backend
