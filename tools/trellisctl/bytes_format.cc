// EscapeBytes, HexBytes and HexDump.
#include "tools/trellisctl/bytes_format.h"

#include <cstdio>

namespace trellis::tools {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr size_t kDumpLineBytes = 16;

void AppendHexByte(std::string& out, unsigned char byte) {
  out += kHexDigits[byte >> 4];
  out += kHexDigits[byte & 0xf];
}

}  // namespace

std::string EscapeBytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte >= 0x20 && byte < 0x7f) {
          out += c;
        } else {
          out += "\\x";
          AppendHexByte(out, byte);
        }
    }
  }
  return out;
}

std::string HexBytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendHexByte(out, static_cast<unsigned char>(c));
  return out;
}

std::string HexDump(std::string_view bytes, uint64_t base) {
  std::string out;
  for (size_t line = 0; line < bytes.size(); line += kDumpLineBytes) {
    char address[24];
    std::snprintf(address, sizeof address, "%08llx  ",
                  static_cast<unsigned long long>(base + line));
    out += address;
    std::string_view piece = bytes.substr(line, kDumpLineBytes);
    for (size_t i = 0; i < kDumpLineBytes; ++i) {
      if (i < piece.size()) {
        AppendHexByte(out, static_cast<unsigned char>(piece[i]));
        out += ' ';
      } else {
        out += "   ";
      }
      if (i == 7) out += ' ';
    }
    out += " |";
    for (char c : piece) out += c >= 0x20 && c < 0x7f ? c : '.';
    out += "|\n";
  }
  return out;
}

}  // namespace trellis::tools
