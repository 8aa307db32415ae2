// virtio-blk: a vhost-user-blk backend (qemu-storage-daemon, ...) as a Block
// node, served and offered on a child "block" node like uring-block's, so
// the gpt driver binds on top.
//
// Node properties (from the board or a parent driver):
//   virtio.socket      string, required: the backend's vhost-user socket
//   virtio.queue_size  int, default 128: descriptors in the request queue
//   virtio.timeout_ms  int, default 5000: bound on each control message, and
//                      on how long a request may sit in the device before
//                      the backend counts as stalled
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
#include "runtime/reactor.h"

namespace trellis::drivers {

namespace {

Result<virtio_blk::BlkDeviceOptions> ParseOptions(const NodeProperties& props) {
  virtio_blk::BlkDeviceOptions o;
  TRELLIS_ASSIGN_OR_RETURN(o.socket, PropertyOr<std::string>(props, "virtio.socket", ""));
  if (o.socket.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "the node has no 'virtio.socket' property");
  }
  TRELLIS_ASSIGN_OR_RETURN(uint64_t size, PropertyOr<uint64_t>(props, "virtio.queue_size", 128));
  if (size < 4 || size > 1024 || (size & (size - 1)) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "virtio.queue_size " + std::to_string(size) + " is not a power of two in 4..1024");
  }
  o.queue_size = static_cast<uint16_t>(size);
  TRELLIS_ASSIGN_OR_RETURN(uint64_t ms, PropertyOr<uint64_t>(props, "virtio.timeout_ms", 5000));
  if (ms < 10 || ms > 600'000) {
    return Fail(ErrorCode::kInvalidArgument,
                "virtio.timeout_ms " + std::to_string(ms) + " is outside 10..600000");
  }
  o.timeout = std::chrono::milliseconds(ms);
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
  explicit VirtioBlkDriver(DriverContext context) : Driver(context) {}
  ~VirtioBlkDriver() override { *alive_ = false; }

  // ---- Driver ----
  void Start(StartCompleter completer) override {
    auto options = ParseOptions(context().start_args().properties);
    if (!options) {
      completer(Fail(options.error()));
      return;
    }
    options_ = std::move(*options);
    if (auto up = Connect(); !up) {
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

  void Stop(StopCompleter completer) override {
    stopping_ = true;
    reconnect_ = Operation();
    if (!blk_) {
      completer();
      return;
    }
    blk_->queue().Quiesce([this, completer = std::move(completer)]() mutable {
      blk_.reset();
      completer();
    });
  }

  void SystemSuspend(SuspendCompleter completer) override {
    suspended_ = true;
    if (!blk_) {
      completer(Ok());
      return;
    }
    blk_->queue().Quiesce([completer = std::move(completer)]() mutable { completer(Ok()); });
  }

  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    suspended_ = false;
    if (blk_) blk_->queue().Unquiesce();
    completer(Ok());
  }

  // ---- BlockProtocol ----
  BlockInfo Info() const override { return info_; }
  void Submit(const BlockRequest& request, BlockDone done) override {
    if (!blk_) {
      done(Fail(ErrorCode::kUnavailable,
                "virtio-blk at " + options_.socket + ": reconnecting to the backend"));
      return;
    }
    blk_->Submit(request, std::move(done));
  }

 private:
  // Connects to the backend; a geometry other than the first connection's
  // is refused.
  Result<void> Connect() {
    TRELLIS_ASSIGN_OR_RETURN(auto blk, virtio_blk::BlkDevice::Connect(
                                           context().reactor(), context().dispatcher(), options_,
                                           [this](const std::string&) { OnBackendFailure(); }));
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
    blk_ = std::move(blk);
    if (suspended_) blk_->queue().Quiesce([] {});
    backoff_ = std::chrono::milliseconds(100);
    return Ok();
  }

  // The device failed its requests already (EIO); let go of it after its
  // own handler has returned, and retry.
  void OnBackendFailure() {
    (void)context().dispatcher().PostSystem([this] {
      blk_.reset();
      ScheduleReconnect();
    });
  }

  void ScheduleReconnect() {
    if (stopping_) return;
    auto timer =
        context().reactor().Timer(Clock::now() + backoff_,
                                  [this, alive = alive_](Completion c) {
                                    if (!*alive || c.result == -ECANCELED || stopping_ || blk_)
                                      return;
                                    if (!Connect()) ScheduleReconnect();
                                  },
                                  {.dispatcher = context().dispatcher(), .system = true});
    backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, std::chrono::seconds(5));
    if (timer) reconnect_ = std::move(*timer);
  }

  virtio_blk::BlkDeviceOptions options_;
  BlockInfo info_;  // The first connection's geometry.
  std::unique_ptr<virtio_blk::BlkDevice> blk_;
  Operation reconnect_;
  std::chrono::milliseconds backoff_{100};
  bool suspended_ = false;
  bool stopping_ = false;
  // False once destroyed, for a reconnect completion already queued.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::VirtioBlkDriver);
