#include "drivers/gpt/partition_block.h"

namespace trellis::gpt {

namespace {

BlockInfo PartitionInfo(const BlockInfo& disk, const Partition& partition) {
  BlockInfo info = disk;
  info.block_count = partition.last_lba - partition.first_lba + 1;
  return info;
}

}  // namespace

PartitionBlock::PartitionBlock(BlockProtocol& disk, Partition partition)
    : disk_(disk), partition_(std::move(partition)), info_(PartitionInfo(disk.Info(), partition_)) {}

void PartitionBlock::WhenIdle(std::move_only_function<void()> idle) {
  if (in_flight_ == 0) {
    idle();
    return;
  }
  idle_ = std::move(idle);
}

void PartitionBlock::Submit(const BlockRequest& request, BlockDone done) {
  // The host checks gRPC callers already; in-process callers get the same.
  if (auto valid = ValidateBlockRequest(info_, request); !valid) {
    done(Fail(valid.error().WithContext("partition " + std::to_string(partition_.index + 1))));
    return;
  }
  BlockRequest shifted = request;
  if (request.op != BlockOp::kFlush) shifted.offset_blocks += partition_.first_lba;
  ++in_flight_;
  disk_.Submit(shifted, [this, done = std::move(done)](Result<void> result) mutable {
    --in_flight_;
    done(std::move(result));
    if (in_flight_ == 0 && idle_) std::exchange(idle_, nullptr)();
  });
}

}  // namespace trellis::gpt
