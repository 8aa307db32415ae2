// SharedRegion: a client's memfd mapped into the host, for payloads that do
// not pass through protobuf (after Tock's allow): requests name a byte range
// of it, and the host checks every range before a driver sees a byte.
//
// The memfd must be sealed against shrinking (F_SEAL_SHRINK): a region that
// could shrink under a mapping would turn a client's ftruncate into SIGBUS
// in the host. Owned by shared_ptr: the mapping lives while any request
// using it is in flight, even after the client detaches it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "runtime/driver/allowed_buffer.h"
#include "runtime/error.h"

namespace trellis::host {

class SharedRegion {
 public:
  // Largest region a client may share.
  static constexpr uint64_t kMaxSize = uint64_t{1} << 30;

  // Maps `fd` (taken over: kept for MapRange, closed with the region or on
  // error) read-write.
  // Errors: kInvalidArgument for a file that is not a sealed memfd of
  // 1..kMaxSize bytes, with the reason; the errno's code if mmap fails.
  static Result<std::shared_ptr<SharedRegion>> Map(int fd);

  ~SharedRegion();
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;

  uint64_t size() const { return size_; }

  // The `length` bytes at `offset`. Errors: kOutOfRange if the range does
  // not lie inside the region (overflow included).
  Result<std::span<std::byte>> Slice(uint64_t offset, uint64_t length) const;

  // A mapping of its own of the `length` bytes at `offset`, read-only if
  // `read_only` (for an allowed buffer: unmapped when the allow ends,
  // independently of the region). `bytes` is the range inside it.
  struct RangeMapping final : AllowedBuffer::Mapping {
    RangeMapping(void* base, size_t size, std::span<std::byte> bytes)
        : base(base), size(size), bytes(bytes) {}
    ~RangeMapping() override;
    void* const base;
    const size_t size;
    const std::span<std::byte> bytes;
  };
  // Errors: kOutOfRange as Slice; the errno's code if mmap fails.
  Result<std::unique_ptr<RangeMapping>> MapRange(uint64_t offset, uint64_t length,
                                                 bool read_only) const;

 private:
  SharedRegion(int fd, std::byte* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}

  const int fd_;
  std::byte* const base_;
  const uint64_t size_;
};

}  // namespace trellis::host
