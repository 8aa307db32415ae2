// Durations on the command line of trellisctl and powerctl: "5s", "250ms",
// "2m", "1.5s", "0".
#pragma once

#include <chrono>
#include <string_view>

#include <CLI/CLI.hpp>

#include "runtime/error.h"

namespace trellis::client {

// Parses a non-negative decimal number with an optional unit: ms, s
// (the default), m or h. Fractions are allowed ("1.5s"); the result is
// rounded down to whole milliseconds.
// Errors: kInvalidArgument naming the text and the accepted forms; also
// for values past 30 days.
[[nodiscard]] Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// A CLI11 check that accepts what ParseDuration accepts (so a bad value is
// a usage error).
CLI::Validator DurationValidator();

}  // namespace trellis::client
