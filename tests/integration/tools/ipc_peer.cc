// ipc_peer: a client process for the ipc driver's tests, driven line by
// line on stdin; it answers each line with one line on stdout:
//   "ok [VALUE]", "upcall MINOR ARG0 ARG1" or "error CODE MESSAGE".
//
//   register NAME | discover NAME      allow(0, rw|ro, NAME) → ok ID
//   unregister                         un-allows minor 0 read-write
//   share ID SIZE                      attaches a SIZE-byte region and allows
//                                      all of it read-write to service ID
//   unshare ID                         un-allows it
//   poke OFFSET VALUE | peek OFFSET    writes / reads 8 bytes of the region
//   subscribe MINOR                    starts a Subscribe stream
//   wait MINOR                         the next upcall on it (5 s)
//   command MINOR ARG1 ARG2            → ok VALUE
//
// Started as: ipc_peer MANAGER_ENDPOINT NODE; prints "ready" once bound.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "tools/client/client.h"
#include "tools/client/device_client.h"
#include "tools/client/shared_memory.h"

namespace {

using namespace trellis;

void Reply(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void ReplyError(const Error& error) {
  std::string message = error.message();
  std::ranges::replace(message, '\n', ' ');
  Reply("error " + std::to_string(static_cast<int>(error.code())) + " " + message);
}

class Peer {
 public:
  explicit Peer(client::DeviceClient device) : device_(std::move(device)) {}

  void Handle(const std::string& line) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    uint64_t a = 0, b = 0, c = 0;
    std::string name;
    if (verb == "register" || verb == "discover") {
      in >> name;
      Answer(device_.Allow(0, verb == "discover", name));
    } else if (verb == "unregister") {
      Answer(device_.Allow(0, false, ""));
    } else if (verb == "share" && in >> a >> b) {
      Share(static_cast<uint32_t>(a), b);
    } else if (verb == "unshare" && in >> a) {
      Answer(device_.AllowShared(static_cast<uint32_t>(a), false, region_id_, 0, 0));
    } else if (verb == "poke" && in >> a >> b && Fits(a)) {
      std::memcpy(shm_->bytes().data() + a, &b, sizeof(b));
      Reply("ok");
    } else if (verb == "peek" && in >> a && Fits(a)) {
      std::memcpy(&b, shm_->bytes().data() + a, sizeof(b));
      Reply("ok " + std::to_string(b));
    } else if (verb == "subscribe" && in >> a) {
      subscriptions_.insert_or_assign(a, device_.Subscribe(static_cast<uint32_t>(a)));
      Reply("ok");
    } else if (verb == "wait" && in >> a && subscriptions_.contains(a)) {
      auto upcall = subscriptions_.at(a).WaitNext(std::chrono::seconds(5));
      if (!upcall) return ReplyError(upcall.error());
      Reply("upcall " + std::to_string(upcall->minor_num()) + " " + std::to_string(upcall->arg0()) +
            " " + std::to_string(upcall->arg1()));
    } else if (verb == "command" && in >> a >> b >> c) {
      auto value = device_.Command(static_cast<uint32_t>(a), b, c);
      if (!value) return ReplyError(value.error());
      Reply("ok " + std::to_string(*value));
    } else {
      Reply("error 3 cannot parse \"" + line + "\"");
    }
  }

 private:
  void Answer(const Result<device::v1::AllowResponse>& response) {
    if (!response) return ReplyError(response.error());
    Reply("ok " + std::to_string(response->value()));
  }

  bool Fits(uint64_t offset) const {
    return shm_ && offset <= shm_->bytes().size() && shm_->bytes().size() - offset >= 8;
  }

  void Share(uint32_t service, uint64_t size) {
    auto shm = client::SharedMemory::Create(size);
    if (!shm) return ReplyError(shm.error());
    auto region = shm->Attach(device_.endpoint(), device_.token());
    if (!region) return ReplyError(region.error());
    shm_ = std::move(*shm);
    region_id_ = *region;
    Answer(device_.AllowShared(service, false, region_id_, 0, size));
  }

  client::DeviceClient device_;
  std::optional<client::SharedMemory> shm_;
  uint64_t region_id_ = 0;
  std::map<uint64_t, client::UpcallSubscription> subscriptions_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: ipc_peer MANAGER_ENDPOINT NODE\n");
    return 2;
  }
  auto manager = client::ManagerClient::Connect(argv[1]);
  if (!manager) return ReplyError(manager.error()), 1;
  auto binding = manager->Bind(argv[2], std::string(client::DeviceClient::kProtocol));
  if (!binding) return ReplyError(binding.error()), 1;
  auto device = client::DeviceClient::Connect(*binding);
  if (!device) return ReplyError(device.error()), 1;
  Peer peer(std::move(*device));
  Reply("ready");
  for (std::string line; std::getline(std::cin, line);) peer.Handle(line);
  return 0;
}
