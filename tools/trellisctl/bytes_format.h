// Byte strings as text: C-style escapes and hex, for Allow buffers and
// property values that may hold anything, and hex dumps for block data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace trellis::tools {

// Printable ASCII as is, except '"' and '\\' which get a backslash;
// \n \r \t as such; every other byte as \xHH. ("a\"b\x00").
std::string EscapeBytes(std::string_view bytes);

// Lower-case hex, two digits per byte, no separators ("68690a").
std::string HexBytes(std::string_view bytes);

// A canonical hex dump (as `hexdump -C`), 16 bytes a line: the byte's
// address (`base` plus its position) in at least 8 hex digits, the bytes in
// two groups of eight, and the printable ones between bars, '.' for others:
//   "00000200  48 69 0a 00 00 00 00 00  00 00 00 00 00 00 00 00  |Hi..............|\n"
// A dump of consecutive pieces, each with its own base, reads as one.
std::string HexDump(std::string_view bytes, uint64_t base = 0);

}  // namespace trellis::tools
