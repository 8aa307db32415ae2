// The virtio-blk wire format (VIRTIO 1.2, section 5.2): feature bits, the
// configuration space, request headers and status bytes, and the pure
// functions the driver builds its view of the device from. The device is
// untrusted: everything it wrote is checked here before the driver uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "runtime/driver/block_protocol.h"
#include "runtime/error.h"

namespace trellis::virtio_blk {

// Device feature bits.
inline constexpr int kFeatureSizeMax = 1;
inline constexpr int kFeatureSegMax = 2;
inline constexpr int kFeatureGeometry = 4;
inline constexpr int kFeatureReadOnly = 5;
inline constexpr int kFeatureBlockSize = 6;
inline constexpr int kFeatureFlush = 9;
inline constexpr int kFeatureTopology = 10;
inline constexpr int kFeatureConfigWce = 11;
inline constexpr int kFeatureMultiQueue = 12;
inline constexpr int kFeatureDiscard = 13;
inline constexpr int kFeatureWriteZeroes = 14;

inline constexpr uint64_t Bit(int feature) { return uint64_t{1} << feature; }

// The device-specific features the driver accepts of `offered` (pure).
uint64_t AcceptedFeatures(uint64_t offered);

// Request types (virtio_blk_req.type).
enum class RequestType : uint32_t {
  kIn = 0,
  kOut = 1,
  kFlush = 4,
  kGetId = 8,
  kDiscard = 11,
  kWriteZeroes = 13,
};

// The device-readable header of every request.
struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;  // In 512-byte sectors, whatever the block size.
};
static_assert(sizeof(RequestHeader) == 16);

// The payload of a discard or write-zeroes request (one segment).
struct DiscardSegment {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;  // Bit 0: unmap (write-zeroes may deallocate).
};
static_assert(sizeof(DiscardSegment) == 16);

// The status byte the device writes last.
inline constexpr uint8_t kStatusOk = 0;
inline constexpr uint8_t kStatusIoError = 1;
inline constexpr uint8_t kStatusUnsupported = 2;

// Bytes of configuration space the driver reads (through
// write_zeroes_may_unmap).
inline constexpr size_t kConfigSize = 60;

// What the driver uses of virtio_blk_config, for the negotiated features.
struct Config {
  uint64_t capacity_sectors = 0;
  uint32_t size_max = 0;  // Largest segment in bytes; 0: no limit.
  uint32_t seg_max = 0;   // Most data segments per request; 0: no limit.
  uint32_t block_size = 512;
  uint32_t optimal_io_blocks = 0;
  uint32_t max_discard_sectors = 0;
  uint32_t max_write_zeroes_sectors = 0;
  bool write_zeroes_may_unmap = false;
};

// Parses and checks the configuration space `bytes` (kConfigSize of them)
// for the negotiated `features`.
// Errors: kInvalidArgument for too few bytes; kFailedPrecondition for a
// device that reports nonsense (capacity 0 or not whole blocks, a block
// size that is not a power of two in 512..65536), naming the field.
Result<Config> ParseConfig(std::span<const std::byte> bytes, uint64_t features);

// The Block geometry the driver serves for `config`. The transfer limit is
// the device's (size_max * seg_max, when both are known) capped at
// `max_transfer`, the driver's own bounce-buffer size.
BlockInfo InfoOf(const Config& config, uint64_t features, uint32_t max_transfer);

// The outcome of a completed request from its status byte: IOERR is EIO,
// UNSUPP is kUnimplemented, any other value is a misbehaving device (EIO).
// `what` names the request ("read of 8 blocks at block 16").
Result<void> StatusResult(uint8_t status, const std::string& what);

}  // namespace trellis::virtio_blk
