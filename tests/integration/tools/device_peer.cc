// device_peer: a second client process for the Device tests. It binds
// NODE's Device protocol through the manager at MANAGER_ENDPOINT, shares a
// 4 KiB region and allows it read-write on minor 5, allows "abc" (copied)
// read-only on minor 3, subscribes to minor 2, prints "ready", and waits to
// be killed — so a test can check what the host takes back when a client
// dies without unbinding.
#include <unistd.h>

#include <cstdio>

#include "tools/client/client.h"
#include "tools/client/device_client.h"
#include "tools/client/shared_memory.h"

namespace {

int Die(const trellis::Error& error) {
  std::fprintf(stderr, "device_peer: %s\n", error.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace trellis;
  if (argc != 3) {
    std::fprintf(stderr, "usage: device_peer MANAGER_ENDPOINT NODE\n");
    return 2;
  }
  auto manager = client::ManagerClient::Connect(argv[1]);
  if (!manager) return Die(manager.error());
  auto binding = manager->Bind(argv[2], std::string(client::DeviceClient::kProtocol));
  if (!binding) return Die(binding.error());
  auto device = client::DeviceClient::Connect(*binding);
  if (!device) return Die(device.error());
  auto shm = client::SharedMemory::Create(4096);
  if (!shm) return Die(shm.error());
  auto region = shm->Attach(device->endpoint(), device->token());
  if (!region) return Die(region.error());
  if (auto allowed = device->AllowShared(5, false, *region, 0, 4096); !allowed) {
    return Die(allowed.error());
  }
  if (auto allowed = device->Allow(3, true, "abc"); !allowed) return Die(allowed.error());
  auto subscription = device->Subscribe(2);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}
