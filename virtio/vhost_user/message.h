// The vhost-user wire format, frontend side: request numbers, the message
// header, payload layouts, and encoding of requests / strict decoding of
// replies (docs/interop/vhost-user.rst in QEMU).
//
// Every number on the wire is in native byte order. A message is a 12-byte
// Header followed by `size` bytes of payload; file descriptors travel beside
// it as SCM_RIGHTS ancillary data.
//
// The backend is untrusted: reply decoding checks the version, the reply
// flag, that the reply answers the request that was sent, and the exact
// payload size for that request, before a byte of payload is used. Every
// error names the request and what was wrong.
//
// Pure functions and plain structs: no I/O, no state, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.h"

namespace trellis::vhost_user {

enum class Request : uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetLogBase = 6,
  kSetLogFd = 7,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kSetVringErr = 14,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kGetConfig = 24,
  kSetConfig = 25,
};

// "GET_FEATURES", or "request 99" for a number we do not know.
std::string RequestName(uint32_t request);
inline std::string RequestName(Request request) {
  return RequestName(static_cast<uint32_t>(request));
}

// Header flags.
inline constexpr uint32_t kVersion = 0x1;
inline constexpr uint32_t kVersionMask = 0x3;
inline constexpr uint32_t kFlagReply = 1u << 2;
inline constexpr uint32_t kFlagNeedReply = 1u << 3;

// Virtio feature bit that says the backend speaks protocol features.
inline constexpr unsigned kFeatureProtocolFeatures = 30;
// Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
inline constexpr unsigned kProtocolFeatureMq = 0;
inline constexpr unsigned kProtocolFeatureReplyAck = 3;
inline constexpr unsigned kProtocolFeatureConfig = 9;

// SET_VRING_KICK/CALL payload: queue index in the low byte; this bit set
// means no fd is attached (the ring is polled / not signalled).
inline constexpr uint64_t kVringIndexMask = 0xff;
inline constexpr uint64_t kVringNoFd = 0x100;

// SET_MEM_TABLE carries at most this many regions (one fd each).
inline constexpr size_t kMaxMemoryRegions = 8;
// The largest config space GET_CONFIG may ask for.
inline constexpr uint32_t kMaxConfigSize = 256;

struct Header {
  uint32_t request;
  uint32_t flags;
  uint32_t size;  // Payload bytes that follow.
};
static_assert(sizeof(Header) == 12);
inline constexpr size_t kHeaderSize = sizeof(Header);

// One SET_MEM_TABLE region as the frontend describes it. `fd` is borrowed:
// it must stay open until the call that sends it returns.
struct MemoryRegion {
  uint64_t guest_phys_addr = 0;
  uint64_t memory_size = 0;
  uint64_t userspace_addr = 0;
  uint64_t mmap_offset = 0;
  int fd = -1;
};
// Wire size of one region (the fd is not in the payload).
inline constexpr size_t kMemoryRegionWireSize = 32;

// SET_VRING_NUM / SET_VRING_BASE / GET_VRING_BASE / SET_VRING_ENABLE.
struct VringState {
  uint32_t index;
  uint32_t num;
};
static_assert(sizeof(VringState) == 8);

// SET_VRING_ADDR: ring addresses in the FRONTEND's address space.
struct VringAddr {
  uint32_t index = 0;
  uint32_t flags = 0;  // Bit 0: log used-ring writes (VHOST_VRING_F_LOG).
  uint64_t desc = 0;
  uint64_t used = 0;
  uint64_t avail = 0;
  uint64_t log = 0;
};
static_assert(sizeof(VringAddr) == 40);

// GET_CONFIG / SET_CONFIG payload header; `size` bytes of config follow.
struct ConfigHeader {
  uint32_t offset;
  uint32_t size;
  uint32_t flags;
};
static_assert(sizeof(ConfigHeader) == 12);

// --- Encoding (requests) ---------------------------------------------------

// A whole request: header (version 1, need_reply if asked) + payload.
std::vector<std::byte> EncodeRequest(Request request, std::span<const std::byte> payload,
                                     bool need_reply);

std::vector<std::byte> EncodeU64(uint64_t value);
std::vector<std::byte> EncodeVringState(VringState state);
std::vector<std::byte> EncodeVringAddr(const VringAddr& addr);
// Errors: kInvalidArgument for no regions or more than kMaxMemoryRegions.
Result<std::vector<std::byte>> EncodeMemTable(std::span<const MemoryRegion> regions);
// A GET_CONFIG request for `size` bytes at `offset` (flags 0); the payload
// carries `size` zero bytes, as the protocol wants.
// Errors: kInvalidArgument for size 0 or above kMaxConfigSize.
Result<std::vector<std::byte>> EncodeConfigRequest(uint32_t offset, uint32_t size);

// --- Decoding (replies) ----------------------------------------------------

Header DecodeHeader(std::span<const std::byte, kHeaderSize> bytes);

// Checks a reply header against the request it answers and the payload size
// that request's reply must have. Any other flag bits are ignored
// (libvhost-user echoes the request's need_reply bit in some replies).
// Errors (kInternal: the backend broke the protocol): wrong version, no reply
// flag, a reply to another request, a payload of another size.
Result<void> CheckReply(const Header& header, Request request, uint32_t expected_size);

// Exactly 8 bytes (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, acks).
Result<uint64_t> DecodeU64(Request request, std::span<const std::byte> payload);
// Exactly 8 bytes (GET_VRING_BASE).
Result<VringState> DecodeVringState(Request request, std::span<const std::byte> payload);
// A GET_CONFIG reply to (offset, size): exactly 12 + size bytes, echoing the
// offset and size; returns the config bytes.
Result<std::vector<std::byte>> DecodeConfigReply(std::span<const std::byte> payload,
                                                 uint32_t offset, uint32_t size);

}  // namespace trellis::vhost_user
