// Whole files for commands that take their input from one (--file, --in).
#pragma once

#include <string>

#include "runtime/error.h"

namespace trellis::tools {

// The contents of the file at `path`. Blocks.
// Errors: the errno's code (kNotFound, kPermissionDenied, ...) with a
// message naming the path.
[[nodiscard]] Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace trellis::tools
