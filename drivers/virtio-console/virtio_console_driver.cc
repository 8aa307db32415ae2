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
#include "virtio/driver/backend_link.h"

namespace trellis::drivers {

class VirtioConsoleDriver final : public Driver, public ConsoleProtocol {
 public:
  explicit VirtioConsoleDriver(DriverContext context)
      : Driver(context),
        link_(
            context.reactor(), context.dispatcher(), [this] { return Connect(); },
            [this] { console_.reset(); }) {}

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
    completer(context().Serve<ConsoleProtocol>(*this));
  }

  void Stop(StopCompleter completer) override {
    link_.Stop();
    if (!console_) {
      completer();
      return;
    }
    console_->Quiesce([this, completer = std::move(completer)]() mutable {
      console_.reset();
      completer();
    });
  }

  void SystemSuspend(SuspendCompleter completer) override {
    suspended_ = true;
    if (!console_) {
      completer(Ok());
      return;
    }
    console_->Quiesce([completer = std::move(completer)]() mutable { completer(Ok()); });
  }

  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    suspended_ = false;
    if (console_) console_->Unquiesce();
    completer(Ok());
  }

  // ---- ConsoleProtocol ----
  void Write(std::vector<std::byte> data, ConsoleWriteDone done) override {
    if (!console_) {
      done(Unavailable());
      return;
    }
    console_->Write(std::move(data), std::move(done));
  }
  void Read(size_t max, ConsoleReadDone done) override {
    if (!console_) {
      done(Unavailable());
      return;
    }
    console_->Read(max, std::move(done));
  }
  void CancelRead() override {
    if (console_) console_->CancelRead();
  }

 private:
  std::unexpected<Error> Unavailable() const {
    return Fail(ErrorCode::kUnavailable,
                "virtio-console at " + options_.socket + ": reconnecting to the backend");
  }

  Result<void> Connect() {
    TRELLIS_ASSIGN_OR_RETURN(console_, virtio_console::ConsoleDevice::Connect(
                                           context().reactor(), context().dispatcher(), options_,
                                           [this](const std::string&) { link_.Lost(); }));
    if (suspended_) console_->Quiesce([] {});
    return Ok();
  }

  virtio::VirtioNodeOptions options_;
  std::unique_ptr<virtio_console::ConsoleDevice> console_;
  virtio::BackendLink link_;  // Declared after console_: its tasks reset console_.
  bool suspended_ = false;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::VirtioConsoleDriver);
