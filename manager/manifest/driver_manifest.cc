#include "manager/manifest/driver_manifest.h"

#include <set>
#include <string>
#include <system_error>

#include "manager/manifest/internal/validation.h"
#include "manager/manifest/json_proto.h"

namespace trellis::manager {

namespace {

namespace fs = std::filesystem;
using internal::FieldError;
using internal::Indexed;
using internal::Quote;
using manifest::v1::BindRule;
using manifest::v1::DriverManifest;

bool IsLowerOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsWordChar(char c) { return IsLowerOrDigit(c) || (c >= 'A' && c <= 'Z') || c == '_'; }

// ^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$
bool IsProtocolName(std::string_view name) {
  size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  if (!(name.front() >= 'a' && name.front() <= 'z')) return false;
  for (char c : name.substr(0, dot)) {
    if (!IsLowerOrDigit(c) && c != '_') return false;
  }
  size_t segment_length = 0;
  for (char c : name.substr(dot + 1)) {
    if (c == '.') {
      if (segment_length == 0) return false;
      segment_length = 0;
    } else if (IsWordChar(c)) {
      ++segment_length;
    } else {
      return false;
    }
  }
  return segment_length > 0;
}

// True if `path` is `dir` or lies below it; both absolute and normalised.
bool IsWithin(const fs::path& path, const fs::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing '/' on dir
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

Result<fs::path> ResolveBinary(const DriverManifest& manifest, const fs::path& source,
                               const fs::path& directory) {
  const std::string& binary = manifest.binary();
  if (binary.empty()) return Fail(FieldError(source, "binary", "must not be empty"));
  if (binary.find('\0') != std::string::npos) {
    return Fail(FieldError(source, "binary", "must not contain a NUL character"));
  }
  fs::path relative(binary);
  if (relative.is_absolute()) {
    return Fail(FieldError(source, "binary",
                           Quote(binary) + " is an absolute path; give it relative to the "
                                           "manifest's directory"));
  }

  std::error_code ec;
  fs::path dir = fs::absolute(directory, ec);
  if (!ec) dir = fs::weakly_canonical(dir, ec);
  if (ec) {
    return Fail(FieldError(source, "binary",
                           "cannot resolve the driver directory " + directory.string() + ": " +
                               ec.message()));
  }
  fs::path resolved = fs::weakly_canonical(dir / relative, ec);
  if (ec) {
    return Fail(FieldError(source, "binary",
                           "cannot resolve " + Quote(binary) + " in " + dir.string() + ": " +
                               ec.message()));
  }
  if (!IsWithin(resolved, dir)) {
    return Fail(FieldError(source, "binary",
                           Quote(binary) + " escapes the driver directory " + dir.string()));
  }
  fs::file_status status = fs::status(resolved, ec);
  if (ec || !fs::exists(status)) {
    return Fail(FieldError(source, "binary", Quote(binary) + " not found in " + dir.string()));
  }
  if (!fs::is_regular_file(status)) {
    return Fail(FieldError(source, "binary",
                           Quote(binary) + " in " + dir.string() + " is not a regular file"));
  }
  return resolved;
}

Result<void> ValidateRuleList(const google::protobuf::RepeatedPtrField<BindRule>& rules,
                              std::string_view list_field, const fs::path& source) {
  std::set<std::string_view> keys;
  for (int i = 0; i < rules.size(); ++i) {
    const BindRule& rule = rules[i];
    std::string field = Indexed(list_field, i);
    if (rule.key().empty()) return Fail(FieldError(source, field + ".key", "must not be empty"));
    for (int v = 0; v < rule.values_size(); ++v) {
      if (rule.values(v).value_case() == node::v1::NodePropertyValue::VALUE_NOT_SET) {
        return Fail(FieldError(source, Indexed(field + ".values", v), "no value set"));
      }
    }
    if (!keys.insert(rule.key()).second) {
      return Fail(FieldError(source, field + ".key", "duplicate key " + Quote(rule.key())));
    }
  }
  return Ok();
}

Result<void> ValidateBind(const manifest::v1::BindRules& bind, const fs::path& source) {
  TRELLIS_TRY(ValidateRuleList(bind.accept(), "bind.accept", source));
  TRELLIS_TRY(ValidateRuleList(bind.reject(), "bind.reject", source));
  if (bind.priority() < kMinBindPriority || bind.priority() > kMaxBindPriority) {
    return Fail(FieldError(source, "bind.priority",
                           "must be between -1000 and 1000, got " +
                               std::to_string(bind.priority())));
  }
  return Ok();
}

Result<void> ValidateColocation(const DriverManifest& manifest, const fs::path& source) {
  const std::string& group = manifest.colocation_group();
  if (group.empty()) return Ok();
  if (!internal::IsValidManifestName(group)) {
    return Fail(FieldError(source, "colocation_group", internal::InvalidManifestNameReason(group)));
  }
  return Ok();
}

Result<void> ValidateTimeout(uint32_t value, std::string_view field, bool managed,
                             const fs::path& source) {
  if (value == 0) return Ok();
  if (value > kMaxPowerTimeoutMs) {
    return Fail(FieldError(source, field,
                           "must be between 1 and 60000 ms, got " + std::to_string(value)));
  }
  if (!managed) {
    return Fail(FieldError(source, field,
                           std::string(field) + " is set but power.managed_dispatchers is false"));
  }
  return Ok();
}

Result<void> ValidatePower(const manifest::v1::PowerConfig& power, const fs::path& source) {
  TRELLIS_TRY(ValidateTimeout(power.suspend_timeout_ms(), "power.suspend_timeout_ms",
                              power.managed_dispatchers(), source));
  TRELLIS_TRY(ValidateTimeout(power.resume_timeout_ms(), "power.resume_timeout_ms",
                              power.managed_dispatchers(), source));
  // Targets: the same range, and a target past its own deadline could never
  // be met.
  TRELLIS_TRY(ValidateTimeout(power.suspend_target_ms(), "power.suspend_target_ms",
                              power.managed_dispatchers(), source));
  TRELLIS_TRY(ValidateTimeout(power.resume_target_ms(), "power.resume_target_ms",
                              power.managed_dispatchers(), source));
  auto target_within = [&](uint32_t target, uint32_t timeout, std::string_view field,
                           std::string_view timeout_field) -> Result<void> {
    if (target == 0 || timeout == 0 || target <= timeout) return Ok();
    return Fail(FieldError(source, field,
                           "target " + std::to_string(target) + " ms is past " +
                               std::string(timeout_field) + " (" + std::to_string(timeout) +
                               " ms)"));
  };
  TRELLIS_TRY(target_within(power.suspend_target_ms(), power.suspend_timeout_ms(),
                            "power.suspend_target_ms", "power.suspend_timeout_ms"));
  TRELLIS_TRY(target_within(power.resume_target_ms(), power.resume_timeout_ms(),
                            "power.resume_target_ms", "power.resume_timeout_ms"));
  return Ok();
}

Result<void> ValidateExposes(const DriverManifest& manifest, const fs::path& source) {
  std::set<std::string_view> seen;
  for (int i = 0; i < manifest.exposes_size(); ++i) {
    const std::string& protocol = manifest.exposes(i);
    if (!IsProtocolName(protocol)) {
      return Fail(FieldError(source, Indexed("exposes", i),
                             Quote(protocol) +
                                 " is not a dotted protocol name like "
                                 "'trellis.block.v1.Block'"));
    }
    if (!seen.insert(protocol).second) {
      return Fail(FieldError(source, Indexed("exposes", i),
                             "duplicate protocol " + Quote(protocol)));
    }
  }
  return Ok();
}

// Every rule in field order; returns the resolved binary path.
Result<fs::path> ValidateAndResolve(const DriverManifest& manifest, const fs::path& source,
                                    const fs::path& directory) {
  if (manifest.name().empty()) return Fail(FieldError(source, "name", "must not be empty"));
  if (!internal::IsValidManifestName(manifest.name())) {
    return Fail(FieldError(source, "name", internal::InvalidManifestNameReason(manifest.name())));
  }
  TRELLIS_ASSIGN_OR_RETURN(fs::path binary, ResolveBinary(manifest, source, directory));
  TRELLIS_TRY(ValidateBind(manifest.bind(), source));
  TRELLIS_TRY(ValidateColocation(manifest, source));
  if (manifest.has_max_restarts() && manifest.max_restarts() > kMaxDriverRestarts) {
    return Fail(FieldError(source, "max_restarts",
                           "must be at most 100, got " + std::to_string(manifest.max_restarts())));
  }
  if (manifest.stop_timeout_ms() > kMaxPowerTimeoutMs) {
    return Fail(FieldError(source, "stop_timeout_ms",
                           "must be between 1 and 60000 ms, got " +
                               std::to_string(manifest.stop_timeout_ms())));
  }
  TRELLIS_TRY(ValidatePower(manifest.power(), source));
  TRELLIS_TRY(ValidateExposes(manifest, source));
  return binary;
}

}  // namespace

Result<void> ValidateDriverManifest(const DriverManifest& manifest, const fs::path& source,
                                    const fs::path& directory) {
  TRELLIS_TRY(ValidateAndResolve(manifest, source, directory));
  return Ok();
}

Result<DriverManifestFile> ParseDriverManifest(std::string_view json, const fs::path& source,
                                               const fs::path& directory) {
  DriverManifestFile file;
  TRELLIS_TRY(ParseJsonMessage(json, source, file.manifest));
  TRELLIS_ASSIGN_OR_RETURN(file.binary_path, ValidateAndResolve(file.manifest, source, directory));
  file.source = source;
  file.directory = directory;
  return file;
}

Result<DriverManifestFile> LoadDriverManifest(const fs::path& path) {
  TRELLIS_ASSIGN_OR_RETURN(std::string json, ReadManifestFile(path));
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) {
    return Fail(internal::FileError(path, "cannot make the path absolute: " + ec.message()));
  }
  return ParseDriverManifest(json, path, absolute.lexically_normal().parent_path());
}

}  // namespace trellis::manager
