// BlockClient: calls trellis.block.v1.Block on a driver's endpoint, as bound
// through ManagerClient::Bind: the unary calls, ranges split into transfers
// the device accepts (ReadRange, WriteRange), and RunPipelined, which keeps
// one Stream a given number of requests deep (for benchmarks).
//
//   TRELLIS_ASSIGN_OR_RETURN(auto binding, manager.Bind(path, "trellis.block.v1.Block"));
//   TRELLIS_ASSIGN_OR_RETURN(auto block, BlockClient::Connect(binding));
//   TRELLIS_ASSIGN_OR_RETURN(block::v1::BlockInfo info, block.GetInfo());
//   TRELLIS_ASSIGN_OR_RETURN(std::string data, block.Read(0, 8));
//
// Every call carries the binding's token in the "trellis-token" metadata.
// Offsets and counts are in blocks of BlockInfo.block_size bytes. Errors
// of the device are as block.proto lists them: kOutOfRange past the end,
// kPermissionDenied writing a read-only device, kInvalidArgument for a
// payload that is not whole blocks or too large, kDataLoss / kInternal (or
// the errno's code) for I/O errors; kUnauthenticated for a revoked token and
// kUnavailable if the driver or its host went away.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tools/client/client.h"
#include "trellis/block/v1/block.grpc.pb.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::client {

// The largest payload of one message when the device sets no
// max_transfer_size: the host's limit, 4 MiB gRPC messages less headroom.
inline constexpr uint32_t kMaxBlockPayload = 4 * 1024 * 1024 - 64 * 1024;

// How many blocks one Read or Write may carry on a device with `info`:
// max_transfer_size (kMaxBlockPayload if 0) in whole blocks, at least 1.
// Returns 0 only for a block_size of 0.
uint32_t BlocksPerTransfer(const block::v1::BlockInfo& info);

// Checks that `count` blocks from `offset` lie on the device, so a range
// can be refused before any of it is transferred.
// Errors: kInvalidArgument for a count of 0; kOutOfRange past the end
// ("blocks 8190+4 are past the end of the device (8192 blocks)").
[[nodiscard]] Result<void> CheckBlockRange(const block::v1::BlockInfo& info, uint64_t offset,
                                           uint64_t count);

// How RunPipelined runs its stream.
struct PipelineOptions {
  // Requests kept in flight; at least 1.
  size_t depth = 32;
  // Deadline of the whole stream; none if zero.
  std::chrono::milliseconds timeout{0};
};

class BlockClient {
 public:
  // The protocol name to pass to ManagerClient::Bind.
  static constexpr std::string_view kProtocol = "trellis.block.v1.Block";
  // Requests one Block.Stream message may carry (block.proto); its write
  // payload stays within kMaxBlockPayload too.
  static constexpr int kMaxRequestsPerMessage = 256;

  // Connects to binding.endpoint; later calls send binding.token. Blocks up
  // to options.timeout (at most 5 s) for the connection.
  // Errors: kUnavailable if the endpoint does not accept connections;
  // kInvalidArgument if the binding has no endpoint.
  static Result<BlockClient> Connect(const manager::v1::BindResponse& binding,
                                     ClientOptions options = {});

  BlockClient(BlockClient&&) = default;
  BlockClient& operator=(BlockClient&&) = default;

  const std::string& endpoint() const { return endpoint_; }

  // The device's geometry and limits. Blocks up to the timeout.
  [[nodiscard]] Result<block::v1::BlockInfo> GetInfo();
  // One Read of `blocks` blocks from `offset`. Blocks up to the timeout.
  [[nodiscard]] Result<std::string> Read(uint64_t offset, uint32_t blocks);
  // One Write of `data` (whole blocks) at `offset`. Blocks up to the timeout.
  [[nodiscard]] Result<void> Write(uint64_t offset, std::string data);
  // Makes completed writes durable. Blocks up to the timeout.
  [[nodiscard]] Result<void> Flush();

  // Gets the bytes of one transfer of a range; may fail (a file that cannot
  // be read).
  using ReadSink = std::function<Result<void>(std::string_view bytes)>;
  // Produces `bytes` bytes of a range, starting `position` bytes into it.
  using WriteSource = std::function<std::string(uint64_t position, uint32_t bytes)>;

  // Reads `count` blocks from `offset` in transfers of at most
  // BlocksPerTransfer(info) blocks, giving each transfer's bytes to `sink`
  // in order. Checks the range first (CheckBlockRange). Blocks.
  // Errors: as CheckBlockRange; then the first failing Read's or sink's.
  [[nodiscard]] Result<void> ReadRange(const block::v1::BlockInfo& info, uint64_t offset,
                                       uint64_t count, const ReadSink& sink);
  // Writes `count` blocks at `offset`, split as ReadRange, taking each
  // transfer's bytes from `source`. Checks the range first. Blocks.
  // Errors: as CheckBlockRange; then the first failing Write's (the
  // transfers before it stay written).
  [[nodiscard]] Result<void> WriteRange(const block::v1::BlockInfo& info, uint64_t offset,
                                        uint64_t count, const WriteSource& source);

  // The next request to send, or nullopt when there are no more (then it is
  // not asked again). Its request_id is overwritten.
  using NextRequest = std::function<std::optional<block::v1::BlockRequest>()>;
  // Called for every response, with the time from sending its request to
  // receiving it.
  using OnResponse =
      std::function<void(const block::v1::BlockResponse& response, std::chrono::nanoseconds)>;

  // Runs one Block.Stream keeping up to options.depth requests from `next`
  // in flight, until `next` has no more and every request was answered.
  // Requests go out in batches: all that fit the depth after each message
  // of completions. Calls `next` and `done` on the calling thread. Blocks. A failed request
  // is a response with a non-zero code, not an error here.
  // Errors: kInvalidArgument for a depth of 0; the stream's status if it
  // broke (kUnavailable, kDeadlineExceeded past options.timeout, ...);
  // kInternal if the host answered a request that was not in flight or
  // ended the stream with requests unanswered.
  [[nodiscard]] Result<void> RunPipelined(const PipelineOptions& options, const NextRequest& next,
                                          const OnResponse& done);

 private:
  BlockClient(std::string endpoint, std::string token, ClientOptions options,
              std::unique_ptr<block::v1::Block::Stub> stub)
      : endpoint_(std::move(endpoint)),
        token_(std::move(token)),
        options_(options),
        stub_(std::move(stub)) {}

  std::string endpoint_;
  std::string token_;
  ClientOptions options_;
  std::unique_ptr<block::v1::Block::Stub> stub_;
};

}  // namespace trellis::client
