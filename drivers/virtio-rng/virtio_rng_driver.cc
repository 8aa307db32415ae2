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
#include "virtio/driver/linked_device.h"

namespace trellis::drivers {

class VirtioRngDriver final : public Driver, public EntropyProtocol {
 public:
  explicit VirtioRngDriver(DriverContext context)
      : Driver(context), rng_(context.reactor(), context.dispatcher(), [this](auto on_lost) {
          return virtio_rng::RngDevice::Connect(this->context().reactor(),
                                                this->context().dispatcher(), options_,
                                                std::move(on_lost));
        }) {}

  void Start(StartCompleter completer) override {
    auto options = virtio::ParseVirtioNodeOptions(context().start_args().properties, 64);
    if (!options) {
      completer(Fail(options.error()));
      return;
    }
    options_ = std::move(*options);
    if (auto up = rng_.Start(); !up) {
      completer(std::move(up));
      return;
    }
    completer(context().Serve<EntropyProtocol>(*this));
  }
  void Stop(StopCompleter completer) override { rng_.Stop(std::move(completer)); }
  void SystemSuspend(SuspendCompleter completer) override {
    rng_.Suspend([completer = std::move(completer)]() mutable { completer(Ok()); });
  }
  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    rng_.Resume();
    completer(Ok());
  }

  // ---- EntropyProtocol ----
  void Read(size_t length, EntropyDone done) override {
    if (auto* rng = rng_.get()) {
      rng->Read(length, std::move(done));
      return;
    }
    done(Fail(ErrorCode::kUnavailable,
              "virtio-rng at " + options_.socket + ": reconnecting to the backend"));
  }

 private:
  virtio::VirtioNodeOptions options_;
  virtio::LinkedDevice<virtio_rng::RngDevice> rng_;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::VirtioRngDriver);
