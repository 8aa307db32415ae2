// virtio-console: a vhost-user console device (one port) as a Console node
// (trellis.console.v1.Console): Write, and a Read stream of its input.
//
// Node properties: virtio.socket (required), virtio.queue_size (default
// 64), virtio.timeout_ms (default 5000) — virtio/driver/node_options.h.
//
// Failure: when the backend hangs up, stalls or breaks its ring, the
// pending Read and every Write fail with EIO and the driver reconnects with
// backoff (100 ms doubling to 5 s); until it is back, calls fail with
// UNAVAILABLE.
// Power: SystemSuspend completes once the device has taken every transmit
// buffer; writes that arrive meanwhile go out after SystemResume. Input
// keeps arriving while suspended and waits for a reader.
//
// Threading: everything runs on the driver's dispatcher.
#include "drivers/virtio-console/console_device.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/driver_export.h"
#include "virtio/driver/linked_device.h"

namespace trellis::drivers {

class VirtioConsoleDriver final : public Driver, public ConsoleProtocol {
 public:
  explicit VirtioConsoleDriver(DriverContext context)
      : Driver(context), console_(context.reactor(), context.dispatcher(), [this](auto on_lost) {
          return virtio_console::ConsoleDevice::Connect(this->context().reactor(),
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
    if (auto up = console_.Start(); !up) {
      completer(std::move(up));
      return;
    }
    completer(context().Serve<ConsoleProtocol>(*this));
  }
  void Stop(StopCompleter completer) override { console_.Stop(std::move(completer)); }
  void SystemSuspend(SuspendCompleter completer) override {
    console_.Suspend([completer = std::move(completer)]() mutable { completer(Ok()); });
  }
  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    console_.Resume();
    completer(Ok());
  }

  // ---- ConsoleProtocol ----
  void Write(std::vector<std::byte> data, ConsoleWriteDone done) override {
    if (auto* console = console_.get()) {
      console->Write(std::move(data), std::move(done));
      return;
    }
    done(Unavailable());
  }
  void Read(size_t max, ConsoleReadDone done) override {
    if (auto* console = console_.get()) {
      console->Read(max, std::move(done));
      return;
    }
    done(Unavailable());
  }
  void CancelRead() override {
    if (auto* console = console_.get()) console->CancelRead();
  }

 private:
  std::unexpected<Error> Unavailable() const {
    return Fail(ErrorCode::kUnavailable,
                "virtio-console at " + options_.socket + ": reconnecting to the backend");
  }

  virtio::VirtioNodeOptions options_;
  virtio::LinkedDevice<virtio_console::ConsoleDevice> console_;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::VirtioConsoleDriver);
