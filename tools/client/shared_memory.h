// SharedMemory: a memfd a client shares with a driver host, so Block reads
// and writes move their payload through it instead of through protobuf
// (BlockRequest.shm). Create one, Attach it to a host under a Bind token,
// then name ranges of it by region_id(), offset and length.
//
//   auto shm = SharedMemory::Create(1 << 20);
//   auto id = shm->Attach(binding.endpoint(), binding.token());
//   ... request.mutable_shm()->set_region_id(*id); set_offset(0); set_length(4096);
//
// The memfd is sealed against shrinking (the host refuses it otherwise).
// The region stays attached while this object lives: destroying it closes
// the side connection, and the host drops the region.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "runtime/error.h"

namespace trellis::client {

class SharedMemory {
 public:
  // A zeroed region of `size` bytes, mapped here.
  static Result<SharedMemory> Create(uint64_t size);

  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  ~SharedMemory();

  std::span<std::byte> bytes() const { return {base_, size_}; }
  int fd() const { return fd_; }
  // The side-socket connection once attached (else -1): BlockQueue sends its
  // queue request on it and reads the host's notices from it.
  int side_socket() const { return side_; }

  // Shares the region with the host serving `endpoint` ("unix:PATH") under
  // `token`; returns the region id. Errors: the host's refusal with its
  // code and reason; kUnavailable if the side socket cannot be reached.
  Result<uint64_t> Attach(const std::string& endpoint, const std::string& token);

 private:
  SharedMemory(int fd, std::byte* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}
  void Reset();

  int fd_ = -1;
  int side_ = -1;  // The side-socket connection, once attached.
  std::byte* base_ = nullptr;
  uint64_t size_ = 0;
};

// Sends `message` (a token, to attach a region, or a queue request; see
// SharedMemoryServer) with `fds` as one message on a connected side socket
// and returns the host's answer parsed: the id or the error. Exposed for
// tests that send what a well-behaved client would not.
Result<uint64_t> SendSideMessage(int side_socket, const std::string& message, const int* fds,
                                 size_t fd_count);
// Connects to the side socket of `endpoint`.
Result<int> ConnectSideSocket(const std::string& endpoint);

}  // namespace trellis::client
