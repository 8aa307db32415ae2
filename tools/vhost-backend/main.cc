// trellis-vhost-backend: serves a vhost-user virtio-rng or virtio-console
// device on a Unix socket until SIGTERM/SIGINT (or, with --once, until the
// first connection ends). See command_line.h for the flags. Logs one line
// per event on stderr; exits 0 after a clean stop (removing the socket
// file), 1 when it cannot start, 2 on a usage error.
#include <fcntl.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "tools/vhost-backend/command_line.h"
#include "virtio/backend/console_device.h"
#include "virtio/backend/rng_device.h"
#include "runtime/unique_fd.h"
#include "virtio/backend/vhost_user_backend.h"

namespace {

using trellis::UniqueFd;
using trellis::virtio::backend::VhostUserBackend;
using namespace trellis::vhost_backend;

std::atomic<VhostUserBackend*> g_backend{nullptr};

void OnStopSignal(int) {
  if (VhostUserBackend* backend = g_backend.load()) backend->Stop();
}

int Fatal(const std::string& message) {
  std::cerr << "trellis-vhost-backend: " << message << "\n";
  return kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  ParseResult parsed = ParseCommandLine(args, std::cout, std::cerr);
  if (!parsed.options) return parsed.exit_code;
  const CommandLine& cl = *parsed.options;

  signal(SIGPIPE, SIG_IGN);  // A closed --output is an error, not a death.
  UniqueFd input, output;
  std::unique_ptr<trellis::virtio::backend::BackendDevice> device;
  if (cl.device == "console") {
    if (cl.input) {
      input.reset(::open(cl.input->c_str(), O_RDONLY | O_CLOEXEC));
      if (!input.valid()) return Fatal("--input " + *cl.input + ": " + std::strerror(errno));
    }
    if (cl.output) {
      output.reset(::open(cl.output->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
      if (!output.valid()) return Fatal("--output " + *cl.output + ": " + std::strerror(errno));
    }
    device = std::make_unique<trellis::virtio::backend::ConsoleDevice>(
        trellis::virtio::backend::ConsoleOptions{
            .input_fd = cl.input ? input.get() : 0,
            .output_fd = cl.output ? output.get() : 1,
        });
  } else {
    device = std::make_unique<trellis::virtio::backend::RngDevice>();
  }

  // Blocked until the handler can find the backend: a stop signal that
  // arrives meanwhile is delivered (and stops Run) once they are unblocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  auto backend = VhostUserBackend::Listen(
      std::move(device), {.socket_path = cl.socket, .hostile = cl.hostile, .once = cl.once});
  if (!backend) return Fatal(backend.error().message());
  g_backend.store(backend->get());
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  sigprocmask(SIG_UNBLOCK, &stop_signals, nullptr);

  auto ran = (*backend)->Run();
  // Signals from here on would find no backend: blocked until we are gone.
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  g_backend.store(nullptr);
  backend->reset();  // Removes the socket file.
  if (!ran) return Fatal(ran.error().message());
  std::cerr << "trellis-vhost-backend: stopped\n";
  return kExitOk;
}
