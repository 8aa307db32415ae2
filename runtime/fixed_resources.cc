#include "runtime/fixed_resources.h"

#include <sys/uio.h>

namespace trellis {

FixedSlot& FixedSlot::operator=(FixedSlot&& other) noexcept {
  if (this != &other) {
    Reset();
    owner_ = std::exchange(other.owner_, nullptr);
    kind_ = other.kind_;
    index_ = other.index_;
  }
  return *this;
}

void FixedSlot::Reset() {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->Release(kind_, index_);
}

FixedResources::FixedResources(io_uring* ring) : ring_(ring) {
  files_ = io_uring_register_files_sparse(ring_, kSlots) == 0;
  buffers_ = io_uring_register_buffers_sparse(ring_, kSlots) == 0;
  MutexLock lock(mu_);
  // Handed out from the back: lowest index first.
  for (unsigned i = kSlots; i-- > 0;) {
    if (files_) free_files_.push_back(i);
    if (buffers_) free_buffers_.push_back(i);
  }
}

Result<unsigned> FixedResources::TakeLocked(std::vector<unsigned>& free, const char* what) {
  if (free.empty()) {
    return Fail(ErrorCode::kResourceExhausted, std::string("all ") + std::to_string(kSlots) +
                                                   " fixed " + what + " slots of the ring are taken");
  }
  unsigned index = free.back();
  free.pop_back();
  return index;
}

Result<FixedSlot> FixedResources::RegisterFile(int fd) {
  if (!files_) return Fail(ErrorCode::kUnimplemented, "this kernel has no sparse fixed-file table");
  unsigned index;
  {
    MutexLock lock(mu_);
    TRELLIS_ASSIGN_OR_RETURN(index, TakeLocked(free_files_, "file"));
  }
  int r = io_uring_register_files_update(ring_, index, &fd, 1);
  if (r < 0) {
    MutexLock lock(mu_);
    free_files_.push_back(index);
    return FailErrno(-r, "io_uring_register_files_update");
  }
  return FixedSlot(this, FixedSlot::Kind::kFile, index);
}

Result<FixedSlot> FixedResources::RegisterBuffer(std::span<std::byte> memory) {
  if (!buffers_) {
    return Fail(ErrorCode::kUnimplemented, "this kernel has no sparse fixed-buffer table");
  }
  unsigned index;
  {
    MutexLock lock(mu_);
    TRELLIS_ASSIGN_OR_RETURN(index, TakeLocked(free_buffers_, "buffer"));
  }
  iovec iov{memory.data(), memory.size()};
  __u64 tag = 0;
  int r = io_uring_register_buffers_update_tag(ring_, index, &iov, &tag, 1);
  if (r < 0) {
    MutexLock lock(mu_);
    free_buffers_.push_back(index);
    return FailErrno(-r, "io_uring_register_buffers_update_tag");
  }
  return FixedSlot(this, FixedSlot::Kind::kBuffer, index);
}

void FixedResources::Release(FixedSlot::Kind kind, unsigned index) {
  if (kind == FixedSlot::Kind::kFile) {
    int none = -1;
    (void)io_uring_register_files_update(ring_, index, &none, 1);
  } else {
    iovec iov{nullptr, 0};
    __u64 tag = 0;
    (void)io_uring_register_buffers_update_tag(ring_, index, &iov, &tag, 1);
  }
  MutexLock lock(mu_);
  (kind == FixedSlot::Kind::kFile ? free_files_ : free_buffers_).push_back(index);
}

}  // namespace trellis
