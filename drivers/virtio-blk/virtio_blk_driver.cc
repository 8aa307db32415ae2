// virtio-blk: a vhost-user-blk backend (qemu-storage-daemon, ...) as a Block
// node, served and offered on a child "block" node like uring-block's, so
// the gpt driver binds on top.
//
// Node properties (from the board or a parent driver): virtio.socket
// (required), virtio.queue_size (default 128), virtio.timeout_ms (default
// 5000) — virtio/driver/node_options.h — and
//   block.max_transfer int, default 131072: largest transfer in bytes
//
// Failure: when the backend hangs up or stalls, every request in the device
// and every waiting one fails with EIO, and the driver reconnects with
// backoff (100 ms doubling to 5 s); until it is back, requests fail with
// UNAVAILABLE. A backend that comes back with another geometry is refused.
//
// Power: SystemSuspend stops starting requests and completes once those in
// the device have finished (their completions are system tasks); requests
// that arrive meanwhile wait and run after SystemResume. Nothing is lost.
//
// Threading: everything runs on the driver's dispatcher.
#include <algorithm>

#include "drivers/virtio-blk/blk_device.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/driver_export.h"
#include "virtio/driver/linked_device.h"
#include "virtio/driver/node_options.h"

namespace trellis::drivers {

namespace {

Result<virtio_blk::BlkDeviceOptions> ParseOptions(const NodeProperties& props) {
  TRELLIS_ASSIGN_OR_RETURN(virtio::VirtioNodeOptions node,
                           virtio::ParseVirtioNodeOptions(props, 128));
  virtio_blk::BlkDeviceOptions o{
      .socket = node.socket, .queue_size = node.queue_size, .timeout = node.timeout};
  TRELLIS_ASSIGN_OR_RETURN(uint64_t max,
                           PropertyOr<uint64_t>(props, "block.max_transfer", 128 * 1024));
  if (max < 4096 || max > 4 * 1024 * 1024 || max % 4096 != 0) {
    return Fail(ErrorCode::kInvalidArgument, "block.max_transfer " + std::to_string(max) +
                                                 " is not a multiple of 4096 in 4096..4194304");
  }
  o.max_transfer = static_cast<uint32_t>(max);
  return o;
}

}  // namespace

class VirtioBlkDriver final : public Driver, public BlockProtocol {
 public:
  explicit VirtioBlkDriver(DriverContext context)
      : Driver(context), blk_(context.reactor(), context.dispatcher(), [this](auto on_lost) {
          return Connect(std::move(on_lost));
        }) {}

  // ---- Driver ----
  void Start(StartCompleter completer) override {
    auto options = ParseOptions(context().start_args().properties);
    if (!options) {
      completer(Fail(options.error()));
      return;
    }
    options_ = std::move(*options);
    if (auto up = blk_.Start(); !up) {
      completer(std::move(up));
      return;
    }
    if (auto served = context().Serve<BlockProtocol>(*this); !served) {
      completer(std::move(served));
      return;
    }
    ChildArgs child{.name = "block",
                    .properties = {{"trellis.protocol", std::string(BlockProtocol::kName)}}};
    child.Offer<BlockProtocol>(*this);
    context().AddChild(
        std::move(child), [completer = std::move(completer)](Result<std::string> added) mutable {
          completer(added ? Ok()
                          : Result<void>(Fail(added.error().WithContext("adding node 'block'"))));
        });
  }
  void Stop(StopCompleter completer) override { blk_.Stop(std::move(completer)); }
  void SystemSuspend(SuspendCompleter completer) override {
    blk_.Suspend([completer = std::move(completer)]() mutable { completer(Ok()); });
  }
  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    blk_.Resume();
    completer(Ok());
  }

  // ---- BlockProtocol ----
  BlockInfo Info() const override { return info_; }
  void Submit(const BlockRequest& request, BlockDone done) override {
    if (auto* blk = blk_.get()) {
      blk->Submit(request, std::move(done));
      return;
    }
    done(Fail(ErrorCode::kUnavailable,
              "virtio-blk at " + options_.socket + ": reconnecting to the backend"));
  }

 private:
  // Connects to the backend; a geometry other than the first connection's
  // is refused.
  Result<std::unique_ptr<virtio_blk::BlkDevice>> Connect(virtio_blk::BlkDevice::OnFailure on_lost) {
    TRELLIS_ASSIGN_OR_RETURN(
        auto blk, virtio_blk::BlkDevice::Connect(context().reactor(), context().dispatcher(),
                                                 options_, std::move(on_lost)));
    BlockInfo info = blk->Info();
    if (info_.block_count != 0 &&
        (info.block_count != info_.block_count || info.block_size != info_.block_size)) {
      return Fail(ErrorCode::kFailedPrecondition,
                  blk->name() + ": the backend came back with " + std::to_string(info.block_count) +
                      " blocks of " + std::to_string(info.block_size) + " bytes, not " +
                      std::to_string(info_.block_count) + " of " +
                      std::to_string(info_.block_size));
    }
    info_ = info;
    return blk;
  }

  virtio_blk::BlkDeviceOptions options_;
  BlockInfo info_;  // The first connection's geometry.
  virtio::LinkedDevice<virtio_blk::BlkDevice> blk_;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::VirtioBlkDriver);
