// powerctl lease: a poll() loop over the lease stream, the signal relay and
// (once it runs) the command.
#include "tools/powerctl/lease_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "runtime/rpc/status.h"
#include "tools/client/duration.h"
#include "tools/powerctl/internal/child_process.h"
#include "tools/powerctl/internal/signal_relay.h"
#include "tools/powerctl/internal/wake_lease_stream.h"

namespace trellis::powerctl {

namespace {

using internal::SignalRelay;
using internal::WakeLeaseStream;
using SteadyClock = std::chrono::steady_clock;

constexpr char kCall[] = "Power.AcquireWakeLease";

struct LeaseOptions {
  std::string name;
  std::string max_hold = "0";
  std::string token;
  uint64_t parent = 0;
  std::vector<std::string> command;
};

// Waits until the relay or the stream has something to read (true), or
// until `deadline` (nullopt: none) passes (false).
// Errors: from poll(2), which only fails for lack of memory.
Result<bool> WaitForEither(const SignalRelay& relay, const WakeLeaseStream& stream,
                           std::optional<SteadyClock::time_point> deadline) {
  pollfd fds[2] = {{.fd = relay.fd(), .events = POLLIN, .revents = 0},
                   {.fd = stream.fd(), .events = POLLIN, .revents = 0}};
  while (true) {
    int timeout_ms = -1;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - SteadyClock::now());
      if (left.count() <= 0) return false;
      timeout_ms = static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
    }
    int ready = poll(fds, 2, timeout_ms);
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return FailErrno(errno, "poll");
  }
}

// Blocks until `pid` ends; for when poll() failed and SIGCHLD cannot be
// waited for with the rest.
int WaitBlocking(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return kExitError;
  }
  return internal::ShellExitCode(status);
}

// Signals that end powerctl while it waits for the grant, or are passed on
// to the command.
bool IsStopSignal(int signo) { return signo == SIGINT || signo == SIGTERM || signo == SIGHUP; }

// Waits for the `granted` event. Returns the lease id, or the exit code to
// leave with.
std::expected<uint64_t, int> WaitForGrant(const GlobalOptions& globals, const Io& io,
                                          SignalRelay& relay, WakeLeaseStream& stream) {
  auto timeout = CallTimeout(globals);
  std::optional<SteadyClock::time_point> deadline;
  if (timeout) deadline = SteadyClock::now() + *timeout;
  while (true) {
    auto ready = WaitForEither(relay, stream, deadline);
    if (!ready) return std::unexpected(ReportError(io, globals, ready.error()));
    if (!*ready) {
      return std::unexpected(ReportError(
          io, globals,
          Error(ErrorCode::kDeadlineExceeded,
                std::string(kCall) + ": no lease granted within " + globals.timeout)));
    }
    while (auto caught = relay.TryTake()) {
      if (IsStopSignal(caught->signo)) return std::unexpected(128 + caught->signo);
    }
    while (auto event = stream.TryTakeEvent()) {
      if (auto* granted = std::get_if<WakeLeaseStream::Granted>(&*event)) return granted->lease_id;
      if (std::holds_alternative<WakeLeaseStream::ReleaseRequested>(*event)) continue;
      if (auto* revoked = std::get_if<WakeLeaseStream::Revoked>(&*event)) {
        return std::unexpected(ReportError(
            io, globals,
            Error(ErrorCode::kAborted,
                  std::string(kCall) + ": lease revoked before it was granted: " + revoked->reason)));
      }
      const grpc::Status& status = std::get<WakeLeaseStream::Ended>(*event).status;
      Error error = status.ok() ? Error(ErrorCode::kUnavailable,
                                        std::string(kCall) +
                                            ": the stream ended before the lease was granted")
                                : rpc::FromStatus(status, kCall);
      return std::unexpected(ReportError(io, globals, error));
    }
  }
}

