#include "virtio/backend/vhost_user_requests.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace trellis::virtio::backend {

using vhost_user::ConfigHeader;
using vhost_user::Header;
using vhost_user::Request;
using vhost_user::VringAddr;
using vhost_user::VringState;

namespace {

std::string Str(uint64_t n) { return std::to_string(n); }

std::unexpected<Error> Bad(const std::string& name, const std::string& reason) {
  return Fail(ErrorCode::kInvalidArgument, name + ": " + reason);
}

template <typename T>
T Load(std::span<const std::byte> bytes, size_t offset = 0) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Payload size a fixed-size request must have; -1 for variable / unknown.
int64_t FixedSize(Request request) {
  switch (request) {
    case Request::kGetFeatures:
    case Request::kGetProtocolFeatures:
    case Request::kGetQueueNum:
    case Request::kSetOwner:
    case Request::kResetOwner:
      return 0;
    case Request::kSetFeatures:
    case Request::kSetProtocolFeatures:
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kSetVringErr:
    case Request::kSetLogBase:
    case Request::kSetLogFd:
      return 8;
    case Request::kSetVringNum:
    case Request::kSetVringBase:
    case Request::kGetVringBase:
    case Request::kSetVringEnable:
      return sizeof(VringState);
    case Request::kSetVringAddr:
      return sizeof(VringAddr);
    case Request::kSetMemTable:
    case Request::kGetConfig:
    case Request::kSetConfig:
      return -1;
  }
  return -1;
}

Result<void> CheckIndex(const std::string& name, uint64_t index, size_t num_queues) {
  if (index >= num_queues) {
    return Bad(name,
               "queue index " + Str(index) + " out of range (" + Str(num_queues) + " queues)");
  }
  return Ok();
}

bool AddOverflows(uint64_t a, uint64_t b) { return a > std::numeric_limits<uint64_t>::max() - b; }

// Whether [a, a + a_len) and [b, b + b_len) intersect (no overflow: checked).
bool Overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) {
  return a < b + b_len && b < a + a_len;
}

}  // namespace

bool IsKnownRequest(uint32_t request) {
  return vhost_user::RequestName(request).rfind("request ", 0) != 0;
}

Result<void> CheckRequestHeader(const Header& header) {
  const std::string name = vhost_user::RequestName(header.request);
  if ((header.flags & vhost_user::kVersionMask) != vhost_user::kVersion) {
    return Bad(name, "version " + Str(header.flags & vhost_user::kVersionMask) + ", expected 1");
  }
  if ((header.flags & vhost_user::kFlagReply) != 0)
    return Bad(name, "a request with the reply flag");
  if (header.size > kMaxRequestPayload) {
    return Bad(name,
               "payload of " + Str(header.size) + " bytes, more than " + Str(kMaxRequestPayload));
  }
  return Ok();
}

Result<void> CheckRequestShape(const ReceivedRequest& r) {
  if (!IsKnownRequest(r.header.request)) return Ok();
  const std::string name = r.name();
  const size_t size = r.payload.size();
  const int64_t fixed = FixedSize(r.request());
  if (fixed >= 0 && size != static_cast<size_t>(fixed)) {
    return Bad(name, "payload of " + Str(size) + " bytes, expected " + Str(fixed));
  }
  size_t want_fds = 0;
  switch (r.request()) {
    case Request::kSetMemTable: {
      if (size < 8) return Bad(name, "payload of " + Str(size) + " bytes, expected at least 8");
      const uint32_t n = Load<uint32_t>(r.payload);
      if (n == 0 || n > vhost_user::kMaxMemoryRegions) {
        return Bad(name, Str(n) + " regions, expected 1 to " + Str(vhost_user::kMaxMemoryRegions));
      }
      const size_t expected = 8 + n * vhost_user::kMemoryRegionWireSize;
      if (size != expected) {
        return Bad(name, "payload of " + Str(size) + " bytes for " + Str(n) +
                             " regions, expected " + Str(expected));
      }
      want_fds = n;
      break;
    }
    case Request::kGetConfig:
    case Request::kSetConfig: {
      if (size < sizeof(ConfigHeader)) {
        return Bad(name, "payload of " + Str(size) + " bytes, shorter than its header");
      }
      const auto h = Load<ConfigHeader>(r.payload);
      if (size != sizeof(ConfigHeader) + uint64_t{h.size}) {
        return Bad(name, "payload of " + Str(size) + " bytes for " + Str(h.size) +
                             " config bytes, expected " + Str(sizeof(ConfigHeader) + h.size));
      }
      break;
    }
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kSetVringErr:
      want_fds = (Load<uint64_t>(r.payload) & vhost_user::kVringNoFd) ? 0 : 1;
      break;
    case Request::kSetLogFd:
      want_fds = 1;
      break;
    default:
      break;
  }
  if (r.fds.size() != want_fds) {
    return Bad(name, Str(r.fds.size()) + " file descriptors, expected " + Str(want_fds));
  }
  return Ok();
}

