// virtio-rng: a vhost-user entropy device as an Entropy node
// (trellis.entropy.v1.Entropy).
//
// Node properties: virtio.socket (required), virtio.queue_size (default
// 64), virtio.timeout_ms (default 5000) — virtio/driver/node_options.h.
//
// Failure: when the backend hangs up, stalls or breaks its ring, waiting
// Reads fail with EIO and the driver reconnects with backoff (100 ms
// doubling to 5 s); until it is back, Reads fail with UNAVAILABLE.
// Power: SystemSuspend completes once the device has returned every buffer;
// Reads that arrive meanwhile run after SystemResume.
//
// Threading: everything runs on the driver's dispatcher.
#include "drivers/virtio-rng/rng_device.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/driver_export.h"
#include "virtio/driver/backend_link.h"

namespace trellis::drivers {

class VirtioRngDriver final : public Driver, public EntropyProtocol {
 public:
  explicit VirtioRngDriver(DriverContext context)
      : Driver(context),
        link_(
            context.reactor(), context.dispatcher(), [this] { return Connect(); },
            [this] { rng_.reset(); }) {}

  void Start(StartCompleter completer) override {
    auto options = virtio::ParseVirtioNodeOptions(context().start_args().properties, 64);
    if (!options) {
      completer(Fail(options.error()));
      return;
    }
    options_ = std::move(*options);
    if (auto up = link_.Connect(); !up) {
      completer(std::move(up));
      return;
    }
    completer(context().Serve<EntropyProtocol>(*this));
  }

  void Stop(StopCompleter completer) override {
    link_.Stop();
    if (!rng_) {
      completer();
      return;
    }
    rng_->Quiesce([this, completer = std::move(completer)]() mutable {
      rng_.reset();
      completer();
    });
  }

  void SystemSuspend(SuspendCompleter completer) override {
    suspended_ = true;
    if (!rng_) {
      completer(Ok());
      return;
    }
    rng_->Quiesce([completer = std::move(completer)]() mutable { completer(Ok()); });
  }

  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    suspended_ = false;
    if (rng_) rng_->Unquiesce();
    completer(Ok());
  }

  // ---- EntropyProtocol ----
  void Read(size_t length, EntropyDone done) override {
    if (!rng_) {
      done(Fail(ErrorCode::kUnavailable,
                "virtio-rng at " + options_.socket + ": reconnecting to the backend"));
      return;
    }
    rng_->Read(length, std::move(done));
  }

 private:
  Result<void> Connect() {
    TRELLIS_ASSIGN_OR_RETURN(
        rng_, virtio_rng::RngDevice::Connect(context().reactor(), context().dispatcher(), options_,
                                             [this](const std::string&) { link_.Lost(); }));
    if (suspended_) rng_->Quiesce([] {});
    return Ok();
  }

  virtio::VirtioNodeOptions options_;
  std::unique_ptr<virtio_rng::RngDevice> rng_;
  virtio::BackendLink link_;  // Declared after rng_: its tasks reset rng_.
  bool suspended_ = false;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::VirtioRngDriver);
