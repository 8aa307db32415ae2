#include "drivers/gpt/testing/sgdisk.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string_view>

namespace trellis::gpt::testing {
namespace {

std::string ShellQuote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// The rest of `line` after `prefix`, if it starts with it.
std::optional<std::string_view> After(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  return line.substr(prefix.size());
}

// The number at the start of `text` (after blanks), in `base`.
std::optional<uint64_t> LeadingNumber(std::string_view text, int base = 10) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

Result<Guid> LeadingGuid(std::string_view text) { return ParseGuid(text.substr(0, 36)); }

std::unexpected<Error> Unparsed(std::string_view what, const std::string& output) {
  return Fail(ErrorCode::kInternal, "cannot find " + std::string(what) + " in sgdisk output:\n" +
                                        output);
}

// FNV-1a: a stable name for a cached image.
std::string CacheKey(const std::vector<std::string>& args, uint64_t size) {
  uint64_t hash = 0xcbf29ce484222325;
  auto mix = [&](std::string_view text) {
    for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3;
    hash = (hash ^ 0xff) * 0x100000001b3;  // separator
  };
  for (const std::string& arg : args) mix(arg);
  mix(std::to_string(size));
  char name[40];
  std::snprintf(name, sizeof(name), "sgdisk-%016llx.img", static_cast<unsigned long long>(hash));
  return name;
}

Result<ImageFile> RunOnNewImage(const std::string& sgdisk, std::vector<std::string> args,
                                uint64_t size, const std::string& dir) {
  TRELLIS_ASSIGN_OR_RETURN(ImageFile image, ImageFile::Create(size, dir));
  args.push_back(image.path());
  TRELLIS_TRY(RunSgdisk(sgdisk, args));
  return image;
}

}  // namespace

Result<ImageFile> MakeSgdiskImage(const std::string& sgdisk, std::vector<std::string> args,
                                  uint64_t size, const std::string& cache_dir) {
  constexpr uint64_t kMaxCachedSize = 64 << 20;
  if (cache_dir.empty() || size > kMaxCachedSize) return RunOnNewImage(sgdisk, args, size, "");
  const std::string cached = cache_dir + "/" + CacheKey(args, size);
  if (::access(cached.c_str(), R_OK) != 0) {
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    if (ec) return Fail(ErrorCode::kInternal, "cannot create " + cache_dir + ": " + ec.message());
    // Made under a temporary name and linked into place whole, so a racing
    // process sees either no image or a finished one.
    TRELLIS_ASSIGN_OR_RETURN(ImageFile fresh, RunOnNewImage(sgdisk, args, size, cache_dir));
    if (::link(fresh.path().c_str(), cached.c_str()) != 0 && errno != EEXIST) {
      return FailErrno(errno, "link " + cached);
    }
  }
  return ImageFile::CopyOf(cached);
}

std::string FindSgdisk() {
  std::vector<std::string> dirs;
  if (const char* path = ::getenv("PATH")) {
    std::istringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) dirs.push_back(dir);
  }
  dirs.insert(dirs.end(), {"/usr/sbin", "/sbin"});
  for (const std::string& dir : dirs) {
    const std::string candidate = dir + "/sgdisk";
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

Result<std::string> RunSgdisk(const std::string& sgdisk, const std::vector<std::string>& args) {
  std::string command = ShellQuote(sgdisk);
  for (const std::string& arg : args) command += " " + ShellQuote(arg);
  command += " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return FailErrno(errno, "popen " + command);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(ErrorCode::kInternal,
                command + " failed (status " + std::to_string(status) + "):\n" + output);
  }
  return output;
}

Result<SgdiskDisk> SgdiskPrint(const std::string& sgdisk, const std::string& image) {
  TRELLIS_ASSIGN_OR_RETURN(std::string output, RunSgdisk(sgdisk, {"-p", image}));
  SgdiskDisk disk;
  bool have_guid = false, have_usable = false, in_list = false;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (auto rest = After(line, "Disk identifier (GUID): ")) {
      TRELLIS_ASSIGN_OR_RETURN(disk.disk_guid, LeadingGuid(*rest));
      have_guid = true;
    } else if (auto rest = After(line, "First usable sector is ")) {
      // "First usable sector is 34, last usable sector is 16350"
      constexpr std::string_view kLast = ", last usable sector is ";
      const size_t last = rest->find(kLast);
      auto first_lba = LeadingNumber(*rest);
      auto last_lba = last == std::string_view::npos
                          ? std::nullopt
                          : LeadingNumber(rest->substr(last + kLast.size()));
      if (!first_lba || !last_lba) return Unparsed("usable sectors", output);
      disk.first_usable_lba = *first_lba;
      disk.last_usable_lba = *last_lba;
      have_usable = true;
    } else if (line.starts_with("Number")) {
      in_list = true;
    } else if (in_list) {
      if (auto number = LeadingNumber(line)) disk.numbers.push_back(static_cast<uint32_t>(*number));
    }
  }
  if (!have_guid) return Unparsed("the disk GUID", output);
  if (!have_usable) return Unparsed("the usable sectors", output);
  return disk;
}

Result<SgdiskPartition> SgdiskInfo(const std::string& sgdisk, const std::string& image,
                                   uint32_t number) {
  TRELLIS_ASSIGN_OR_RETURN(std::string output,
                           RunSgdisk(sgdisk, {"-i", std::to_string(number), image}));
  SgdiskPartition p;
  int found = 0;  // one bit per field
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (auto rest = After(line, "Partition GUID code: ")) {
      TRELLIS_ASSIGN_OR_RETURN(p.type_guid, LeadingGuid(*rest));
      found |= 1;
    } else if (auto rest = After(line, "Partition unique GUID: ")) {
      TRELLIS_ASSIGN_OR_RETURN(p.unique_guid, LeadingGuid(*rest));
      found |= 2;
    } else if (auto rest = After(line, "First sector: "); rest && LeadingNumber(*rest)) {
      p.first_lba = *LeadingNumber(*rest);
      found |= 4;
    } else if (auto rest = After(line, "Last sector: "); rest && LeadingNumber(*rest)) {
      p.last_lba = *LeadingNumber(*rest);
      found |= 8;
    } else if (auto rest = After(line, "Attribute flags: "); rest && LeadingNumber(*rest, 16)) {
      p.attributes = *LeadingNumber(*rest, 16);
      found |= 16;
    } else if (auto rest = After(line, "Partition name: '"); rest && rest->ends_with('\'')) {
      p.name = std::string(rest->substr(0, rest->size() - 1));
      found |= 32;
    }
  }
  if (found != 63) return Unparsed("every field of partition " + std::to_string(number), output);
  return p;
}

}  // namespace trellis::gpt::testing
