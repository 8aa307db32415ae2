#include "virtio/backend/mapped_guest_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace trellis::virtio::backend {
namespace {

UniqueFd Memfd(size_t size, std::byte fill) {
  UniqueFd fd(::memfd_create("mapped-test", MFD_CLOEXEC));
  EXPECT_TRUE(fd.valid());
  std::vector<std::byte> bytes(size, fill);
  EXPECT_EQ(::write(fd.get(), bytes.data(), size), static_cast<ssize_t>(size));
  return fd;
}

TEST(MappedGuestMemoryTest, TranslatesGuestAndUserAddressesPerRegion) {
  std::vector<MemTableEntry> regions(2);
  regions[0] = {.guest_phys_addr = 0x10000,
                .memory_size = 4096,
                .userspace_addr = 0x7000000,
                .mmap_offset = 0,
                .fd = Memfd(4096, std::byte{0xaa})};
  // The second region starts 4096 bytes into its file.
  regions[1] = {.guest_phys_addr = 0x40000,
                .memory_size = 4096,
                .userspace_addr = 0x9000000,
                .mmap_offset = 4096,
                .fd = Memfd(8192, std::byte{0xbb})};
  auto memory = MappedGuestMemory::Map(std::move(regions));
  ASSERT_TRUE(memory) << memory.error().ToString();
  MappedGuestMemory& m = **memory;
  EXPECT_EQ(m.num_regions(), 2u);
  ASSERT_NE(m.Translate(0x10000, 4096), nullptr);
  EXPECT_EQ(*m.Translate(0x10010, 1), std::byte{0xaa});
  EXPECT_EQ(*m.Translate(0x40ff0, 16), std::byte{0xbb});
  EXPECT_NE(m.Translate(0x11000, 0), nullptr);   // One past the end, empty.
  EXPECT_EQ(m.Translate(0x10ff0, 32), nullptr);  // Crosses the end.
  EXPECT_EQ(m.Translate(0x20000, 1), nullptr);
  EXPECT_EQ(m.Translate(~uint64_t{0}, 2), nullptr);
  EXPECT_EQ(m.GuestAddressOfUser(0x9000100, 16), uint64_t{0x40100});
  EXPECT_FALSE(m.GuestAddressOfUser(0x9000ff8, 16));
  EXPECT_FALSE(m.GuestAddressOfUser(0x40100, 16));  // A guest address, not a user one.
  // Writes land in the shared file.
  *m.Translate(0x10000, 1) = std::byte{1};
}

TEST(MappedGuestMemoryTest, RefusesARegionBeyondItsFile) {
  std::vector<MemTableEntry> regions(1);
  regions[0] = {.guest_phys_addr = 0,
                .memory_size = 8192,
                .userspace_addr = 0,
                .mmap_offset = 0,
                .fd = Memfd(4096, std::byte{0})};
  auto memory = MappedGuestMemory::Map(std::move(regions));
  ASSERT_FALSE(memory);
  EXPECT_EQ(memory.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(memory.error().message().find("its file has 4096 bytes"), std::string::npos)
      << memory.error().ToString();
}

}  // namespace
}  // namespace trellis::virtio::backend
