#include "drivers/virtio-blk/blk_wire.h"

#include <bit>
#include <cstring>

namespace trellis::virtio_blk {

namespace {

template <typename T>
T Load(std::span<const std::byte> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));  // Little-endian host.
  return value;
}

}  // namespace

uint64_t AcceptedFeatures(uint64_t offered) {
  constexpr uint64_t kWanted = Bit(kFeatureSizeMax) | Bit(kFeatureSegMax) | Bit(kFeatureReadOnly) |
                               Bit(kFeatureBlockSize) | Bit(kFeatureFlush) | Bit(kFeatureTopology) |
                               Bit(kFeatureDiscard) | Bit(kFeatureWriteZeroes);
  return offered & kWanted;
}

Result<Config> ParseConfig(std::span<const std::byte> bytes, uint64_t features) {
  if (bytes.size() < kConfigSize) {
    return Fail(ErrorCode::kInvalidArgument, "virtio-blk config of " +
                                                 std::to_string(bytes.size()) + " bytes; need " +
                                                 std::to_string(kConfigSize));
  }
  Config config;
  config.capacity_sectors = Load<uint64_t>(bytes, 0);
  if (features & Bit(kFeatureSizeMax)) config.size_max = Load<uint32_t>(bytes, 8);
  if (features & Bit(kFeatureSegMax)) config.seg_max = Load<uint32_t>(bytes, 12);
  if (features & Bit(kFeatureBlockSize)) config.block_size = Load<uint32_t>(bytes, 20);
  if (features & Bit(kFeatureTopology)) config.optimal_io_blocks = Load<uint32_t>(bytes, 28);
  if (features & Bit(kFeatureDiscard)) config.max_discard_sectors = Load<uint32_t>(bytes, 36);
  if (features & Bit(kFeatureWriteZeroes)) {
    config.max_write_zeroes_sectors = Load<uint32_t>(bytes, 48);
    config.write_zeroes_may_unmap = Load<uint8_t>(bytes, 56) != 0;
  }
  uint32_t bs = config.block_size;
  if (bs < 512 || bs > 65536 || !std::has_single_bit(bs)) {
    return Fail(ErrorCode::kFailedPrecondition, "virtio-blk device reports blk_size " +
                                                    std::to_string(bs) +
                                                    "; it must be a power of two in 512..65536");
  }
  uint64_t sectors_per_block = bs / 512;
  if (config.capacity_sectors == 0 || config.capacity_sectors % sectors_per_block != 0) {
    return Fail(ErrorCode::kFailedPrecondition, "virtio-blk device reports a capacity of " +
                                                    std::to_string(config.capacity_sectors) +
                                                    " sectors, which is not a positive number of " +
                                                    std::to_string(bs) + "-byte blocks");
  }
  return config;
}

BlockInfo InfoOf(const Config& config, uint64_t features, uint32_t max_transfer) {
  BlockInfo info;
  info.block_size = config.block_size;
  info.block_count = config.capacity_sectors / (config.block_size / 512);
  info.read_only = (features & Bit(kFeatureReadOnly)) != 0;
  uint64_t limit = max_transfer;
  if (config.size_max != 0 && config.seg_max != 0) {
    limit = std::min<uint64_t>(limit, uint64_t{config.size_max} * config.seg_max);
  }
  limit -= limit % config.block_size;
  info.max_transfer_size = static_cast<uint32_t>(std::max<uint64_t>(limit, config.block_size));
  uint64_t optimal = uint64_t{config.optimal_io_blocks} * config.block_size;
  info.optimal_transfer_size = optimal <= info.max_transfer_size ? uint32_t(optimal) : 0;
  return info;
}

Result<void> StatusResult(uint8_t status, const std::string& what) {
  switch (status) {
    case kStatusOk:
      return Ok();
    case kStatusIoError:
      return FailErrno(EIO, "virtio-blk " + what + ": the device reported an I/O error");
    case kStatusUnsupported:
      return Fail(ErrorCode::kUnimplemented,
                  "virtio-blk " + what + ": the device does not support it");
    default:
      return FailErrno(EIO, "virtio-blk " + what + ": the device wrote status " +
                                std::to_string(status) + ", which is none of OK, IOERR, UNSUPP");
  }
}

}  // namespace trellis::virtio_blk
