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

#include "drivers/virtio-blk/blk_queue.h"
#include "drivers/virtio-blk/blk_wire.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/driver_export.h"
#include "runtime/reactor.h"
#include "virtio/device_driver.h"
#include "virtio/vhost_user/device.h"

namespace trellis::drivers {

namespace {

using virtio_blk::BlkQueue;

struct Options {
  std::string socket;
  uint16_t queue_size = 128;
  std::chrono::milliseconds timeout{5000};
  uint32_t max_transfer = 128 * 1024;
};

Result<Options> ParseOptions(const NodeProperties& props) {
  Options o;
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

class VirtioBlkDriver final : public Driver,
                              public virtio::VirtioDeviceDriver,
                              public BlockProtocol {
 public:
  explicit VirtioBlkDriver(DriverContext context) : Driver(context) {}

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
    timer_ = Operation();
    if (!queue_) {
      device_.reset();
      completer();
      return;
    }
    queue_->Quiesce([this, completer = std::move(completer)]() mutable {
      Disconnect();
      completer();
    });
  }

  void SystemSuspend(SuspendCompleter completer) override {
    suspended_ = true;
    if (!queue_) {
      completer(Ok());
      return;
    }
    queue_->Quiesce([completer = std::move(completer)]() mutable { completer(Ok()); });
  }

  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    suspended_ = false;
    if (queue_) queue_->Unquiesce();
    completer(Ok());
  }

  // ---- virtio::VirtioDeviceDriver ----
  std::optional<uint64_t> NegotiateFeatures(uint64_t offered) const override {
    return virtio_blk::AcceptedFeatures(offered);
  }
  virtio::DeviceType device_type() const override { return virtio::DeviceType::kBlock; }

  // ---- BlockProtocol ----
  BlockInfo Info() const override { return info_; }
  void Submit(const BlockRequest& request, BlockDone done) override {
    if (!queue_) {
      done(Fail(ErrorCode::kUnavailable,
                "virtio-blk at " + options_.socket + ": reconnecting to the backend"));
      return;
    }
    queue_->Submit(request, std::move(done));
  }

 private:
  uint32_t Slots() const { return std::max<uint32_t>(1, options_.queue_size / 3); }

  // Connects, initializes the device and makes the request queue.
  Result<void> Connect() {
    TRELLIS_ASSIGN_OR_RETURN(
        device_, vhost_user::VhostUserDevice::Connect(context().reactor(), context().dispatcher(),
                                                      {.socket_path = options_.socket,
                                                       .type = virtio::DeviceType::kBlock,
                                                       .timeout = options_.timeout}));
    auto up = Initialize();
    if (!up) device_.reset();
    return up;
  }

  Result<void> Initialize() {
    TRELLIS_ASSIGN_OR_RETURN(std::vector<std::byte> config_bytes,
                             device_->ReadConfig(0, virtio_blk::kConfigSize));
    virtio_blk::BlkQueueOptions q{
        .name = device_->name(),
        .info = {.block_size = 512, .max_transfer_size = options_.max_transfer},
        .slots = Slots()};
    vhost_user::DevicePlan plan{.queue_sizes = {options_.queue_size},
                                .driver_memory = BlkQueue::MemoryFor(q)};
    TRELLIS_ASSIGN_OR_RETURN(uint64_t features,
                             device_->Initialize(
                                 *this, plan,
                                 [this](size_t) {
                                   if (queue_) queue_->OnUsed();
                                 },
                                 [this](const std::string& reason) { OnBackendFailure(reason); }));
    TRELLIS_ASSIGN_OR_RETURN(virtio_blk::Config config,
                             virtio_blk::ParseConfig(config_bytes, features));
    BlockInfo info = virtio_blk::InfoOf(config, features, options_.max_transfer);
    if (info_.block_count != 0 &&
        (info.block_count != info_.block_count || info.block_size != info_.block_size)) {
      return Fail(
          ErrorCode::kFailedPrecondition,
          device_->name() + ": the backend came back with " + std::to_string(info.block_count) +
              " blocks of " + std::to_string(info.block_size) + " bytes, not the " +
              std::to_string(info_.block_count) + " of " + std::to_string(info_.block_size));
    }
    info_ = info;
    q.info = info;
    q.features = features;
    TRELLIS_ASSIGN_OR_RETURN(
        queue_, BlkQueue::Create(std::move(q), &device_->queue(0), device_->driver_memory(),
                                 [this] { device_->Kick(0); }));
    if (suspended_) queue_->Quiesce([] {});
    backoff_ = std::chrono::milliseconds(100);
    ArmWatchdog();
    return Ok();
  }

  // Fails what is in the device, lets go of the backend and retries.
  void OnBackendFailure(const std::string& reason) {
    if (queue_) queue_->Abort(reason);
    // The device calls this from its own handler: tear down after it.
    (void)context().dispatcher().PostSystem([this] {
      Disconnect();
      ScheduleReconnect();
    });
  }

  void Disconnect() {
    timer_ = Operation();
    queue_.reset();
    device_.reset();
  }

  void ScheduleReconnect() {
    if (stopping_) return;
    auto timer = context().reactor().Timer(Clock::now() + backoff_,
                                           [this](Completion c) {
                                             if (c.result == -ECANCELED || stopping_) return;
                                             if (!Connect()) ScheduleReconnect();
                                           },
                                           {.dispatcher = context().dispatcher(), .system = true});
    backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, std::chrono::seconds(5));
    if (timer) timer_ = std::move(*timer);
  }

  // Every half timeout: a request older than the timeout means the backend
  // stalled.
  void ArmWatchdog() {
    auto timer = context().reactor().Timer(
        Clock::now() + options_.timeout / 2,
        [this](Completion c) {
          if (c.result == -ECANCELED || !queue_) return;
          auto oldest = queue_->oldest_in_flight();
          if (oldest && Clock::now() - *oldest > options_.timeout) {
            OnBackendFailure("a request got no answer within " +
                             std::to_string(options_.timeout.count()) + " ms");
            return;
          }
          ArmWatchdog();
        },
        {.dispatcher = context().dispatcher(), .system = true});
    if (timer) timer_ = std::move(*timer);
  }

  Options options_;
  BlockInfo info_;
  std::unique_ptr<vhost_user::VhostUserDevice> device_;
  std::unique_ptr<BlkQueue> queue_;  // Uses device_'s queue: destroyed first.
  Operation timer_;                  // The watchdog, or the next reconnect attempt.
  std::chrono::milliseconds backoff_{100};
  bool suspended_ = false;
  bool stopping_ = false;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::VirtioBlkDriver);
