#include "power/suspend_hal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace trellis::power {

namespace {

class SimulatedHal final : public SuspendHal {
 public:
  std::string name() const override { return "simulated"; }
  void Enter(Woke) override {}
  void Wake() override {}
};

class SysfsHal final : public SuspendHal {
 public:
  explicit SysfsHal(std::filesystem::path path) : path_(std::move(path)) {}
  ~SysfsHal() override {
    if (writer_.joinable()) writer_.join();
  }
  std::string name() const override { return "linux-sysfs:" + path_.string(); }

  void Enter(Woke woke) override {
    if (writer_.joinable()) writer_.join();  // The previous write has returned.
    // The write blocks for as long as the machine sleeps: not on a
    // dispatcher thread.
    writer_ = std::thread([path = path_, woke = std::move(woke)]() mutable {
      woke(WriteState(path));
    });
  }
  // A real kernel is woken by the hardware; nothing to do here.
  void Wake() override {}

 private:
  static Result<std::string> WriteState(const std::filesystem::path& path) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return FailErrno(errno, "opening suspend state file " + path.string());
    constexpr std::string_view kMem = "mem\n";
    ssize_t n = write(fd, kMem.data(), kMem.size());
    int error = errno;
    close(fd);
    if (n < 0) {
      if (error == EBUSY) {
        return Fail(ErrorCode::kAborted,
                    "the kernel refused to suspend (EBUSY from " + path.string() +
                        "): a wakeup event arrived");
      }
      return FailErrno(error, "writing 'mem' to " + path.string());
    }
    return std::string("the kernel resumed (") + path.string() + " write returned)";
  }

  const std::filesystem::path path_;
  std::thread writer_;
};

}  // namespace

std::unique_ptr<SuspendHal> MakeSimulatedHal() { return std::make_unique<SimulatedHal>(); }

Result<std::unique_ptr<SuspendHal>> MakeSysfsHal(std::filesystem::path state_file) {
  if (state_file.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "linux-sysfs suspend HAL needs a state file path");
  }
  return std::unique_ptr<SuspendHal>(std::make_unique<SysfsHal>(std::move(state_file)));
}

Result<std::unique_ptr<SuspendHal>> MakeHalFromSpec(std::string_view spec) {
  if (spec.empty() || spec == "simulated") return MakeSimulatedHal();
  if (spec == "linux-sysfs") return MakeSysfsHal("/sys/power/state");
  constexpr std::string_view kSysfs = "linux-sysfs:";
  if (spec.starts_with(kSysfs)) return MakeSysfsHal(std::string(spec.substr(kSysfs.size())));
  return Fail(ErrorCode::kInvalidArgument,
              "unknown suspend HAL '" + std::string(spec) +
                  "': expected 'simulated', 'linux-sysfs' or 'linux-sysfs:<path>'");
}

}  // namespace trellis::power
