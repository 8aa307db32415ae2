// Fuzz target for the backend's strict decoding of vhost-user requests
// (virtio/backend/vhost_user_requests.h): what an untrusted frontend sends.
//
// Input: byte 0 = number of fds that came with the message (mod 9), byte 1 =
// the device's queue count (1 to 4), then the message as on the wire (the
// 12-byte header, then its payload). Fds are eventfds, made per input.
//
// Checked on every input: no crash, no out-of-bounds read (ASan), and what
// the decoders accept is what they promise: queue indexes in range, a
// memory table of 1 to 8 non-empty, non-overflowing, non-overlapping
// regions with one fd each, a GET_CONFIG size within bounds.
#include <sys/eventfd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "virtio/backend/vhost_user_requests.h"

namespace trellis::virtio::backend {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void Decode(ReceivedRequest& r, size_t num_queues) {
  using vhost_user::Request;
  if (!CheckRequestShape(r)) return;
  switch (r.request()) {
    case Request::kSetFeatures:
    case Request::kSetProtocolFeatures:
      (void)DecodeU64Request(r);
      break;
    case Request::kSetVringNum:
    case Request::kSetVringBase:
    case Request::kGetVringBase:
    case Request::kSetVringEnable:
      if (auto s = DecodeVringStateRequest(r, num_queues)) Check(s->index < num_queues);
      break;
    case Request::kSetVringAddr:
      if (auto a = DecodeVringAddrRequest(r, num_queues)) Check(a->index < num_queues);
      break;
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kSetVringErr:
      if (auto f = DecodeVringFdRequest(r, num_queues)) Check(f->index < num_queues);
      break;
    case Request::kSetMemTable:
      if (auto regions = DecodeMemTableRequest(r)) {
        Check(!regions->empty() && regions->size() <= vhost_user::kMaxMemoryRegions);
        for (size_t i = 0; i < regions->size(); ++i) {
          const MemTableEntry& a = (*regions)[i];
          Check(a.memory_size > 0 && a.fd.valid());
          Check(a.guest_phys_addr + a.memory_size > a.guest_phys_addr);
          for (size_t j = 0; j < i; ++j) {
            const MemTableEntry& b = (*regions)[j];
            Check(a.guest_phys_addr >= b.guest_phys_addr + b.memory_size ||
                  b.guest_phys_addr >= a.guest_phys_addr + a.memory_size);
          }
        }
      }
      break;
    case Request::kGetConfig:
      if (auto h = DecodeGetConfigRequest(r)) {
        Check(h->size > 0 && h->size <= vhost_user::kMaxConfigSize);
        Check(r.payload.size() == sizeof(*h) + h->size);
      }
      break;
    default:
      break;
  }
}

}  // namespace
}  // namespace trellis::virtio::backend

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trellis::virtio::backend;
  if (size < 2 + trellis::vhost_user::kHeaderSize) return 0;
  ReceivedRequest r;
  std::memcpy(&r.header, data + 2, trellis::vhost_user::kHeaderSize);
  if (!CheckRequestHeader(r.header)) return 0;
  const uint8_t* payload = data + 2 + trellis::vhost_user::kHeaderSize;
  const size_t available = size - 2 - trellis::vhost_user::kHeaderSize;
  if (available < r.header.size) return 0;
  r.payload.assign(reinterpret_cast<const std::byte*>(payload),
                   reinterpret_cast<const std::byte*>(payload) + r.header.size);
  for (int i = 0; i < data[0] % 9; ++i) r.fds.emplace_back(::eventfd(0, EFD_CLOEXEC));
  Decode(r, 1 + data[1] % 4);
  return 0;
}
