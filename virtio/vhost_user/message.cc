#include "virtio/vhost_user/message.h"

#include <cstring>

#include "virtio/vhost_user/internal/format.h"

namespace trellis::vhost_user {

using internal::Format;

namespace {

template <typename T>
void Append(std::vector<std::byte>& out, const T& value) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

template <typename T>
T Load(std::span<const std::byte> bytes, size_t offset = 0) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

Result<void> CheckSize(Request request, std::span<const std::byte> payload, size_t expected) {
  if (payload.size() != expected) {
    return Fail(ErrorCode::kInternal, Format("{} reply has {} bytes, expected {}",
                                             RequestName(request), payload.size(), expected));
  }
  return Ok();
}

}  // namespace

std::string RequestName(uint32_t request) {
  switch (static_cast<Request>(request)) {
    case Request::kGetFeatures:
      return "GET_FEATURES";
    case Request::kSetFeatures:
      return "SET_FEATURES";
    case Request::kSetOwner:
      return "SET_OWNER";
    case Request::kResetOwner:
      return "RESET_OWNER";
    case Request::kSetMemTable:
      return "SET_MEM_TABLE";
    case Request::kSetLogBase:
      return "SET_LOG_BASE";
    case Request::kSetLogFd:
      return "SET_LOG_FD";
    case Request::kSetVringNum:
      return "SET_VRING_NUM";
    case Request::kSetVringAddr:
      return "SET_VRING_ADDR";
    case Request::kSetVringBase:
      return "SET_VRING_BASE";
    case Request::kGetVringBase:
      return "GET_VRING_BASE";
    case Request::kSetVringKick:
      return "SET_VRING_KICK";
    case Request::kSetVringCall:
      return "SET_VRING_CALL";
    case Request::kSetVringErr:
      return "SET_VRING_ERR";
    case Request::kGetProtocolFeatures:
      return "GET_PROTOCOL_FEATURES";
    case Request::kSetProtocolFeatures:
      return "SET_PROTOCOL_FEATURES";
    case Request::kGetQueueNum:
      return "GET_QUEUE_NUM";
    case Request::kSetVringEnable:
      return "SET_VRING_ENABLE";
    case Request::kGetConfig:
      return "GET_CONFIG";
    case Request::kSetConfig:
      return "SET_CONFIG";
  }
  return Format("request {}", request);
}

std::vector<std::byte> EncodeRequest(Request request, std::span<const std::byte> payload,
                                     bool need_reply) {
  Header header{
      .request = static_cast<uint32_t>(request),
      .flags = kVersion | (need_reply ? kFlagNeedReply : 0u),
      .size = static_cast<uint32_t>(payload.size()),
  };
  std::vector<std::byte> out;
  out.reserve(kHeaderSize + payload.size());
  Append(out, header);
  out.resize(kHeaderSize + payload.size());
  if (!payload.empty()) std::memcpy(out.data() + kHeaderSize, payload.data(), payload.size());
  return out;
}

std::vector<std::byte> EncodeU64(uint64_t value) {
  std::vector<std::byte> out;
  Append(out, value);
  return out;
}

std::vector<std::byte> EncodeVringState(VringState state) {
  std::vector<std::byte> out;
  Append(out, state);
  return out;
}

std::vector<std::byte> EncodeVringAddr(const VringAddr& addr) {
  std::vector<std::byte> out;
  Append(out, addr);
  return out;
}

Result<std::vector<std::byte>> EncodeMemTable(std::span<const MemoryRegion> regions) {
  if (regions.empty() || regions.size() > kMaxMemoryRegions) {
    return Fail(ErrorCode::kInvalidArgument, Format("SET_MEM_TABLE takes 1 to {} regions, not {}",
                                                    kMaxMemoryRegions, regions.size()));
  }
  std::vector<std::byte> out;
  out.reserve(8 + regions.size() * kMemoryRegionWireSize);
  Append(out, static_cast<uint32_t>(regions.size()));
  Append(out, uint32_t{0});  // padding
  for (const MemoryRegion& r : regions) {
    Append(out, r.guest_phys_addr);
    Append(out, r.memory_size);
    Append(out, r.userspace_addr);
    Append(out, r.mmap_offset);
  }
  return out;
}

Result<std::vector<std::byte>> EncodeConfigRequest(uint32_t offset, uint32_t size) {
  if (size == 0 || size > kMaxConfigSize) {
    return Fail(ErrorCode::kInvalidArgument,
                Format("GET_CONFIG size must be 1 to {} bytes, not {}", kMaxConfigSize, size));
  }
  std::vector<std::byte> out;
  out.reserve(sizeof(ConfigHeader) + size);
  Append(out, ConfigHeader{.offset = offset, .size = size, .flags = 0});
  out.resize(sizeof(ConfigHeader) + size, std::byte{0});
  return out;
}

Header DecodeHeader(std::span<const std::byte, kHeaderSize> bytes) { return Load<Header>(bytes); }

Result<void> CheckReply(const Header& header, Request request, uint32_t expected_size) {
  std::string name = RequestName(request);
  if ((header.flags & kVersionMask) != kVersion) {
    return Fail(ErrorCode::kInternal,
                Format("{} reply has version {}, expected {} (flags {:#x})", name,
                       header.flags & kVersionMask, kVersion, header.flags));
  }
  if ((header.flags & kFlagReply) == 0) {
    return Fail(ErrorCode::kInternal,
                Format("{} reply lacks the reply flag (flags {:#x})", name, header.flags));
  }
  if (header.request != static_cast<uint32_t>(request)) {
    return Fail(ErrorCode::kInternal,
                Format("reply to {} is for {}", name, RequestName(header.request)));
  }
  if (header.size != expected_size) {
    return Fail(ErrorCode::kInternal,
                Format("{} reply has {} bytes, expected {}", name, header.size, expected_size));
  }
  return Ok();
}

Result<uint64_t> DecodeU64(Request request, std::span<const std::byte> payload) {
  TRELLIS_TRY(CheckSize(request, payload, sizeof(uint64_t)));
  return Load<uint64_t>(payload);
}

Result<VringState> DecodeVringState(Request request, std::span<const std::byte> payload) {
  TRELLIS_TRY(CheckSize(request, payload, sizeof(VringState)));
  return Load<VringState>(payload);
}

Result<std::vector<std::byte>> DecodeConfigReply(std::span<const std::byte> payload,
                                                 uint32_t offset, uint32_t size) {
  TRELLIS_TRY(CheckSize(Request::kGetConfig, payload, sizeof(ConfigHeader) + size));
  auto header = Load<ConfigHeader>(payload);
  if (header.offset != offset || header.size != size) {
    return Fail(ErrorCode::kInternal,
                Format("GET_CONFIG reply is for offset {} size {}, asked offset {} size {}",
                       header.offset, header.size, offset, size));
  }
  auto config = payload.subspan(sizeof(ConfigHeader));
  return std::vector<std::byte>(config.begin(), config.end());
}

}  // namespace trellis::vhost_user
