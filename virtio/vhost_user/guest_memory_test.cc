// GuestMemory: a sealed, shared memfd with identity device addresses.
#include "virtio/vhost_user/guest_memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace trellis::vhost_user {
namespace {

TEST(GuestMemoryTest, RegionDescribesTheMappingWithIdentityAddresses) {
  auto memory = GuestMemory::Create(100);
  ASSERT_TRUE(memory) << memory.error().ToString();
  EXPECT_EQ(memory->size() % static_cast<size_t>(::sysconf(_SC_PAGESIZE)), 0u);
  MemoryRegion region = memory->region();
  EXPECT_EQ(region.guest_phys_addr, reinterpret_cast<uintptr_t>(memory->base()));
  EXPECT_EQ(region.userspace_addr, region.guest_phys_addr);
  EXPECT_EQ(region.memory_size, memory->size());
  EXPECT_EQ(region.mmap_offset, 0u);
  EXPECT_EQ(region.fd, memory->fd());
  EXPECT_EQ(GuestMemory::DeviceAddress(memory->base() + 8), region.guest_phys_addr + 8);
}

TEST(GuestMemoryTest, MemfdIsCloseOnExecAndSealedAgainstResizing) {
  auto memory = GuestMemory::Create(1 << 16);
  ASSERT_TRUE(memory);
  EXPECT_NE(::fcntl(memory->fd(), F_GETFD) & FD_CLOEXEC, 0);
  int seals = ::fcntl(memory->fd(), F_GET_SEALS);
  EXPECT_NE(seals & F_SEAL_SHRINK, 0);
  EXPECT_NE(seals & F_SEAL_GROW, 0);
  EXPECT_NE(::ftruncate(memory->fd(), 4096), 0);
}

TEST(GuestMemoryTest, ContainsChecksBothEnds) {
  auto memory = GuestMemory::Create(4096);
  ASSERT_TRUE(memory);
  std::byte* base = memory->base();
  EXPECT_TRUE(memory->Contains(base, memory->size()));
  EXPECT_TRUE(memory->Contains(base + memory->size() - 1, 1));
  EXPECT_FALSE(memory->Contains(base + memory->size() - 1, 2));
  EXPECT_FALSE(memory->Contains(base - 1, 1));
  EXPECT_FALSE(memory->Contains(base + memory->size(), 0));
  EXPECT_FALSE(memory->Contains(base + 1, SIZE_MAX));
}

TEST(GuestMemoryTest, AllocateAlignsZeroedSpansAndRunsOut) {
  auto memory = GuestMemory::Create(4096);
  ASSERT_TRUE(memory);
  auto a = memory->Allocate(3, 1);
  ASSERT_TRUE(a);
  auto b = memory->Allocate(128, 16);
  ASSERT_TRUE(b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 16, 0u);
  EXPECT_GE(b->data(), a->data() + a->size());
  EXPECT_TRUE(memory->Contains(b->data(), b->size()));
  for (std::byte x : *b) EXPECT_EQ(x, std::byte{0});

  auto too_big = memory->Allocate(4096, 1);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(memory->Allocate(8, 3).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(memory->Allocate(0, 8).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(memory->Allocate(4096 - memory->used(), 1));
}

TEST(GuestMemoryTest, MovedFromLeavesNothingBehind) {
  auto memory = GuestMemory::Create(4096);
  ASSERT_TRUE(memory);
  int fd = memory->fd();
  GuestMemory moved = std::move(*memory);
  EXPECT_EQ(moved.fd(), fd);
  EXPECT_EQ(memory->fd(), -1);
  EXPECT_FALSE(memory->Contains(moved.base(), 1));
}

}  // namespace
}  // namespace trellis::vhost_user
