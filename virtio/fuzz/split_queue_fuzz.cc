// Fuzz target for the split virtqueue, both sides.
//
// The input is a program: a header choosing the queue shape, then a stream of
// operations. The "device" is whatever the input writes into the used ring
// (ids, lengths, used->idx, avail_event, flags) plus our DeviceQueue popping
// chains (whose descriptors the input may also overwrite, so the device side
// sees a hostile driver) and pushing them back with chosen misbehaviours.
// The driver side adds requests of input-chosen shapes and polls.
//
// Checked on every input: no crash, no out-of-bounds access (ASan), no
// endless loop (libFuzzer's -timeout), every request completes at most once,
// and once the queue is broken every in-flight request has completed with EIO
// and Add fails.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "virtio/backend/device_queue.h"
#include "virtio/backend/guest_memory.h"
#include "virtio/ring_layout.h"
#include "virtio/split_queue.h"

namespace trellis::virtio {
namespace {

// Reads the input front to back; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint32_t U32() { return U16() | (uint32_t{U16()} << 16); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

[[noreturn]] void Violated(const char* what) {
  __builtin_printf("invariant violated: %s\n", what);
  std::abort();
}

void Check(bool ok, const char* what) {
  if (!ok) Violated(what);
}

void Run(Input& in) {
  const uint16_t size = static_cast<uint16_t>(1u << (in.U8() % 7));  // 1 to 64.
  const uint8_t flags = in.U8();
  const bool event_idx = flags & 1;
  const uint16_t indirect_max = (flags & 2) ? static_cast<uint16_t>(1 + in.U8() % size) : 0;

  auto layout = SplitQueueLayout::For(size, indirect_max);
  Check(layout.has_value(), "layout");
  constexpr size_t kData = 4096;
  // Exactly sized, so that ASan sees any access past the rings or the data.
  const size_t total = (layout->total_bytes + 63) / 64 * 64 + kData;
  auto* region = static_cast<std::byte*>(std::aligned_alloc(64, total));
  std::unique_ptr<std::byte, decltype(&std::free)> owner(region, &std::free);
  std::memset(region, 0, total);
  const uint64_t base = reinterpret_cast<uint64_t>(region);
  const uint64_t data_base = base + (total - kData);
  LinearGuestMemory memory(std::span(region, total), base);

  auto created = SplitQueue::Create(
      {.name = "fuzz", .size = size, .event_idx = event_idx, .indirect_max = indirect_max},
      RingMemory{.host = std::span(region, layout->total_bytes), .device_address = base});
  Check(created.has_value(), "create");
  SplitQueue& q = *created;
  auto device_created = DeviceQueue::Create({.name = "fuzz device",
                                             .size = size,
                                             .desc_address = q.desc_device_address(),
                                             .avail_address = q.avail_device_address(),
                                             .used_address = q.used_device_address(),
                                             .event_idx = event_idx,
                                             .indirect = indirect_max > 0},
                                            memory);
  Check(device_created.has_value(), "device create");
  DeviceQueue& dev = *device_created;
  RingView ring(size, region + layout->desc_offset, region + layout->avail_offset,
                region + layout->used_offset);

  // 0: never added; 1: in flight; 2: completed.
  std::vector<uint8_t> state;
  std::vector<uint16_t> popped;
  auto complete = [&](void* token, Result<uint32_t> len) {
    const uintptr_t t = reinterpret_cast<uintptr_t>(token);
    Check(t < state.size(), "unknown token");
    Check(state[t] == 1, "request completed twice or never added");
    state[t] = 2;
    if (!len.has_value()) {
      Check(len.error().errno_value() == EIO, "failure without EIO");
      Check(q.broken(), "failure from a queue that is not broken");
    }
  };

  for (int steps = 0; !in.empty() && steps < 4096; ++steps) {
    switch (in.U8() % 12) {
      case 0: {  // Add a request of chosen shape.
        const uint8_t shape = in.U8();
        const size_t n_out = shape % 5;
        const size_t n_in = (shape / 5) % 5;
        Buffer out[4], inb[4];
        for (size_t i = 0; i < n_out; ++i) {
          out[i] = {.device_address = data_base + in.U8() * 8u, .length = in.U8() % 64u};
        }
        for (size_t i = 0; i < n_in; ++i) {
          inb[i] = {.device_address = data_base + in.U8() * 8u, .length = in.U8() % 64u};
        }
        const uintptr_t token = state.size();
        state.push_back(1);
        auto r = q.Add(std::span(out, n_out), std::span(inb, n_in), reinterpret_cast<void*>(token));
        if (!r.has_value()) {
          state.back() = 0;
          if (q.broken()) Check(r.error().errno_value() == EIO, "Add on broken queue without EIO");
        }
        break;
      }
      case 1:
        q.PollUsed(complete);
        break;
      case 2: {  // The device writes a used element of its choice.
        VirtqUsedElem& e = ring.used_elem(in.U16() % size);
        e.id = in.U8() < 200 ? in.U8() % (size + 2u) : in.U32();
        e.len = in.U8() < 200 ? in.U8() % 80u : in.U32();
        break;
      }
      case 3:  // The device moves used->idx anywhere.
        ring.used_idx() = static_cast<uint16_t>(ring.used_idx() + static_cast<int8_t>(in.U8()));
        break;
      case 4:
        ring.avail_event() = in.U16();
        ring.used_flags() = in.U8() & 1;
        break;
      case 5:
        q.NeedsNotify();
        break;
      case 6:
        if (in.U8() & 1) {
          q.DisableCallbacks();
        } else {
          q.EnableCallbacks();
        }
        break;
      case 7: {  // Our device pops a chain.
        DeviceChain chain;
        auto r = dev.Pop(chain);
        if (r.has_value() && *r) {
          popped.push_back(chain.head);
          for (auto& b : chain.writable) std::memset(b.data(), 0xab, b.size());
        }
        break;
      }
      case 8: {  // Our device pushes one, perhaps misbehaving.
        if (popped.empty()) break;
        const size_t i = in.U8() % popped.size();
        dev.set_misbehaviour(static_cast<Misbehaviour>(in.U8() % 7));
        (void)dev.Push(popped[i], in.U8());
        popped.erase(popped.begin() + static_cast<ptrdiff_t>(i));
        break;
      }
      case 9: {  // A hostile driver: scribble on a descriptor.
        VirtqDesc& d = ring.desc(in.U16() % size);
        d.addr = in.U8() < 128 ? base + in.U16() % total : in.U32();
        d.len = in.U8() < 200 ? in.U8() : in.U32();
        d.flags = in.U8() & 7;
        d.next = in.U8() < 200 ? in.U8() % (size + 1u) : in.U16();
        break;
      }
      case 10:  // A hostile driver: move avail->idx or a ring slot.
        if (in.U8() & 1) {
          ring.avail_idx() = static_cast<uint16_t>(ring.avail_idx() + static_cast<int8_t>(in.U8()));
        } else {
          ring.avail_ring(in.U16() % size) = in.U16();
        }
        break;
      case 11:
        dev.NeedsCall();
        if (in.U8() == 0xff) q.MarkBroken("fuzz");
        break;
    }
  }

  q.PollUsed(complete);
  if (q.broken()) {
    for (uint8_t s : state) Check(s != 1, "broken queue left a request in flight");
    Check(q.num_in_flight() == 0, "broken queue counts requests in flight");
    const Buffer b{.device_address = base, .length = 1};
    Check(!q.Add(std::span(&b, 1), {}, nullptr).has_value(), "Add succeeded on a broken queue");
  } else {
    size_t in_flight = 0;
    for (uint8_t s : state) in_flight += s == 1;
    Check(in_flight == q.num_in_flight(), "in-flight count");
    Check(q.num_free() <= size, "free count");
  }
}

}  // namespace
}  // namespace trellis::virtio

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trellis::virtio::Input in(data, size);
  trellis::virtio::Run(in);
  return 0;
}
