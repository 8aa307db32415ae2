#include "virtio/backend/vhost_user_requests.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <cstring>

namespace trellis::virtio::backend {
namespace {

using vhost_user::Request;

ReceivedRequest Make(Request request, std::vector<std::byte> payload, size_t fds = 0,
                     uint32_t flags = vhost_user::kVersion) {
  ReceivedRequest r;
  r.header = {static_cast<uint32_t>(request), flags, static_cast<uint32_t>(payload.size())};
  r.payload = std::move(payload);
  for (size_t i = 0; i < fds; ++i) r.fds.emplace_back(::eventfd(0, EFD_CLOEXEC));
  return r;
}

std::string ErrorOf(const Result<void>& r) { return r ? "" : r.error().message(); }

TEST(VhostUserRequestsTest, HeaderNeedsVersionOneNoReplyFlagAndABoundedSize) {
  EXPECT_TRUE(CheckRequestHeader({1, vhost_user::kVersion, 0}));
  EXPECT_FALSE(CheckRequestHeader({1, 0, 0}));
  EXPECT_FALSE(CheckRequestHeader({1, vhost_user::kVersion | vhost_user::kFlagReply, 0}));
  EXPECT_FALSE(CheckRequestHeader({1, vhost_user::kVersion, kMaxRequestPayload + 1}));
}

TEST(VhostUserRequestsTest, ShapeChecksSizeAndFdsPerRequest) {
  EXPECT_TRUE(CheckRequestShape(Make(Request::kGetFeatures, {})));
  EXPECT_EQ(ErrorOf(CheckRequestShape(Make(Request::kGetFeatures, std::vector<std::byte>(8)))),
            "GET_FEATURES: payload of 8 bytes, expected 0");
  EXPECT_EQ(ErrorOf(CheckRequestShape(Make(Request::kSetVringAddr, std::vector<std::byte>(39)))),
            "SET_VRING_ADDR: payload of 39 bytes, expected 40");
  EXPECT_EQ(ErrorOf(CheckRequestShape(Make(Request::kSetOwner, {}, 1))),
            "SET_OWNER: 1 file descriptors, expected 0");
  // The no-fd bit means no fd; without it, exactly one.
  EXPECT_TRUE(CheckRequestShape(Make(Request::kSetVringCall, vhost_user::EncodeU64(0x100))));
  EXPECT_TRUE(CheckRequestShape(Make(Request::kSetVringCall, vhost_user::EncodeU64(0), 1)));
  EXPECT_FALSE(CheckRequestShape(Make(Request::kSetVringCall, vhost_user::EncodeU64(0x100), 1)));
  // Unknown requests pass: the caller refuses them.
  ReceivedRequest unknown = Make(Request::kGetFeatures, std::vector<std::byte>(3));
  unknown.header.request = 77;
  EXPECT_TRUE(CheckRequestShape(unknown));
  EXPECT_FALSE(IsKnownRequest(77));
}

TEST(VhostUserRequestsTest, VringRequestsCheckTheQueueIndex) {
  auto ok = DecodeVringStateRequest(
      Make(Request::kSetVringNum, vhost_user::EncodeVringState({1, 256})), 2);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->num, 256u);
  auto bad = DecodeVringStateRequest(
      Make(Request::kSetVringNum, vhost_user::EncodeVringState({2, 256})), 2);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "SET_VRING_NUM: queue index 2 out of range (2 queues)");
  EXPECT_FALSE(DecodeVringAddrRequest(
      Make(Request::kSetVringAddr, vhost_user::EncodeVringAddr({.index = 9})), 2));
  EXPECT_FALSE(DecodeVringAddrRequest(
      Make(Request::kSetVringAddr, vhost_user::EncodeVringAddr({.index = 0, .flags = 2})), 2));
  auto kick = Make(Request::kSetVringKick, vhost_user::EncodeU64(1), 1);
  auto fd = DecodeVringFdRequest(kick, 2);
  ASSERT_TRUE(fd);
  EXPECT_EQ(fd->index, 1u);
  EXPECT_TRUE(fd->fd.valid());
  auto stray_bits = Make(Request::kSetVringKick, vhost_user::EncodeU64(0x201), 1);
  EXPECT_FALSE(DecodeVringFdRequest(stray_bits, 2));
}

