// Little-endian loads and stores on byte buffers, through memcpy: GPT fields
// are little-endian and often unaligned, so no casts of packed structs.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <span>

namespace trellis::gpt::internal {

// The little-endian T at `bytes[offset]`. Precondition (our own invariant,
// the callers use fixed offsets into buffers of checked size):
// offset + sizeof(T) <= bytes.size().
template <std::unsigned_integral T>
T LoadLe(std::span<const std::byte> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.subspan(offset, sizeof(T)).data(), sizeof(T));
  if constexpr (std::endian::native == std::endian::big) value = std::byteswap(value);
  return value;
}

// Writes `value` little-endian at `bytes[offset]`; same precondition.
template <std::unsigned_integral T>
void StoreLe(std::span<std::byte> bytes, size_t offset, T value) {
  if constexpr (std::endian::native == std::endian::big) value = std::byteswap(value);
  std::memcpy(bytes.subspan(offset, sizeof(T)).data(), &value, sizeof(T));
}

}  // namespace trellis::gpt::internal
