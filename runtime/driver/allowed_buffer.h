// AllowedBuffer: memory a client lends a driver with Device.Allow (seed
// 001's process buffers). Either
//   - a copy: the bytes the call carried (clients on another machine), or
//   - shared: a range of the client's own memory (a memfd it attached on
//     the host's side socket), mapped into the host for this allow alone —
//     read-only for a read-only allow, so a driver writing it faults.
//
// The client keeps access to shared memory: it may change the contents at
// any time, even while the driver reads them. Read what you need once
// (copy it out, then validate the copy).
//
// Ownership is the allow: move-only. DeviceProtocol::Allow hands the driver
// the new buffer and takes the one it replaces back, as in Tock; the host
// checks that it is the one it lent, then unmaps it (shared) or returns its
// bytes to the client (copy). After that the driver has no access: a
// pointer it kept into a shared buffer points at unmapped memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace trellis {

class AllowedBuffer {
 public:
  // Keeps a shared buffer's mapping alive (the host's).
  class Mapping {
   public:
    virtual ~Mapping() = default;
  };
  // Where a shared buffer lies in the client's memory.
  struct SharedRange {
    uint64_t region_id = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
  };

  // Empty: nothing allowed.
  AllowedBuffer() = default;
  static AllowedBuffer Copy(uint64_t id, std::vector<std::byte> bytes, bool read_only) {
    AllowedBuffer b;
    b.id_ = id;
    b.copy_ = std::move(bytes);
    b.read_only_ = read_only;
    return b;
  }
  static AllowedBuffer Shared(uint64_t id, std::unique_ptr<Mapping> mapping,
                              std::span<std::byte> bytes, bool read_only, SharedRange range) {
    AllowedBuffer b;
    b.id_ = id;
    b.mapping_ = std::move(mapping);
    b.shared_ = bytes;
    b.read_only_ = read_only;
    b.range_ = range;
    return b;
  }

  AllowedBuffer(AllowedBuffer&& other) noexcept { *this = std::move(other); }
  AllowedBuffer& operator=(AllowedBuffer&& other) noexcept {
    if (this != &other) {
      id_ = std::exchange(other.id_, 0);
      copy_ = std::move(other.copy_);
      other.copy_.clear();
      mapping_ = std::move(other.mapping_);
      shared_ = std::exchange(other.shared_, {});
      read_only_ = std::exchange(other.read_only_, false);
      range_ = std::exchange(other.range_, {});
    }
    return *this;
  }
  AllowedBuffer(const AllowedBuffer&) = delete;
  AllowedBuffer& operator=(const AllowedBuffer&) = delete;

  bool empty() const { return size() == 0; }
  size_t size() const { return mapping_ ? shared_.size() : copy_.size(); }
  bool read_only() const { return read_only_; }
  bool shared() const { return mapping_ != nullptr; }

  std::span<const std::byte> bytes() const {
    return mapping_ ? std::span<const std::byte>(shared_) : std::span<const std::byte>(copy_);
  }
  // The bytes to write; empty for a read-only buffer.
  std::span<std::byte> writable() {
    if (read_only_) return {};
    return mapping_ ? shared_ : std::span<std::byte>(copy_);
  }

  // For the host: which allow this is (0 when empty), where a shared one
  // lies, and a copy's bytes to hand back.
  uint64_t id() const { return id_; }
  const SharedRange& range() const { return range_; }
  std::vector<std::byte> TakeCopy() && { return std::move(copy_); }

 private:
  uint64_t id_ = 0;
  std::vector<std::byte> copy_;
  std::unique_ptr<Mapping> mapping_;
  std::span<std::byte> shared_;
  bool read_only_ = false;
  SharedRange range_;
};

}  // namespace trellis
