// One GPT partition entry (UEFI 2.10 table 5.6): its on-disk layout and
// decoding, including the UTF-16LE name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "drivers/gpt/gpt_table.h"

namespace trellis::gpt::internal {

inline constexpr size_t kTypeGuidOffset = 0;
inline constexpr size_t kUniqueGuidOffset = 16;
inline constexpr size_t kFirstLbaOffset = 32;
inline constexpr size_t kLastLbaOffset = 40;
inline constexpr size_t kAttributesOffset = 48;
inline constexpr size_t kNameOffset = 56;
inline constexpr size_t kNameBytes = 72;  // 36 UTF-16 code units
inline constexpr size_t kMinEntrySize = 128;

// Decodes the entry at the start of `entry` (at least kMinEntrySize bytes).
// Returns an entry with a zero type GUID for an unused slot; checks nothing.
Partition DecodeEntry(std::span<const std::byte> entry, uint32_t index, uint32_t block_size);

// Decodes a UTF-16LE name up to its first NUL into UTF-8. Unpaired
// surrogates become U+FFFD; a trailing odd byte is ignored.
std::string DecodeUtf16Le(std::span<const std::byte> name);

}  // namespace trellis::gpt::internal