// Runs the command with the lease held and returns its exit code. Passes
// stop signals on and warns if the lease is lost meanwhile.
int RunWithLease(const Io& io, const LeaseOptions& options, uint64_t lease_id, SignalRelay& relay,
                 WakeLeaseStream& stream) {
  auto pid = internal::SpawnCommand(options.command);
  if (!pid) {
    io.err << "powerctl: " << pid.error().message() << "\n" << std::flush;
    return internal::SpawnFailureExitCode(pid.error());
  }
  std::string lease = "wake lease " + std::to_string(lease_id) + " (" + options.name + ")";
  bool lost = false;
  while (true) {
    // The relay was installed before the spawn, so the child's SIGCHLD
    // always wakes the poll below; reap after every wake-up.
    auto reaped = internal::TryReap(*pid);
    if (!reaped) {
      io.err << "powerctl: " << reaped.error().message() << "\n" << std::flush;
      return kExitError;
    }
    if (*reaped) return internal::ShellExitCode(**reaped);
    if (auto ready = WaitForEither(relay, stream, std::nullopt); !ready) {
      Warn(io, ready.error().message() + "; waiting for the command without passing signals on");
      return WaitBlocking(*pid);
    }
    while (auto caught = relay.TryTake()) {
      if (IsStopSignal(caught->signo) && !caught->from_kernel) kill(*pid, caught->signo);
    }
    while (auto event = stream.TryTakeEvent()) {
      if (auto* asked = std::get_if<WakeLeaseStream::ReleaseRequested>(&*event)) {
        Warn(io, lease + " is over its --max-hold budget: the manager revokes it in " +
                     std::to_string(asked->revoke_in.count()) + " ms");
      } else if (auto* revoked = std::get_if<WakeLeaseStream::Revoked>(&*event)) {
        Warn(io, lease + " revoked by the manager: " + revoked->reason +
                     "; the command keeps running without it");
        lost = true;
      } else if (auto* ended = std::get_if<WakeLeaseStream::Ended>(&*event); ended && !lost) {
        std::string why = ended->status.ok() ? "the manager closed the stream"
                                             : rpc::FromStatus(ended->status, kCall).message();
        Warn(io, lease + " lost: " + why + "; the command keeps running without it");
        lost = true;
      }
    }
  }
}

int RunLease(const GlobalOptions& globals, const Io& io, const LeaseOptions& options) {
  // The relay goes first so that a signal is never lost between steps.
  auto relay = SignalRelay::Install();
  if (!relay) return ReportError(io, globals, relay.error());
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());
  power::v1::AcquireWakeLeaseRequest request;
  request.set_name(options.name);
  request.set_token(options.token);
  request.set_parent_lease_id(options.parent);
  auto max_hold = client::ParseDuration(options.max_hold);  // Checked by its validator.
  if (!max_hold) return ReportError(io, globals, max_hold.error());
  if (max_hold->count() > 0) {
    request.mutable_max_hold()->set_seconds(max_hold->count() / 1000);
    request.mutable_max_hold()->set_nanos(static_cast<int32_t>(max_hold->count() % 1000 * 1'000'000));
  }
  auto stream = WakeLeaseStream::Open(power->stub(), std::move(request));
  if (!stream) return ReportError(io, globals, stream.error());
  auto lease_id = WaitForGrant(globals, io, **relay, **stream);
  if (!lease_id) return lease_id.error();
  int exit_code = RunWithLease(io, options, *lease_id, **relay, **stream);
  (*stream)->Close();
  return exit_code;
}

}  // namespace

void AddLeaseCommand(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run) {
  auto options = std::make_shared<LeaseOptions>();
  CLI::App* lease = app.add_subcommand(
      kLeaseCommand,
      "Run CMD with a wake lease held (like systemd-inhibit); exit with CMD's status. "
      "SIGINT/SIGTERM are passed on to CMD");
  lease->add_option("--name", options->name, "Lease name shown by `powerctl leases`, e.g. ota-update")
      ->required();
  lease
      ->add_option("--max-hold", options->max_hold,
                   "A budget: the manager asks for the lease back near the end and revokes it "
                   "at the end (0: none)")
      ->check(client::DurationValidator())
      ->type_name("DURATION")
      ->capture_default_str();
  lease
      ->add_option("--token", options->token,
                   "A token minted beforehand (16-64 of [A-Za-z0-9_-]) that another lease's "
                   "holder hands its lease over to (Power.HandOffWakeLease)")
      ->type_name("TOKEN");
  lease
      ->add_option("--parent", options->parent,
                   "The lease this one derives from: its awake time is charged to that "
                   "lease's chain (`powerctl leases --tree`, `powerctl stats`)")
      ->type_name("ID");
  lease->add_option("CMD", options->command, "The command and its arguments (searched in $PATH)")
      ->required();
  lease->callback([&globals, &io, &run, options] {
    run = [&globals, &io, options] { return RunLease(globals, io, *options); };
  });
}

}  // namespace trellis::powerctl
