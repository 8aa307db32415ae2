// IoBuffer: an owning, aligned, move-only byte buffer for I/O. Its bytes never
// move when the handle does, so an SQE may point at them while the buffer is
// owned by an in-flight Operation.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <span>

namespace trellis {

class IoBuffer {
 public:
  IoBuffer() = default;
  // Zero-filled buffer of `size` bytes aligned to `alignment` (a power of
  // two; use 4096 for O_DIRECT). Aborts only if memory is exhausted.
  static IoBuffer Allocate(size_t size, size_t alignment = alignof(std::max_align_t));

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<std::byte> span() { return {data_.get(), size_}; }
  std::span<const std::byte> span() const { return {data_.get(), size_}; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte[], Free> data_;
  size_t size_ = 0;
};

}  // namespace trellis
