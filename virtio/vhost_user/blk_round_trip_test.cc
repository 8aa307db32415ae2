// Real virtio-blk I/O through qemu-storage-daemon: a split ring laid out by
// hand in GuestMemory (no queue library), set up with the frontend's calls,
// kicked and completed through eventfds.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "virtio/vhost_user/frontend.h"
#include "virtio/vhost_user/guest_memory.h"
#include "virtio/vhost_user/testing/storage_daemon.h"
#include "virtio/features.h"

namespace trellis::vhost_user {
namespace {

using testing::StorageDaemon;
using namespace std::chrono_literals;

constexpr uint32_t kBlkTypeIn = 0;   // VIRTIO_BLK_T_IN: read.
constexpr uint32_t kBlkTypeOut = 1;  // VIRTIO_BLK_T_OUT: write.
constexpr uint8_t kBlkStatusOk = 0;
constexpr uint16_t kDescFlagNext = 1;
constexpr uint16_t kDescFlagWrite = 2;

constexpr uint16_t kQueueSize = 8;
constexpr uint64_t kRoundTripImageSize = 4 << 20;
constexpr size_t kBlockBytes = 4096;

// The split ring's layout (virtio 1.x, 2.7), little-endian = native here.
struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
struct Avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[kQueueSize];
  uint16_t used_event;
};
struct UsedElem {
  uint32_t id;
  uint32_t len;
};
struct Used {
  uint16_t flags;
  uint16_t idx;
  UsedElem ring[kQueueSize];
  uint16_t avail_event;
};
struct BlkHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

// Fails the test with the call and its error.
#define ASSERT_OK(expr)                                                    \
  do {                                                                     \
    auto r_ = (expr);                                                      \
    ASSERT_TRUE(r_.has_value()) << #expr << ": " << r_.error().ToString(); \
  } while (0)

template <typename T>
T* Place(GuestMemory& memory, size_t align, size_t count = 1) {
  auto span = memory.Allocate(sizeof(T) * count, align);
  EXPECT_TRUE(span) << span.error().ToString();
  return span ? reinterpret_cast<T*>(span->data()) : nullptr;
}

class BlkRoundTripTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!StorageDaemon::Available()) GTEST_SKIP() << StorageDaemon::kMissing;
    auto daemon = StorageDaemon::Start({.image_size = kRoundTripImageSize});
    ASSERT_TRUE(daemon) << daemon.error().ToString();
    daemon_ = std::move(*daemon);

    auto memory = GuestMemory::Create(1 << 20);
    ASSERT_TRUE(memory) << memory.error().ToString();
    memory_.emplace(std::move(*memory));
    desc_ = Place<Desc>(*memory_, 16, kQueueSize);
    avail_ = Place<Avail>(*memory_, 2);
    used_ = Place<Used>(*memory_, 4);
    header_ = Place<BlkHeader>(*memory_, 16);
    auto data = memory_->Allocate(kBlockBytes, 4096);
    ASSERT_TRUE(data);
    data_ = *data;
    status_ = Place<uint8_t>(*memory_, 1);

    // Non-blocking: the backend makes these fds O_NONBLOCK anyway (it
    // shares the open file description).
    kick_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    call_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(kick_, 0);
    ASSERT_GE(call_, 0);

    auto frontend = VhostUserFrontend::Connect(daemon_->socket_path());
    ASSERT_TRUE(frontend) << frontend.error().ToString();
    frontend_.emplace(std::move(*frontend));
    ASSERT_NO_FATAL_FAILURE(StartQueue());
  }

  void TearDown() override {
    frontend_.reset();  // Closes the connection before the fds it was given.
    if (kick_ >= 0) ::close(kick_);
    if (call_ >= 0) ::close(call_);
  }

  // QEMU's order: negotiate, share memory, set up queue 0, enable it.
  void StartQueue() {
    auto features = frontend_->GetFeatures();
    ASSERT_TRUE(features) << features.error().ToString();
    auto protocol = frontend_->GetProtocolFeatures();
    ASSERT_TRUE(protocol) << protocol.error().ToString();
    ASSERT_OK(frontend_->SetProtocolFeatures(
        *protocol & ((1ull << kProtocolFeatureReplyAck) | (1ull << kProtocolFeatureConfig))));
    ASSERT_OK(frontend_->SetOwner());
    // VERSION_1 and PROTOCOL_FEATURES only: no EVENT_IDX, no indirect.
    ASSERT_OK(
        frontend_->SetFeatures((1ull << virtio::VIRTIO_F_VERSION_1) | (1ull << kFeatureProtocolFeatures)));
    MemoryRegion regions[] = {memory_->region()};
    ASSERT_OK(frontend_->SetMemTable(regions));
    ASSERT_OK(frontend_->SetVringNum(0, kQueueSize));
    ASSERT_OK(frontend_->SetVringBase(0, 0));
    ASSERT_OK(frontend_->SetVringAddr({.index = 0,
                                       .desc = GuestMemory::DeviceAddress(desc_),
                                       .used = GuestMemory::DeviceAddress(used_),
                                       .avail = GuestMemory::DeviceAddress(avail_)}));
    ASSERT_OK(frontend_->SetVringKick(0, kick_));
    ASSERT_OK(frontend_->SetVringCall(0, call_));
    ASSERT_OK(frontend_->SetVringEnable(0, true));
  }

  // Lays out header / data / status as one chain at descriptors `head`..
  // `head + 2`, publishes it and kicks; returns after the device used it.
  void Submit(uint32_t type, uint64_t sector) {
    uint16_t head = static_cast<uint16_t>((avail_idx_ % 2) * 3);
    *header_ = {.type = type, .reserved = 0, .sector = sector};
    *status_ = 0xff;
    uint16_t data_flags = type == kBlkTypeIn ? kDescFlagWrite : 0;
    desc_[head] = {GuestMemory::DeviceAddress(header_), sizeof(BlkHeader), kDescFlagNext,
                   static_cast<uint16_t>(head + 1)};
    desc_[head + 1] = {GuestMemory::DeviceAddress(data_.data()), kBlockBytes,
                       static_cast<uint16_t>(data_flags | kDescFlagNext),
                       static_cast<uint16_t>(head + 2)};
    desc_[head + 2] = {GuestMemory::DeviceAddress(status_), 1, kDescFlagWrite, 0};
    avail_->ring[avail_idx_ % kQueueSize] = head;
    // Release: the descriptors and the ring slot are visible before the
    // index that publishes them.
    std::atomic_ref<uint16_t>(avail_->idx).store(++avail_idx_, std::memory_order_release);
    // The kick is a syscall (a full barrier): the index is out before it.
    uint64_t one = 1;
    ASSERT_EQ(::write(kick_, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
    ASSERT_NO_FATAL_FAILURE(WaitUsed(avail_idx_));
    const UsedElem& elem = used_->ring[(avail_idx_ - 1) % kQueueSize];
    EXPECT_EQ(elem.id, head);
    last_used_len_ = elem.len;
  }

  // Waits on the call eventfd until used->idx reaches `target`. The call fd
  // may fire without new used entries (libvhost-user signals it once when
  // SET_VRING_CALL arrives), so check the index after every wake-up.
  void WaitUsed(uint16_t target) {
    auto deadline = Clock::now() + 10s;
    for (;;) {
      // Acquire: the used entry and the buffers the device wrote are
      // visible once its index is.
      uint16_t idx = std::atomic_ref<uint16_t>(used_->idx).load(std::memory_order_acquire);
      if (idx == target) return;
      // At most a ring's worth outstanding; anything else means the device
      // ran past what we made available.
      ASSERT_LE(static_cast<uint16_t>(target - idx), kQueueSize)
          << "device moved used->idx past " << target << " to " << idx;
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      ASSERT_GT(left, 0) << "no completion within 10 s; used->idx " << idx
                         << ", daemon output: " << daemon_->Log();
      pollfd p{call_, POLLIN, 0};
      ASSERT_GE(::poll(&p, 1, static_cast<int>(left)), 0);
      uint64_t count;
      (void)::read(call_, &count, sizeof(count));
    }
  }

  std::unique_ptr<StorageDaemon> daemon_;
  std::optional<GuestMemory> memory_;
  std::optional<VhostUserFrontend> frontend_;
  Desc* desc_ = nullptr;
  Avail* avail_ = nullptr;
  Used* used_ = nullptr;
  BlkHeader* header_ = nullptr;
  std::span<std::byte> data_;
  uint8_t* status_ = nullptr;
  int kick_ = -1;
  int call_ = -1;
  uint16_t avail_idx_ = 0;
  uint32_t last_used_len_ = 0;
};

TEST_F(BlkRoundTripTest, ReadReturnsTheImageBytes) {
  ASSERT_NO_FATAL_FAILURE(Submit(kBlkTypeIn, 8));
  EXPECT_EQ(std::atomic_ref<uint16_t>(used_->idx).load(std::memory_order_acquire), 1);
  EXPECT_EQ(*status_, kBlkStatusOk);
  // The device wrote the data and the status byte.
  EXPECT_EQ(last_used_len_, kBlockBytes + 1);
  for (size_t i = 0; i < kBlockBytes; ++i) {
    ASSERT_EQ(data_[i], StorageDaemon::PatternByte(8 * 512 + i)) << "byte " << i;
  }
}

TEST_F(BlkRoundTripTest, WriteLandsInTheImageFileAtItsOffset) {
  for (size_t i = 0; i < kBlockBytes; ++i) data_[i] = static_cast<std::byte>(0xa5 ^ (i & 0xff));
  ASSERT_NO_FATAL_FAILURE(Submit(kBlkTypeOut, 24));
  EXPECT_EQ(*status_, kBlkStatusOk);
  auto image = daemon_->ReadImage(24 * 512 - 1, kBlockBytes + 2);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_EQ(image->size(), kBlockBytes + 2);
  // The bytes either side are untouched.
  EXPECT_EQ(static_cast<std::byte>((*image)[0]), StorageDaemon::PatternByte(24 * 512 - 1));
  EXPECT_EQ(static_cast<std::byte>((*image)[kBlockBytes + 1]),
            StorageDaemon::PatternByte(24 * 512 + kBlockBytes));
  EXPECT_EQ(std::memcmp(image->data() + 1, data_.data(), kBlockBytes), 0);

  // And reads back through the device.
  std::memset(data_.data(), 0, kBlockBytes);
  ASSERT_NO_FATAL_FAILURE(Submit(kBlkTypeIn, 24));
  EXPECT_EQ(*status_, kBlkStatusOk);
  EXPECT_EQ(data_[1], static_cast<std::byte>(0xa5 ^ 1));
}

TEST_F(BlkRoundTripTest, GetVringBaseAfterIoReturnsTheNextAvailIndex) {
  ASSERT_NO_FATAL_FAILURE(Submit(kBlkTypeIn, 0));
  auto base = frontend_->GetVringBase(0);
  ASSERT_TRUE(base) << base.error().ToString();
  EXPECT_EQ(*base, 1u);
}

}  // namespace
}  // namespace trellis::vhost_user
