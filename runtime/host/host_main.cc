// trellis-host: a driver host process, started by trellis-manager.
//
//   trellis-host --host-id ID --control-fd N --manager-fd M --socket PATH
//
// Test hook: TRELLIS_TEST_IO_FAULTS=SEED:PER_MILLE in the environment turns
// on the reactor's fault injection (runtime/io_faults.h) in every host.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "runtime/host/driver_host.h"

int main(int argc, char** argv) {
  CLI::App app{"trellis-host: runs drivers for trellis-manager (started by the manager)"};
  trellis::host::DriverHostOptions options;
  int control_fd = -1;
  int manager_fd = -1;
  app.add_option("--host-id", options.host_id, "Host id assigned by the manager")->required();
  app.add_option("--control-fd", control_fd, "Inherited socket serving DriverHost")->required();
  app.add_option("--manager-fd", manager_fd, "Inherited socket to the manager's NodeChannel")
      ->required();
  app.add_option("--socket", options.client_socket, "Unix socket for clients");
  app.add_option("--threads", options.threads, "Worker threads")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  if (const char* spec = std::getenv("TRELLIS_TEST_IO_FAULTS"); spec != nullptr) {
    auto faults = trellis::SeededIoFaults::FromSpec(spec);
    if (!faults) {
      std::fprintf(stderr, "trellis-host: TRELLIS_TEST_IO_FAULTS: %s\n",
                   faults.error().ToString().c_str());
      return 2;
    }
    options.io_faults = std::move(*faults);
    std::fprintf(stderr, "trellis-host %s: io_uring fault injection on (%s)\n",
                 options.host_id.c_str(), spec);
  }

  // A host never outlives its manager.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1;

  // SIGTERM/SIGINT are taken by sigwait on one thread; block them before any
  // other thread exists so none of them receives the signal instead.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto host = trellis::host::DriverHost::Start(options, control_fd, manager_fd);
  if (!host) {
    std::fprintf(stderr, "trellis-host %s: %s\n", options.host_id.c_str(),
                 host.error().ToString().c_str());
    return 1;
  }
  trellis::host::DriverHost* raw = host->get();
  std::thread([raw, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    raw->RequestShutdown();
  }).detach();
  raw->Wait();
  host->reset();
  return 0;
}
