#include "drivers/gpt/internal/entry.h"

#include <algorithm>

#include "drivers/gpt/internal/little_endian.h"

namespace trellis::gpt::internal {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool IsHighSurrogate(char32_t u) { return u >= 0xD800 && u <= 0xDBFF; }
bool IsLowSurrogate(char32_t u) { return u >= 0xDC00 && u <= 0xDFFF; }

void AppendUtf8(std::string& out, char32_t c) {
  auto put = [&](uint32_t bits) { out += static_cast<char>(bits); };
  if (c < 0x80) {
    put(c);
  } else if (c < 0x800) {
    put(0xC0 | c >> 6);
    put(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    put(0xE0 | c >> 12);
    put(0x80 | (c >> 6 & 0x3F));
    put(0x80 | (c & 0x3F));
  } else {
    put(0xF0 | c >> 18);
    put(0x80 | (c >> 12 & 0x3F));
    put(0x80 | (c >> 6 & 0x3F));
    put(0x80 | (c & 0x3F));
  }
}

Guid LoadGuid(std::span<const std::byte> bytes, size_t offset) {
  Guid guid;
  std::ranges::copy(bytes.subspan(offset, guid.bytes.size()), guid.bytes.begin());
  return guid;
}

}  // namespace

std::string DecodeUtf16Le(std::span<const std::byte> name) {
  std::string out;
  const size_t units = name.size() / 2;
  for (size_t i = 0; i < units; ++i) {
    const char32_t unit = LoadLe<uint16_t>(name, 2 * i);
    if (unit == 0) break;
    if (IsHighSurrogate(unit) && i + 1 < units) {
      const char32_t next = LoadLe<uint16_t>(name, 2 * (i + 1));
      if (IsLowSurrogate(next)) {
        AppendUtf8(out, 0x10000 + ((unit - 0xD800) << 10) + (next - 0xDC00));
        ++i;
        continue;
      }
    }
    AppendUtf8(out, IsHighSurrogate(unit) || IsLowSurrogate(unit) ? kReplacement : unit);
  }
  return out;
}

Partition DecodeEntry(std::span<const std::byte> entry, uint32_t index, uint32_t block_size) {
  return Partition{
      .index = index,
      .name = DecodeUtf16Le(entry.subspan(kNameOffset, kNameBytes)),
      .type_guid = LoadGuid(entry, kTypeGuidOffset),
      .unique_guid = LoadGuid(entry, kUniqueGuidOffset),
      .first_lba = LoadLe<uint64_t>(entry, kFirstLbaOffset),
      .last_lba = LoadLe<uint64_t>(entry, kLastLbaOffset),
      .attributes = LoadLe<uint64_t>(entry, kAttributesOffset),
      .block_size = block_size,
  };
}

}  // namespace trellis::gpt::internal
