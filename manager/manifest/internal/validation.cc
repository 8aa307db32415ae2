#include "manager/manifest/internal/validation.h"

#include <cstdio>

namespace trellis::manager::internal {

namespace {

constexpr size_t kMaxQuotedBytes = 80;
constexpr size_t kMaxManifestNameLength = 63;

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsNameChar(char c) { return IsNameStart(c) || c == '.' || c == '_' || c == '-'; }

std::string Escape(std::string_view text, size_t max_bytes, bool escape_single_quote) {
  std::string out;
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown == max_bytes) {
      out += "...";
      break;
    }
    ++shown;
    bool plain = c >= 0x20 && c < 0x7f && c != '\\' && !(escape_single_quote && c == '\'');
    if (plain) {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    }
  }
  return out;
}

}  // namespace

Error FieldError(const std::filesystem::path& source, std::string_view field,
                 std::string_view reason) {
  if (field.empty()) return FileError(source, reason);
  std::string message = source.string();
  message += ": field '";
  message += field;
  message += "': ";
  message += reason;
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

Error FileError(const std::filesystem::path& source, std::string_view reason, ErrorCode code) {
  std::string message = source.string();
  message += ": ";
  message += reason;
  return Error(code, std::move(message));
}

std::string Indexed(std::string_view field, int index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

bool IsValidManifestName(std::string_view name) {
  if (name.empty() || name.size() > kMaxManifestNameLength) return false;
  if (!IsNameStart(name.front())) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

std::string InvalidManifestNameReason(std::string_view name) {
  return Quote(name) +
         " is not a valid name: use 1 to 63 characters from [a-z0-9._-], starting with a "
         "lower-case letter or digit";
}

std::string Printable(std::string_view text, size_t max_bytes) {
  return Escape(text, max_bytes, /*escape_single_quote=*/false);
}

std::string Quote(std::string_view text) {
  return "'" + Escape(text, kMaxQuotedBytes, /*escape_single_quote=*/true) + "'";
}

}  // namespace trellis::manager::internal