Result<uint64_t> DecodeU64Request(const ReceivedRequest& r) {
  if (r.payload.size() != 8) return Bad(r.name(), "payload is not a u64");
  return Load<uint64_t>(r.payload);
}

Result<VringState> DecodeVringStateRequest(const ReceivedRequest& r, size_t num_queues) {
  if (r.payload.size() != sizeof(VringState)) return Bad(r.name(), "payload is not a vring state");
  auto state = Load<VringState>(r.payload);
  TRELLIS_TRY(CheckIndex(r.name(), state.index, num_queues));
  return state;
}

Result<VringAddr> DecodeVringAddrRequest(const ReceivedRequest& r, size_t num_queues) {
  if (r.payload.size() != sizeof(VringAddr)) return Bad(r.name(), "payload is not a vring address");
  auto addr = Load<VringAddr>(r.payload);
  TRELLIS_TRY(CheckIndex(r.name(), addr.index, num_queues));
  if ((addr.flags & ~uint32_t{1}) != 0) {
    return Bad(r.name(), "unknown flags " + Str(addr.flags));
  }
  return addr;
}

Result<VringFd> DecodeVringFdRequest(ReceivedRequest& r, size_t num_queues) {
  if (r.payload.size() != 8) return Bad(r.name(), "payload is not a u64");
  const uint64_t value = Load<uint64_t>(r.payload);
  if ((value & ~(vhost_user::kVringIndexMask | vhost_user::kVringNoFd)) != 0) {
    return Bad(r.name(), "unknown bits in " + Str(value));
  }
  const bool no_fd = (value & vhost_user::kVringNoFd) != 0;
  if (r.fds.size() != (no_fd ? 0u : 1u)) {
    return Bad(r.name(), Str(r.fds.size()) + " file descriptors with the no-fd bit " +
                             (no_fd ? "set" : "clear"));
  }
  VringFd out{.index = static_cast<uint32_t>(value & vhost_user::kVringIndexMask)};
  TRELLIS_TRY(CheckIndex(r.name(), out.index, num_queues));
  if (!no_fd) out.fd = std::move(r.fds[0]);
  return out;
}

Result<std::vector<MemTableEntry>> DecodeMemTableRequest(ReceivedRequest& r) {
  TRELLIS_TRY(CheckRequestShape(r));
  const std::string name = r.name();
  const uint32_t n = Load<uint32_t>(r.payload);
  std::vector<MemTableEntry> regions(n);
  for (uint32_t i = 0; i < n; ++i) {
    const size_t at = 8 + size_t{i} * vhost_user::kMemoryRegionWireSize;
    MemTableEntry& e = regions[i];
    e.guest_phys_addr = Load<uint64_t>(r.payload, at);
    e.memory_size = Load<uint64_t>(r.payload, at + 8);
    e.userspace_addr = Load<uint64_t>(r.payload, at + 16);
    e.mmap_offset = Load<uint64_t>(r.payload, at + 24);
    const std::string region = "region " + Str(i);
    if (e.memory_size == 0) return Bad(name, region + " has size 0");
    if (AddOverflows(e.guest_phys_addr, e.memory_size) ||
        AddOverflows(e.userspace_addr, e.memory_size) ||
        AddOverflows(e.mmap_offset, e.memory_size)) {
      return Bad(name, region + " overflows 64 bits (size " + Str(e.memory_size) + ")");
    }
    for (uint32_t j = 0; j < i; ++j) {
      const MemTableEntry& o = regions[j];
      if (Overlap(e.guest_phys_addr, e.memory_size, o.guest_phys_addr, o.memory_size)) {
        return Bad(name, region + " overlaps region " + Str(j) + " in guest-physical addresses");
      }
      if (Overlap(e.userspace_addr, e.memory_size, o.userspace_addr, o.memory_size)) {
        return Bad(name, region + " overlaps region " + Str(j) + " in userspace addresses");
      }
    }
  }
  for (uint32_t i = 0; i < n; ++i) regions[i].fd = std::move(r.fds[i]);
  return regions;
}

Result<ConfigHeader> DecodeGetConfigRequest(const ReceivedRequest& r) {
  TRELLIS_TRY(CheckRequestShape(r));
  auto h = Load<ConfigHeader>(r.payload);
  if (h.size == 0 || h.size > vhost_user::kMaxConfigSize) {
    return Bad(r.name(),
               "size " + Str(h.size) + ", expected 1 to " + Str(vhost_user::kMaxConfigSize));
  }
  return h;
}

std::vector<std::byte> EncodeReply(uint32_t request, std::span<const std::byte> payload) {
  Header header{.request = request,
                .flags = vhost_user::kVersion | vhost_user::kFlagReply,
                .size = static_cast<uint32_t>(payload.size())};
  std::vector<std::byte> out(vhost_user::kHeaderSize + payload.size());
  std::memcpy(out.data(), &header, sizeof(header));
  if (!payload.empty())
    std::memcpy(out.data() + vhost_user::kHeaderSize, payload.data(), payload.size());
  return out;
}

}  // namespace trellis::virtio::backend
