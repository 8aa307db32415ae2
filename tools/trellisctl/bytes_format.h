// Byte strings as text: C-style escapes and hex, for Allow buffers and
// property values that may hold anything.
#pragma once

#include <string>
#include <string_view>

namespace trellis::tools {

// Printable ASCII as is, except '"' and '\\' which get a backslash;
// \n \r \t as such; every other byte as \xHH. ("a\"b\x00").
std::string EscapeBytes(std::string_view bytes);

// Lower-case hex, two digits per byte, no separators ("68690a").
std::string HexBytes(std::string_view bytes);

}  // namespace trellis::tools
