// The block queue's wire format: Block requests that bypass gRPC entirely,
// for local clients. The client and the host share one memfd region
// (SharedMemoryServer); inside it the client lays out a split virtqueue
// (VIRTIO 1.2 section 2.7, RING_EVENT_IDX on, indirect descriptors allowed)
// and the buffers its requests point at. Device addresses are byte offsets
// into the region. The client plays the driver side (SplitQueue), the host
// the device side (DeviceQueue), and two eventfds are the doorbells: the
// client writes `kick` when the host asks for it, the host writes `call`.
//
// A request is one descriptor chain, like virtio-blk's but with block
// offsets and a full status:
//
//   readable:  RequestHeader (exactly kHeaderBytes)
//              [write: the data, one buffer of length_blocks * block_size]
//   writable:  [read: the data, one buffer of length_blocks * block_size]
//              Status (exactly kStatusBytes, last)
//
// The used length is the bytes the host wrote: a read's data plus the
// status, or the status alone. A chain of any other shape completes with
// INVALID_ARGUMENT in its status, or with used length 0 when it does not
// end in a status buffer (the client treats that as INVALID_ARGUMENT too).
// Everything the client wrote is untrusted: the host reads the header once,
// checks it against the device's geometry (as for Block.Stream) and the
// buffers against the region.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trellis::block_queue {

// RequestHeader::op.
enum class Op : uint32_t {
  kRead = 0,
  kWrite = 1,
  kFlush = 2,
  kDiscard = 3,
  kWriteZeroes = 4,
};

// RequestHeader::flags.
inline constexpr uint32_t kFlagFua = 1;  // kWrite: complete once on stable storage.

struct RequestHeader {
  uint32_t op;
  uint32_t flags;
  uint64_t offset_blocks;  // 0 for kFlush.
  uint64_t length_blocks;  // 0 for kFlush.
};
inline constexpr size_t kHeaderBytes = 24;
static_assert(sizeof(RequestHeader) == kHeaderBytes);

struct Status {
  int32_t code;         // A gRPC status code; 0 is OK.
  int32_t errno_value;  // The errno of an I/O error, else 0.
};
inline constexpr size_t kStatusBytes = 8;
static_assert(sizeof(Status) == kStatusBytes);

// Queue sizes the host accepts (a power of two).
inline constexpr uint16_t kMinQueueSize = 2;
inline constexpr uint16_t kMaxQueueSize = 1024;

// The side-socket message that attaches a queue (text, then the token):
//   "queue <region id> <ring offset> <queue size> <token>"
// with SCM_RIGHTS [kick eventfd, call eventfd]. The region must be attached
// under the same token; the rings (SplitQueueLayout::For(size, 0)'s desc,
// avail and used parts) start at <ring offset>, 64-byte aligned. The answer
// is "ok <queue id>\n" or "error <gRPC code> <reason>\n". Later, the host
// may send "stopped <queue id> <gRPC code> <reason>\n" on the same socket
// when it stops serving the queue (the driver stopped, the token was
// revoked, the client broke the ring); requests in flight then never
// complete. Closing the socket detaches the queue.
inline constexpr char kQueueCommand[] = "queue";
inline constexpr char kStoppedNotice[] = "stopped";

}  // namespace trellis::block_queue
