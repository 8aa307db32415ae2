#include "drivers/ipc/ipc_driver.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/driver/driver_export.h"

namespace trellis::drivers {

namespace {

constexpr size_t kMaxNameLength = 64;

enum Op : uint64_t { kNotifyService = 0, kNotifyClient = 1, kRead = 2, kSize = 3, kWrite = 4 };

// The name a buffer holds, copied out once (a shared buffer may change
// under us) and checked.
Result<std::string> NameIn(const AllowedBuffer& buffer) {
  auto bytes = buffer.bytes();
  if (bytes.size() > kMaxNameLength) {
    return Fail(ErrorCode::kInvalidArgument,
                "a service name is at most 64 bytes, not " + std::to_string(bytes.size()));
  }
  std::string name(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  if (!std::ranges::all_of(name, allowed)) {
    return Fail(ErrorCode::kInvalidArgument,
                "a service name is made of [A-Za-z0-9._-], not \"" + name + "\"");
  }
  return name;
}

std::string IdText(uint32_t id) { return "ipc id " + std::to_string(id); }

}  // namespace

bool IpcDriver::Peer::live() const {
  if (!registration.empty() || !discovery.empty() || as_service.active()) return true;
  return std::ranges::any_of(as_client, [](const auto& e) { return e.second.active(); }) ||
         std::ranges::any_of(shared, [](const auto& e) { return !e.second.empty(); });
}

void IpcDriver::Start(StartCompleter completer) {
  completer(context().Serve<DeviceProtocol>(*this));
}

void IpcDriver::Stop(StopCompleter completer) {
  peers_.clear();  // Ends every subscription and drops every buffer.
  ids_.clear();
  services_.clear();
  completer();
}

IpcDriver::Peer& IpcDriver::PeerOf(const Caller& caller) {
  if (auto it = peers_.find(caller.client_id); it != peers_.end()) return it->second;
  // Sweep the dead before adding: a peer that holds nothing is gone.
  std::vector<uint64_t> dead;
  for (const auto& [client, peer] : peers_) {
    if (!peer.live()) dead.push_back(client);
  }
  for (uint64_t client : dead) Forget(client);
  Peer& peer = peers_[caller.client_id];
  peer.client_id = caller.client_id;
  peer.id = next_id_++;
  ids_[peer.id] = caller.client_id;
  return peer;
}

void IpcDriver::Forget(uint64_t client_id) {
  auto it = peers_.find(client_id);
  if (it == peers_.end()) return;
  ids_.erase(it->second.id);
  if (!it->second.service.empty()) services_.erase(it->second.service);
  peers_.erase(it);
}

Result<IpcDriver::Peer*> IpcDriver::Find(uint32_t id) {
  auto it = ids_.find(id);
  if (it == ids_.end()) return Fail(ErrorCode::kInvalidArgument, IdText(id) + " is not known");
  Peer& peer = peers_.at(it->second);
  if (!peer.live()) {
    Forget(it->second);
    return Fail(ErrorCode::kInvalidArgument, IdText(id) + " is gone");
  }
  return &peer;
}

Result<IpcDriver::Peer*> IpcDriver::FindService(uint32_t id) {
  TRELLIS_ASSIGN_OR_RETURN(Peer * peer, Find(id));
  if (peer->service.empty()) {
    return Fail(ErrorCode::kInvalidArgument, IdText(id) + " is not a service");
  }
  return peer;
}

Result<int64_t> IpcDriver::Command(const Caller& caller, uint32_t minor, uint64_t arg1,
                                   uint64_t arg2) {
  if (minor == 0) return 0;
  switch (arg1) {
    case kNotifyService: {
      TRELLIS_ASSIGN_OR_RETURN(Peer * service, FindService(minor));
      const uint32_t from = PeerOf(caller).id;
      if (!service->as_service.Schedule(from, arg2)) {
        return Fail(ErrorCode::kFailedPrecondition,
                    "service \"" + service->service + "\" has not subscribed to minor 0");
      }
      return 0;
    }
    case kNotifyClient: {
      Peer& self = PeerOf(caller);
      if (self.service.empty()) {
        return Fail(ErrorCode::kFailedPrecondition,
                    "only a registered service notifies clients: allow minor 0 read-write");
      }
      TRELLIS_ASSIGN_OR_RETURN(Peer * client, Find(minor));
      auto it = client->as_client.find(self.id);
      if (it == client->as_client.end() || !it->second.Schedule(self.id, arg2)) {
        return Fail(ErrorCode::kFailedPrecondition,
                    IdText(minor) + " has not subscribed to service " + std::to_string(self.id));
      }
      return 0;
    }
    case kRead: {
      TRELLIS_ASSIGN_OR_RETURN(AllowedBuffer * buffer, SharedWith(caller, minor, false));
      auto bytes = buffer->bytes();
      if (arg2 > bytes.size() || bytes.size() - arg2 < sizeof(int64_t)) {
        return Fail(ErrorCode::kOutOfRange, "offset " + std::to_string(arg2) + " + 8 is past the " +
                                                std::to_string(bytes.size()) + "-byte buffer");
      }
      int64_t value;
      std::memcpy(&value, bytes.data() + arg2, sizeof(value));  // Once: the client may write.
      return value;
    }
    case kSize: {
      TRELLIS_ASSIGN_OR_RETURN(AllowedBuffer * buffer, SharedWith(caller, minor, false));
      return static_cast<int64_t>(buffer->size());
    }
    case kWrite: {
      TRELLIS_ASSIGN_OR_RETURN(AllowedBuffer * buffer, SharedWith(caller, minor, true));
      const uint64_t offset = arg2 >> 32;
      const auto value = static_cast<uint32_t>(arg2);
      auto bytes = buffer->writable();
      if (offset > bytes.size() || bytes.size() - offset < sizeof(value)) {
        return Fail(ErrorCode::kOutOfRange, "offset " + std::to_string(offset) +
                                                " + 4 is past the " + std::to_string(bytes.size()) +
                                                "-byte buffer");
      }
      std::memcpy(bytes.data() + offset, &value, sizeof(value));
      return 0;
    }
    default:
      return Fail(ErrorCode::kUnimplemented, "ipc has no operation " + std::to_string(arg1));
  }
}

Result<AllowedBuffer*> IpcDriver::SharedWith(const Caller& service, uint32_t client,
                                             bool need_write) {
  Peer& self = PeerOf(service);
  if (self.service.empty()) {
    return Fail(ErrorCode::kFailedPrecondition,
                "only a registered service reads what clients share: allow minor 0 read-write");
  }
  TRELLIS_ASSIGN_OR_RETURN(Peer * peer, Find(client));
  for (bool read_only : {false, true}) {
    if (need_write && read_only) break;
    auto it = peer->shared.find({self.id, read_only});
    if (it != peer->shared.end() && !it->second.empty()) return &it->second;
  }
  return Fail(ErrorCode::kFailedPrecondition, IdText(client) + " shares no " +
                                                  (need_write ? "read-write " : "") +
                                                  "buffer with service " + std::to_string(self.id));
}

Result<void> IpcDriver::Subscribe(const Caller& caller, uint32_t minor, Upcall upcall) {
  if (minor == 0) {
    PeerOf(caller).as_service = std::move(upcall);
    return Ok();
  }
  TRELLIS_ASSIGN_OR_RETURN(Peer * service, FindService(minor));
  (void)service;
  PeerOf(caller).as_client[minor] = std::move(upcall);
  return Ok();
}

Result<IpcDriver::AllowResult> IpcDriver::Allow(const Caller& caller, uint32_t minor,
                                                bool read_only, AllowedBuffer buffer) {
  Peer& peer = PeerOf(caller);
  if (minor == 0) {
    return read_only ? Discover(peer, std::move(buffer)) : Register(peer, std::move(buffer));
  }
  if (!buffer.empty()) {
    TRELLIS_ASSIGN_OR_RETURN(Peer * service, FindService(minor));
    (void)service;
  }
  auto& slot = peer.shared[{minor, read_only}];
  AllowResult result{.previous = std::move(slot)};
  slot = std::move(buffer);
  return result;
}

Result<IpcDriver::AllowResult> IpcDriver::Register(Peer& peer, AllowedBuffer name_buffer) {
  std::string name;
  if (!name_buffer.empty()) {
    TRELLIS_ASSIGN_OR_RETURN(name, NameIn(name_buffer));
    // A registered service holds its registration, so it is live.
    if (auto it = services_.find(name); it != services_.end() && it->second != peer.client_id) {
      return Fail(ErrorCode::kAlreadyExists,
                  "service \"" + name + "\" is registered by " + IdText(peers_.at(it->second).id));
    }
  }
  if (!peer.service.empty()) services_.erase(peer.service);
  peer.service = name;
  if (!name.empty()) services_[name] = peer.client_id;
  AllowResult result{.previous = std::move(peer.registration), .value = name.empty() ? 0 : peer.id};
  peer.registration = std::move(name_buffer);
  return result;
}

Result<IpcDriver::AllowResult> IpcDriver::Discover(Peer& peer, AllowedBuffer name_buffer) {
  int64_t id = 0;
  if (!name_buffer.empty()) {
    TRELLIS_ASSIGN_OR_RETURN(std::string name, NameIn(name_buffer));
    auto it = services_.find(name);
    if (it == services_.end()) {
      return Fail(ErrorCode::kNotFound, "no service is registered as \"" + name + "\"");
    }
    id = peers_.at(it->second).id;
  }
  AllowResult result{.previous = std::move(peer.discovery), .value = id};
  peer.discovery = std::move(name_buffer);
  return result;
}

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::IpcDriver);
