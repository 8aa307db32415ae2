// BlockFile: a regular file or a block device as a BlockProtocol, on the
// runtime's io_uring reactor. The engine of the uring-block driver, usable
// in-process (tests, benchmarks) without a host.
//
// - Fixed file (IOSQE_FIXED_FILE) and one registered buffer holding a
//   bounce slot per queue entry (READ_FIXED / WRITE_FIXED), falling back to
//   plain fds and reads where the kernel has no sparse tables.
// - At most `queue_depth` operations in the kernel; further requests wait in
//   FIFO order and start as slots free. Nothing is dropped.
// - Short reads and writes are resubmitted for the remainder; an error
//   completes the request with its errno (never silently dropped).
// - O_DIRECT on request: slots are 4096-aligned, transfers are whole blocks.
// - Quiesce/Resume for power management: while quiesced no request starts;
//   in-flight ones complete (their completions are system tasks, so they
//   run while the driver's dispatcher is suspended).
//
// Threading: every method and every `done` runs on `dispatcher`.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/driver/block_protocol.h"
#include "runtime/fixed_resources.h"
#include "runtime/io_buffer.h"
#include "runtime/operation.h"

namespace trellis {
class Reactor;
}

namespace trellis::uring_block {

struct BlockFileOptions {
  std::string path;
  // 0: the device's logical block size (block devices), else 512, or 4096
  // with O_DIRECT.
  uint32_t block_size = 0;
  bool direct = false;
  bool read_only = false;
  // Operations in the kernel at once, 1..1024.
  uint32_t queue_depth = 32;
  // Largest transfer (and bounce slot) in bytes; a multiple of 4096.
  uint32_t max_transfer = 128 * 1024;
};

struct BlockFileStats {
  uint64_t completed = 0;
  uint64_t resubmitted = 0;  // Short transfers continued.
  uint64_t retried = 0;      // EAGAIN answers tried again.
  uint64_t queued = 0;       // Requests that waited for a slot or a resume.
  uint64_t errors = 0;
};

class BlockFile final : public BlockProtocol {
 public:
  // Errors: the open/stat errno naming the path; kInvalidArgument for bad
  // options (naming the option and the reason).
  static Result<std::unique_ptr<BlockFile>> Open(Reactor& reactor, UnownedDispatcher dispatcher,
                                                 BlockFileOptions options);
  ~BlockFile() override;

  BlockInfo Info() const override { return info_; }
  void Submit(const BlockRequest& request, BlockDone done) override;

  // Stops starting requests; `drained` runs once none is in the kernel
  // (at once if none is).
  void Quiesce(std::move_only_function<void()> drained);
  // Starts what queued while quiesced, in order.
  void Unquiesce();

  size_t in_flight() const { return slots_.size() - free_.size(); }
  const BlockFileStats& stats() const { return stats_; }
  bool uses_fixed_file() const { return static_cast<bool>(fixed_file_); }
  bool uses_fixed_buffer() const { return static_cast<bool>(fixed_buffer_); }

 private:
  struct Pending {
    BlockRequest request;
    BlockDone done;
  };
  struct Slot {
    std::span<std::byte> bounce;
    BlockRequest request;
    BlockDone done;
    uint64_t done_bytes = 0;  // Progress of a read or write.
    unsigned again = 0;       // EAGAIN answers so far.
    Operation op;
  };

  BlockFile(Reactor& reactor, UnownedDispatcher dispatcher, BlockFileOptions options)
      : reactor_(reactor), dispatcher_(std::move(dispatcher)), options_(std::move(options)) {}
  Result<void> Init();
  void Start(size_t slot, BlockRequest request, BlockDone done);
  // Submits the slot's next piece of work.
  void Issue(size_t slot);
  void OnComplete(size_t slot, int32_t result);
  void Finish(size_t slot, Result<void> result);
  void StartQueued();

  // What in-flight operations still reference after the BlockFile is gone:
  // the bounce memory (the kernel may write it until the CQE) and a flag
  // their handlers check. Touched only on the dispatcher.
  struct Shared {
    IoBuffer memory;  // All bounce slots: one registered buffer.
    BlockFile* self = nullptr;
  };

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  BlockFileOptions options_;
  BlockInfo info_;
  int fd_ = -1;
  FixedSlot fixed_file_;
  FixedSlot fixed_buffer_;
  std::shared_ptr<Shared> shared_;
  std::vector<Slot> slots_;
  std::vector<size_t> free_;
  std::deque<Pending> queue_;
  bool quiesced_ = false;
  std::move_only_function<void()> drained_;
  BlockFileStats stats_;
};

}  // namespace trellis::uring_block
