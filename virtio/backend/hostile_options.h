// HostileOptions: how a vhost-user backend misbehaves on purpose, so tests
// can check that the driver side survives a broken device.
//
//   misbehave        what the misbehave_after-th Push on each queue does
//                    wrong (DeviceQueue::set_misbehaviour), once per queue
//                    per connection.
//   stall_after      after this many completions on a connection the backend
//                    stops answering kicks (and completes nothing more) but
//                    keeps the connection: a hung device.
//
// Counters start again with every connection. Plain data and pure
// functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "virtio/backend/device_queue.h"

namespace trellis::virtio::backend {

struct HostileOptions {
  Misbehaviour misbehave = Misbehaviour::kNone;
  // 1 = the first Push on a queue.
  uint64_t misbehave_after = 1;
  // nullopt = never stall; 0 = never complete anything.
  std::optional<uint64_t> stall_after;
};

// "id-out-of-range", "id-not-head", "duplicate", "length-too-large",
// "index-jump", "index-backwards"; "none" for kNone.
std::string_view MisbehaviourName(Misbehaviour m);
// The inverse of MisbehaviourName (not "none"); nullopt for anything else.
std::optional<Misbehaviour> ParseMisbehaviour(std::string_view name);

}  // namespace trellis::virtio::backend
