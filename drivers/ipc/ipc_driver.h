// The ipc driver: Tock's IPC capsule (seed 001) over the Device protocol.
// Client processes find services by name, share memory with them and
// notify each other, with the driver in between.
//
// Every process that uses the node gets an ipc id, from its binding (the
// token's client), never from anything it sends — so one client cannot
// notify as another. Ids are never reused; an id is gone once its process
// holds nothing here (no allow, no live subscription): the host takes both
// back when a client unbinds or its process exits.
//
// Device protocol:
//   allow(0, rw, NAME)   registers the caller as service NAME (1..64 of
//                        [A-Za-z0-9._-]); value = the caller's id.
//                        ALREADY_EXISTS if another live process has NAME.
//                        Un-allowing minor 0 read-write unregisters.
//   allow(0, ro, NAME)   discovers service NAME: value = its id (NOT_FOUND).
//   allow(S, ro|rw, buf) shares `buf` (best: a region from the side socket,
//                        lent in place) with service S; INVALID_ARGUMENT if
//                        S is not a live service. Un-allowing always works.
//   subscribe(0)         the service's upcall: (client id, value, 0) for
//                        each notification a client sends it.
//   subscribe(S)         the client's upcall from service S: (S, value, 0).
//   command(0, ...)      presence check: 0, no side effect.
//   command(S, 0, v)     notifies service S with v.
//   command(C, 1, v)     a service notifies client C with v.
//   command(C, 2, off)   a service reads the 8 bytes at `off` of the buffer
//                        client C shared with it (read-write slot first),
//                        in place: the client's writes after the allow show.
//   command(C, 3, 0)     a service: the size of that buffer.
//   command(C, 4, off << 32 | v)  a service writes v as 4 bytes at `off` of
//                        C's read-write buffer.
// Errors: INVALID_ARGUMENT for an id that is gone or has no such role;
// FAILED_PRECONDITION when the target has not subscribed or shared; and
// UNIMPLEMENTED for an unknown operation.
//
// A service reaches a client's memory through the driver, not by mapping
// the client's memfd itself: a mapping in another process could not be
// taken back, and an un-allow must end the service's access at once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/driver/device_protocol.h"
#include "runtime/driver/driver.h"

namespace trellis::drivers {

class IpcDriver final : public Driver, public DeviceProtocol {
 public:
  explicit IpcDriver(DriverContext context) : Driver(context) {}

  void Start(StartCompleter completer) override;
  void Stop(StopCompleter completer) override;

  Result<int64_t> Command(const Caller& caller, uint32_t minor, uint64_t arg1,
                          uint64_t arg2) override;
  Result<void> Subscribe(const Caller& caller, uint32_t minor, Upcall upcall) override;
  Result<AllowResult> Allow(const Caller& caller, uint32_t minor, bool read_only,
                            AllowedBuffer buffer) override;

 private:
  // One process's use of the node, keyed by its client id.
  struct Peer {
    uint64_t client_id = 0;
    uint32_t id = 0;
    std::string service;                                        // The name it registered, if any.
    AllowedBuffer registration;                                 // allow(0, rw).
    AllowedBuffer discovery;                                    // allow(0, ro).
    Upcall as_service;                                          // subscribe(0).
    std::map<uint32_t, Upcall> as_client;                       // subscribe(S).
    std::map<std::pair<uint32_t, bool>, AllowedBuffer> shared;  // allow(S, ro).

    bool live() const;
  };

  Peer& PeerOf(const Caller& caller);
  // The live peer with `id`, or INVALID_ARGUMENT naming it; forgets a
  // peer found dead.
  Result<Peer*> Find(uint32_t id);
  Result<Peer*> FindService(uint32_t id);
  void Forget(uint64_t client_id);

  Result<AllowResult> Register(Peer& peer, AllowedBuffer name);
  Result<AllowResult> Discover(Peer& peer, AllowedBuffer name);
  // What `client` shared with the calling service `service` (read-write
  // slot first).
  Result<AllowedBuffer*> SharedWith(const Caller& service, uint32_t client, bool need_write);

  // Touched only on the driver's dispatcher.
  std::map<uint64_t, Peer> peers_;            // By client id.
  std::map<uint32_t, uint64_t> ids_;          // Ipc id → client id.
  std::map<std::string, uint64_t> services_;  // Name → client id.
  uint32_t next_id_ = 1;
};

}  // namespace trellis::drivers
