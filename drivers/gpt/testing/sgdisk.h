// Runs sgdisk (package gdisk) on an image file and parses what it prints, so
// tests compare the parser with an independent implementation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/gpt/guid.h"
#include "drivers/gpt/testing/image_file.h"
#include "runtime/error.h"

namespace trellis::gpt::testing {

// The sgdisk binary: on $PATH, else /usr/sbin or /sbin (often not on a
// user's PATH). Empty if there is none.
std::string FindSgdisk();

// Runs `sgdisk args...` and returns what it printed (stdout and stderr).
// Errors: kInternal if it cannot be started or exits non-zero.
Result<std::string> RunSgdisk(const std::string& sgdisk, const std::vector<std::string>& args);

// A sparse image of `size` bytes after `sgdisk args... image`, in the temp
// directory. sgdisk sleeps a second after every write (sync(); sleep(1) in
// its DiskSync), so with a `cache_dir` an image of up to 64 MiB is made once,
// kept there under a name derived from `args` and `size`, and copied by
// later calls from any process (ctest runs each test case in its own).
Result<ImageFile> MakeSgdiskImage(const std::string& sgdisk, std::vector<std::string> args,
                                  uint64_t size, const std::string& cache_dir = "");

// What `sgdisk -p` prints about the disk.
struct SgdiskDisk {
  Guid disk_guid;
  uint64_t first_usable_lba = 0;
  uint64_t last_usable_lba = 0;
  std::vector<uint32_t> numbers;  // partition numbers (1-based), as listed
};
Result<SgdiskDisk> SgdiskPrint(const std::string& sgdisk, const std::string& image);

// What `sgdisk -i N` prints about partition N.
struct SgdiskPartition {
  Guid type_guid;
  Guid unique_guid;
  uint64_t first_lba = 0;
  uint64_t last_lba = 0;
  uint64_t attributes = 0;
  std::string name;
};
Result<SgdiskPartition> SgdiskInfo(const std::string& sgdisk, const std::string& image,
                                   uint32_t number);

}  // namespace trellis::gpt::testing
