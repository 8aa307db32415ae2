// powerctl: suspend and resume a Trellis system, hold wake leases, and look
// at power state, leases and suspend statistics.
//
//   powerctl [--endpoint unix:/run/trellis/manager.sock] [--json]
//            [--timeout DURATION] COMMAND ...
//
// Commands: status, leases, stats, watch (status_commands.h); suspend,
// resume (suspend_commands.h); lease (lease_command.h). They talk to the
// manager's trellis.power.v1.Power service (power_client.h).
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/powerctl/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  trellis::powerctl::Io io{.out = std::cout, .err = std::cerr, .err_is_tty = isatty(STDERR_FILENO) == 1};
  return trellis::powerctl::RunPowerctl(std::move(args), io);
}
