// StartArgs: what a driver is told when it starts (after Fuchsia's
// DriverStartArgs).
#pragma once

#include <string>

#include "runtime/driver/properties.h"

namespace trellis {

struct StartArgs {
  // The driver's name from its manifest, e.g. "echo".
  std::string driver_name;
  // The node the driver is bound to, e.g. "root.sys.echo0".
  std::string node_path;
  // The node's properties.
  NodeProperties properties;
  // The manifest's `config` object as JSON text; "{}" when absent.
  std::string config_json = "{}";
  // Whether the manifest enables power-managed dispatchers (and therefore
  // SystemSuspend/SystemResume).
  bool power_managed = false;
  // Whether the manifest sets power.wake_capable: the driver may arm wake
  // vectors and report wakes.
  bool wake_capable = false;
};

}  // namespace trellis
