// Fixed files and buffers: io_uring's registered-resource tables, shared by
// every driver on a Runtime's ring. A driver registers its backing file
// (IOSQE_FIXED_FILE: no fd lookup per operation) and its I/O memory
// (IORING_OP_READ_FIXED / WRITE_FIXED: no page pinning per operation) once,
// and gets RAII handles whose slots are returned when they die.
//
// Unregistering while operations that use a slot are in flight is safe: the
// kernel keeps the resource until they complete.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/error.h"
#include "runtime/mutex.h"

namespace trellis {

class FixedResources;

// One registered file or buffer slot. Move-only; frees the slot on
// destruction (and must not outlive the Reactor).
class FixedSlot {
 public:
  FixedSlot() = default;
  FixedSlot(FixedSlot&& other) noexcept { *this = std::move(other); }
  FixedSlot& operator=(FixedSlot&& other) noexcept;
  ~FixedSlot() { Reset(); }

  // The index to put in sqe->fd (files, with IOSQE_FIXED_FILE) or
  // sqe->buf_index (buffers).
  unsigned index() const { return index_; }
  explicit operator bool() const { return owner_ != nullptr; }
  void Reset();

 private:
  friend class FixedResources;
  enum class Kind : uint8_t { kFile, kBuffer };
  FixedSlot(FixedResources* owner, Kind kind, unsigned index)
      : owner_(owner), kind_(kind), index_(index) {}

  FixedResources* owner_ = nullptr;
  Kind kind_ = Kind::kFile;
  unsigned index_ = 0;
};

class FixedResources {
 public:
  static constexpr unsigned kSlots = 256;

  // Sets up sparse tables of kSlots files and kSlots buffers on `ring`.
  // A kernel without sparse registration leaves them unavailable: Register*
  // then fails with kUnimplemented and callers use plain fds and buffers.
  explicit FixedResources(io_uring* ring);

  // Errors: kUnimplemented (no tables), kResourceExhausted (all slots
  // taken), or the errno of the registration.
  Result<FixedSlot> RegisterFile(int fd) TRELLIS_EXCLUDES(mu_);
  Result<FixedSlot> RegisterBuffer(std::span<std::byte> memory) TRELLIS_EXCLUDES(mu_);

 private:
  friend class FixedSlot;
  void Release(FixedSlot::Kind kind, unsigned index) TRELLIS_EXCLUDES(mu_);
  Result<unsigned> TakeLocked(std::vector<unsigned>& free, const char* what)
      TRELLIS_REQUIRES(mu_);

  io_uring* const ring_;
  bool files_ = false;
  bool buffers_ = false;
  Mutex mu_;
  std::vector<unsigned> free_files_ TRELLIS_GUARDED_BY(mu_);
  std::vector<unsigned> free_buffers_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis
