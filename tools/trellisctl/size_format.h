// Byte counts for people: "512 B", "4.0 KiB", "64.0 MiB".
#pragma once

#include <cstdint>
#include <string>

namespace trellis::tools {

// Whole bytes below 1 KiB ("512 B"); above, binary units KiB..EiB with one
// decimal ("1.5 KiB", "64.0 MiB"), switching unit before a value would
// round to 1024.0.
std::string HumanSize(uint64_t bytes);

}  // namespace trellis::tools
