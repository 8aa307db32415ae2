// PartitionBlock: one GPT partition as a Block device, over the whole disk.
// Requests are checked against the partition (I/O outside it is refused
// with OUT_OF_RANGE, never passed on) and shifted by its first LBA. Runs on
// the gpt driver's dispatcher, where the disk client completes too.
#pragma once

#include <cstddef>

#include "drivers/gpt/gpt_table.h"
#include "runtime/driver/block_protocol.h"

namespace trellis::gpt {

class PartitionBlock final : public BlockProtocol {
 public:
  // `disk` must outlive this object and every request it has started.
  PartitionBlock(BlockProtocol& disk, Partition partition);

  const Partition& partition() const { return partition_; }
  // Requests passed to the disk that have not completed yet.
  size_t in_flight() const { return in_flight_; }
  // Runs `idle` once no request is in flight (at once if none is).
  void WhenIdle(std::move_only_function<void()> idle);

  BlockInfo Info() const override { return info_; }
  void Submit(const BlockRequest& request, BlockDone done) override;

 private:
  BlockProtocol& disk_;
  const Partition partition_;
  const BlockInfo info_;
  size_t in_flight_ = 0;
  std::move_only_function<void()> idle_;
};

}  // namespace trellis::gpt
