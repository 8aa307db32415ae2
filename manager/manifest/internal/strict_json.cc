#include "manager/manifest/internal/strict_json.h"

#include <set>
#include <vector>

#include "manager/manifest/internal/validation.h"

namespace trellis::manager::internal {

namespace {

constexpr size_t kMaxKeyBytes = 80;  // of one key in a field path

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string DepthReason() {
  return "arrays and objects nest deeper than " + std::to_string(kMaxJsonDepth) + " levels";
}

// " (line L, column C)" of byte `at` in `text`.
std::string Position(std::string_view text, size_t at) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return " (line " + std::to_string(line) + ", column " + std::to_string(at - line_start + 1) +
         ")";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string& out, unsigned code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xc0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  } else {
    out += static_cast<char>(0xe0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  }
}

// Recursive-descent checker. Each Parse* returns false after recording the
// first error; the path stack names the value being parsed.
class Checker {
 public:
  explicit Checker(std::string_view text) : text_(text) {}

  std::optional<JsonSyntaxError> Run() {
    SkipWhitespace();
    if (!ParseValue(0)) return error_;
    SkipWhitespace();
    if (pos_ != text_.size()) {
      Fail("unexpected text after the top-level value");
      return error_;
    }
    return std::nullopt;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  bool Fail(std::string reason) { return FailAt(pos_, std::move(reason)); }

  bool FailAt(size_t at, std::string reason) {
    std::string field;
    for (const std::string& part : path_) field += part;
    if (!field.empty() && field.front() == '.') field.erase(0, 1);
    error_ = JsonSyntaxError{std::move(field), reason + Position(text_, at)};
    return false;
  }

  bool ParseValue(int depth) {
    bool opens = Peek() == '{' || Peek() == '[';
    if (opens && depth >= kMaxJsonDepth) return Fail(DepthReason());
    switch (Peek()) {
      case '{': return ParseObject(depth);
      case '[': return ParseArray(depth);
      case '"': return ParseString(nullptr);
      case 't': return ParseLiteral("true");
      case 'f': return ParseLiteral("false");
      case 'n': return ParseLiteral("null");
      case '\'': return Fail("strings must be in double quotes");
      default: break;
    }
    if (Peek() == '-' || IsDigit(Peek())) return ParseNumber();
    if (AtEnd()) return Fail("unexpected end of input, expected a value");
    return Fail("unexpected character " + Quote(text_.substr(pos_, 1)) + ", expected a value");
  }

  bool ParseObject(int depth) {
    ++pos_;  // '{'
    SkipWhitespace();
    if (Peek() == '}') {
      ++pos_;
      return true;
    }
    std::set<std::string> keys;
    while (true) {
      SkipWhitespace();
      if (Peek() != '"') {
        if (Peek() == '}') return Fail("trailing comma in object");
        return Fail("object keys must be strings in double quotes");
      }
      size_t key_start = pos_;
      std::string key;
      if (!ParseString(&key)) return false;
      if (!keys.insert(key).second) return FailAt(key_start, "duplicate key " + Quote(key));
      SkipWhitespace();
      if (Peek() != ':') return Fail("expected ':' after object key");
      ++pos_;
      SkipWhitespace();
      path_.push_back("." + Printable(key, kMaxKeyBytes));
      if (!ParseValue(depth + 1)) return false;
      path_.pop_back();
      SkipWhitespace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or '}' in object");
    }
  }

  bool ParseArray(int depth) {
    ++pos_;  // '['
    SkipWhitespace();
    if (Peek() == ']') {
      ++pos_;
      return true;
    }
    for (int index = 0;; ++index) {
      SkipWhitespace();
      if (Peek() == ']') return Fail("trailing comma in array");
      path_.push_back(Indexed("", index));
      if (!ParseValue(depth + 1)) return false;
      path_.pop_back();
      SkipWhitespace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or ']' in array");
    }
  }

  // Parses a double-quoted string; if `decoded` is set, stores its value.
  bool ParseString(std::string* decoded) {
    ++pos_;  // '"'
    while (true) {
      if (AtEnd()) return Fail("unterminated string");
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Fail("control character in string (escape it)");
      }
      if (c != '\\') {
        if (decoded != nullptr) *decoded += c;
        ++pos_;
        continue;
      }
      ++pos_;  // '\\'
      char escape = Peek();
      char plain = '\0';
      switch (escape) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': break;
        default: return Fail("invalid escape sequence in string");
      }
      if (escape != 'u') {
        if (decoded != nullptr) *decoded += plain;
        ++pos_;
        continue;
      }
      ++pos_;  // 'u'
      unsigned code_point = 0;
      for (int i = 0; i < 4; ++i) {
        int digit = HexValue(Peek());
        if (digit < 0) return Fail("\\u must be followed by 4 hex digits");
        code_point = code_point * 16 + static_cast<unsigned>(digit);
        ++pos_;
      }
      // Keys are compared after decoding, so "a" and "\u0061" are one key.
      // Surrogates are kept as separate code units; equal keys still compare equal.
      if (decoded != nullptr) AppendUtf8(*decoded, code_point);
    }
  }

  bool ParseNumber() {
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
      if (IsDigit(Peek())) return Fail("numbers must not have leading zeros");
    } else if (IsDigit(Peek())) {
      while (IsDigit(Peek())) ++pos_;
    } else {
      return Fail("invalid number");
    }
    if (Peek() == '.') {
      ++pos_;
      if (!IsDigit(Peek())) return Fail("invalid number: expected a digit after '.'");
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!IsDigit(Peek())) return Fail("invalid number: expected a digit in the exponent");
      while (IsDigit(Peek())) ++pos_;
    }
    return true;
  }

  bool ParseLiteral(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return Fail("unexpected word, expected " + Quote(word));
    }
    pos_ += word.size();
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  // ".key" and "[index]" parts of the value being parsed.
  std::vector<std::string> path_;
  std::optional<JsonSyntaxError> error_;
};

}  // namespace

std::optional<JsonSyntaxError> CheckJsonDepth(std::string_view json) {
  int depth = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"' || c == '\'') {
      // Skip the string (protobuf also accepts single quotes): brackets in it
      // do not nest.
      for (++i; i < json.size() && json[i] != c; ++i) {
        if (json[i] == '\\') ++i;
      }
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return JsonSyntaxError{"", DepthReason() + Position(json, i)};
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

std::optional<JsonSyntaxError> CheckStrictJson(std::string_view json) {
  return Checker(json).Run();
}

}  // namespace trellis::manager::internal
