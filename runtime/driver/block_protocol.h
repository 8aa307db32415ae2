// BlockProtocol: a block device, served over gRPC as trellis.block.v1.Block
// for every driver that calls DriverContext::Serve<BlockProtocol>(*this).
//
// The host validates every request against Info() before the driver sees
// it (range → OUT_OF_RANGE, writes to a read-only device →
// PERMISSION_DENIED, sizes and alignment → INVALID_ARGUMENT), so a driver
// only has to do the I/O. Methods run on the driver's dispatcher; Submit
// starts the request and returns at once.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "runtime/driver/protocol_client.h"
#include "runtime/error.h"

namespace trellis {

struct BlockInfo {
  // Bytes per block: a power of two, 512..65536.
  uint32_t block_size = 512;
  uint64_t block_count = 0;
  bool read_only = false;
  // Preferred transfer size in bytes; 0 = no preference.
  uint32_t optimal_transfer_size = 0;
  // Largest read or write in bytes; 0 = no limit of the device's own (the
  // host still caps what one gRPC message can carry).
  uint32_t max_transfer_size = 0;
};

enum class BlockOp : uint8_t { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };

std::string_view BlockOpName(BlockOp op);

struct BlockRequest {
  BlockOp op = BlockOp::kRead;
  // In blocks; both 0 for kFlush.
  uint64_t offset_blocks = 0;
  uint64_t length_blocks = 0;
  // kRead: where the data goes; kWrite: the data (not modified). Exactly
  // length_blocks * block_size bytes, owned by the caller until `done` has
  // run. Empty for the other operations.
  std::span<std::byte> data;
  // kWrite: complete only once the data is on stable storage.
  bool fua = false;
};

// Completion of one request: Ok, or the error — an I/O error keeps its
// errno (Error::errno_value), which clients see in BlockResponse.
using BlockDone = std::move_only_function<void(Result<void>)>;

class BlockClient;

class BlockProtocol {
 public:
  static constexpr std::string_view kName = "trellis.block.v1.Block";
  using Client = BlockClient;

  virtual ~BlockProtocol() = default;

  virtual BlockInfo Info() const = 0;

  // Starts `request`. `done` runs exactly once, on the driver's dispatcher
  // (possibly before Submit returns). Never drops a request: one the driver
  // cannot start yet waits in its queue.
  virtual void Submit(const BlockRequest& request, BlockDone done) = 0;
};

// A connection to another driver's BlockProtocol (DriverContext::Connect):
// Info() is the server's, read once at connect; Submit checks the request
// against it (a refused request completes with the error, never reaches the
// server) and `done` runs on the connecting driver's dispatcher. Requests
// still in flight when the client is destroyed complete nowhere: a driver
// waits for its requests before it lets go of the client.
class BlockClient : public ProtocolClient, public BlockProtocol {};

// The host's checks, shared with in-process callers and tests: Ok if
// `request` fits `info`, else the error a client would get. A driver whose
// info is itself invalid (ValidateBlockInfo) gets kInternal, never a crash.
Result<void> ValidateBlockRequest(const BlockInfo& info, const BlockRequest& request);
// Ok if `info.block_size` is a power of two in 512..65536.
Result<void> ValidateBlockInfo(const BlockInfo& info);

}  // namespace trellis
