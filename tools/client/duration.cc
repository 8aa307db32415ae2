// ParseDuration and its CLI11 validator.
#include "tools/client/duration.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace trellis::client {

namespace {

constexpr double kMaxMilliseconds = 30.0 * 24 * 3600 * 1000;

Error BadDuration(std::string_view text) {
  return Error(ErrorCode::kInvalidArgument,
               "bad duration '" + std::string(text) +
                   "': want a number with an optional unit ms, s, m or h (e.g. 5s, 250ms), "
                   "at most 30 days");
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) ||
                                  text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return Fail(BadDuration(text));
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits) return Fail(BadDuration(text));
  std::string_view unit = text.substr(digits);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else {
    return Fail(BadDuration(text));
  }
  double ms = number * scale;
  if (!std::isfinite(ms) || ms > kMaxMilliseconds) return Fail(BadDuration(text));
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto parsed = ParseDuration(text);
        return parsed ? std::string() : parsed.error().message();
      },
      "", "duration");
}

}  // namespace trellis::client
