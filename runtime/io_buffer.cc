#include "runtime/io_buffer.h"

#include <cstring>
#include <new>

namespace trellis {

IoBuffer IoBuffer::Allocate(size_t size, size_t alignment) {
  IoBuffer buffer;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  void* p = nullptr;
  if (posix_memalign(&p, alignment, size == 0 ? 1 : size) != 0) throw std::bad_alloc();
  std::memset(p, 0, size);
  buffer.data_.reset(static_cast<std::byte*>(p));
  buffer.size_ = size;
  return buffer;
}

}  // namespace trellis
