// Format("GET_CONFIG reply has {} bytes, expected {}", n, m): a small
// stand-in for std::format, which GCC 12 (Debian 12) does not ship. Knows
// "{}" (the argument as an ostream prints it, integers in decimal) and
// "{:#x}" (an integer in hex with 0x). Private to the vhost-user library.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace trellis::vhost_user::internal {

struct FormatArg {
  std::string text;
  std::optional<uint64_t> number;
};

template <typename T>
FormatArg MakeFormatArg(const T& value) {
  if constexpr (std::is_integral_v<T>) {
    return {std::to_string(value), static_cast<uint64_t>(value)};
  } else {
    std::ostringstream out;
    out << value;
    return {out.str(), std::nullopt};
  }
}

template <size_t N>
std::string FormatArgs(std::string_view format, const std::array<FormatArg, N>& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    std::string_view rest = format.substr(i);
    bool plain = rest.starts_with("{}");
    bool hex = rest.starts_with("{:#x}");
    if ((plain || hex) && next < N) {
      const FormatArg& arg = args[next++];
      if (hex && arg.number) {
        std::ostringstream h;
        h << "0x" << std::hex << *arg.number;
        out += h.str();
      } else {
        out += arg.text;
      }
      i += hex ? 4 : 1;
      continue;
    }
    out += format[i];
  }
  return out;
}

template <typename... Args>
std::string Format(std::string_view format, const Args&... args) {
  return FormatArgs(format, std::array<FormatArg, sizeof...(Args)>{MakeFormatArg(args)...});
}

}  // namespace trellis::vhost_user::internal
