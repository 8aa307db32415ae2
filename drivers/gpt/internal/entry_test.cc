#include "drivers/gpt/internal/entry.h"

#include <vector>

#include <gtest/gtest.h>

namespace trellis::gpt::internal {
namespace {

std::vector<std::byte> Utf16Le(std::initializer_list<uint16_t> units) {
  std::vector<std::byte> bytes;
  for (uint16_t u : units) {
    bytes.push_back(std::byte(u & 0xff));
    bytes.push_back(std::byte(u >> 8));
  }
  return bytes;
}

TEST(DecodeUtf16LeTest, StopsAtFirstNul) {
  EXPECT_EQ(DecodeUtf16Le(Utf16Le({'b', 'o', 'o', 't', 0, 'x'})), "boot");
}

TEST(DecodeUtf16LeTest, DecodesBmpAndSurrogatePairs) {
  // "Ü" (U+00DC), "€" (U+20AC), "😀" (U+1F600 = D83D DE00).
  EXPECT_EQ(DecodeUtf16Le(Utf16Le({0x00DC, 0x20AC, 0xD83D, 0xDE00})), "Ü€😀");
}

TEST(DecodeUtf16LeTest, UnpairedSurrogatesBecomeReplacementCharacters) {
  EXPECT_EQ(DecodeUtf16Le(Utf16Le({0xD83D, 'a', 0xDE00, 0xD83D})), "\uFFFDa\uFFFD\uFFFD");
}

TEST(DecodeUtf16LeTest, IgnoresTrailingOddByte) {
  auto bytes = Utf16Le({'a'});
  bytes.push_back(std::byte{'b'});
  EXPECT_EQ(DecodeUtf16Le(bytes), "a");
}

}  // namespace
}  // namespace trellis::gpt::internal
