#include "drivers/gpt/guid.h"

#include <algorithm>
#include <optional>

namespace trellis::gpt {
namespace {

// Text position i (0..15, counting byte pairs left to right) shows on-disk
// byte kDiskOrder[i]: the first three fields are little-endian.
constexpr std::array<size_t, 16> kDiskOrder = {3, 2, 1, 0, 5, 4, 7, 6,
                                               8, 9, 10, 11, 12, 13, 14, 15};
// Byte pairs after which the text has a dash.
constexpr bool DashAfter(size_t pair) { return pair == 3 || pair == 5 || pair == 7 || pair == 9; }

std::optional<unsigned> HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

}  // namespace

bool Guid::IsZero() const {
  return std::ranges::all_of(bytes, [](std::byte b) { return b == std::byte{0}; });
}

std::string Guid::ToString() const {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (size_t pair = 0; pair < 16; ++pair) {
    const auto value = std::to_integer<unsigned>(bytes[kDiskOrder[pair]]);
    text += kHex[value >> 4];
    text += kHex[value & 0xf];
    if (DashAfter(pair)) text += '-';
  }
  return text;
}

Result<Guid> ParseGuid(std::string_view text) {
  auto invalid = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "not a GUID (want 8-4-4-4-12 hex digits): '" + std::string(text) + "'");
  };
  if (text.size() != 36) return invalid();
  Guid guid;
  size_t pos = 0;
  for (size_t pair = 0; pair < 16; ++pair) {
    const auto high = HexValue(text[pos]);
    const auto low = HexValue(text[pos + 1]);
    if (!high || !low) return invalid();
    guid.bytes[kDiskOrder[pair]] = std::byte(*high << 4 | *low);
    pos += 2;
    if (DashAfter(pair)) {
      if (text[pos] != '-') return invalid();
      ++pos;
    }
  }
  return guid;
}

}  // namespace trellis::gpt
