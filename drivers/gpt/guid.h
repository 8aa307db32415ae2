// Guid: a GPT GUID, kept as the 16 bytes stored on disk.
//
// GPT stores GUIDs mixed-endian (UEFI 2.10 appendix A): the first three
// fields little-endian, the last eight bytes in order. ToString() undoes that,
// so the on-disk bytes 28 73 2a c1 1f f8 d2 11 ba 4b 00 a0 c9 3e c9 3b read
// "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" (the EFI System Partition type).
// sgdisk prints the same text in upper case; we print lower case, as RFC 9562
// and /dev/disk/by-partuuid do, and ParseGuid accepts either.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/error.h"

namespace trellis::gpt {

struct Guid {
  std::array<std::byte, 16> bytes{};

  // True for the all-zero GUID, which marks an unused partition entry.
  bool IsZero() const;
  // "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": 36 characters, lower case.
  std::string ToString() const;

  friend bool operator==(const Guid&, const Guid&) = default;
};

// Parses the 36-character text form, upper or lower case, into on-disk bytes.
// Errors: kInvalidArgument if `text` is not exactly 8-4-4-4-12 hex digits.
Result<Guid> ParseGuid(std::string_view text);

}  // namespace trellis::gpt
