// ReadWholeFile.
#include "tools/trellisctl/file_contents.h"

#include <cerrno>
#include <fstream>
#include <sstream>

namespace trellis::tools {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FailErrno(errno, "cannot open " + path);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return FailErrno(errno, "cannot read " + path);
  return contents.str();
}

}  // namespace trellis::tools