std::vector<std::byte> Table(std::vector<std::array<uint64_t, 4>> regions) {
  std::vector<std::byte> out(8 + 32 * regions.size());
  uint32_t n = static_cast<uint32_t>(regions.size());
  std::memcpy(out.data(), &n, 4);
  for (size_t i = 0; i < regions.size(); ++i) std::memcpy(out.data() + 8 + 32 * i, &regions[i], 32);
  return out;
}

std::string MemTableError(std::vector<std::array<uint64_t, 4>> regions) {
  auto r = Make(Request::kSetMemTable, Table(regions), regions.size());
  auto decoded = DecodeMemTableRequest(r);
  return decoded ? "" : decoded.error().message();
}

TEST(VhostUserRequestsTest, MemTableRejectsZeroSizeOverflowAndOverlap) {
  EXPECT_EQ(MemTableError({{0, 4096, 0, 0}, {4096, 4096, 4096, 0}}), "");
  EXPECT_EQ(MemTableError({{0, 0, 0, 0}}), "SET_MEM_TABLE: region 0 has size 0");
  EXPECT_EQ(MemTableError({{~uint64_t{0}, 2, 0, 0}}),
            "SET_MEM_TABLE: region 0 overflows 64 bits (size 2)");
  EXPECT_EQ(MemTableError({{0, 4096, 0, ~uint64_t{0}}}),
            "SET_MEM_TABLE: region 0 overflows 64 bits (size 4096)");
  EXPECT_EQ(MemTableError({{0, 8192, 0, 0}, {4096, 4096, 1 << 20, 0}}),
            "SET_MEM_TABLE: region 1 overlaps region 0 in guest-physical addresses");
  EXPECT_EQ(MemTableError({{0, 4096, 0, 0}, {1 << 20, 4096, 2048, 0}}),
            "SET_MEM_TABLE: region 1 overlaps region 0 in userspace addresses");
  EXPECT_EQ(MemTableError(std::vector<std::array<uint64_t, 4>>(9, {0, 1, 0, 0})),
            "SET_MEM_TABLE: 9 regions, expected 1 to 8");
}

TEST(VhostUserRequestsTest, GetConfigSizeMustMatchAndBeBounded) {
  std::vector<std::byte> payload(sizeof(vhost_user::ConfigHeader) + 4);
  vhost_user::ConfigHeader h{0, 4, 0};
  std::memcpy(payload.data(), &h, sizeof(h));
  EXPECT_TRUE(DecodeGetConfigRequest(Make(Request::kGetConfig, payload)));
  payload.pop_back();
  EXPECT_FALSE(DecodeGetConfigRequest(Make(Request::kGetConfig, payload)));
  std::vector<std::byte> empty(sizeof(vhost_user::ConfigHeader));
  h.size = 0;
  std::memcpy(empty.data(), &h, sizeof(h));
  EXPECT_FALSE(DecodeGetConfigRequest(Make(Request::kGetConfig, empty)));
}

TEST(VhostUserRequestsTest, ReplyHasTheReplyFlag) {
  auto reply = EncodeReply(1, vhost_user::EncodeU64(5));
  vhost_user::Header h;
  std::memcpy(&h, reply.data(), sizeof(h));
  EXPECT_EQ(h.request, 1u);
  EXPECT_EQ(h.flags, vhost_user::kVersion | vhost_user::kFlagReply);
  EXPECT_EQ(h.size, 8u);
}

}  // namespace
}  // namespace trellis::virtio::backend
