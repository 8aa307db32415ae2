#include "manager/bind/bind_rules.h"

#include <cstdio>
#include <string_view>
#include <vector>

namespace trellis::manager {

namespace {

using manifest::v1::BindRule;
using node::v1::NodeProperty;
using node::v1::NodePropertyValue;

// Lists longer than this are cut in reasons ("... (12 more)").
constexpr int kMaxListedValues = 8;

// `text` in double quotes, C-escaped, cut after 64 bytes.
std::string QuoteString(std::string_view text) {
  constexpr size_t kMaxBytes = 64;
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxBytes) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    }
  }
  return out + "\"";
}

// A rule key in single quotes; keys are short, but come from outside.
std::string QuoteKey(std::string_view key) {
  std::string quoted = QuoteString(key);
  return "'" + quoted.substr(1, quoted.size() - 2) + "'";
}

// Both value types share the oneof layout; these read either.
template <typename Value>
std::string Describe(const Value& value) {
  if (value.has_int_value()) return std::to_string(value.int_value());
  if (value.has_string_value()) return QuoteString(value.string_value());
  if (value.has_bool_value()) return value.bool_value() ? "true" : "false";
  return "<no value>";
}

bool Equal(const NodeProperty& property, const NodePropertyValue& value) {
  switch (value.value_case()) {
    case NodePropertyValue::kIntValue:
      return property.has_int_value() && property.int_value() == value.int_value();
    case NodePropertyValue::kStringValue:
      return property.has_string_value() && property.string_value() == value.string_value();
    case NodePropertyValue::kBoolValue:
      return property.has_bool_value() && property.bool_value() == value.bool_value();
    case NodePropertyValue::VALUE_NOT_SET:
      return false;
  }
  return false;
}

// The node's properties with the rule's key (normally at most one).
std::vector<const NodeProperty*> WithKey(const Properties& properties, const std::string& key) {
  std::vector<const NodeProperty*> found;
  for (const NodeProperty& property : properties) {
    if (property.key() == key) found.push_back(&property);
  }
  return found;
}

// The first of `found` that satisfies `rule`, or nullptr.
const NodeProperty* FirstMatch(const BindRule& rule,
                               const std::vector<const NodeProperty*>& found) {
  for (const NodeProperty* property : found) {
    if (rule.values().empty()) return property;
    for (const NodePropertyValue& value : rule.values()) {
      if (Equal(*property, value)) return property;
    }
  }
  return nullptr;
}

std::string DescribeFound(const std::vector<const NodeProperty*>& found) {
  std::string out;
  for (const NodeProperty* property : found) {
    if (!out.empty()) out += " and ";
    out += Describe(*property);
  }
  return out;
}

std::string DescribeWanted(const BindRule& rule) {
  std::string out = "[";
  for (int i = 0; i < rule.values_size(); ++i) {
    if (i == kMaxListedValues) {
      out += ", ... (" + std::to_string(rule.values_size() - i) + " more)";
      break;
    }
    if (i > 0) out += ", ";
    out += Describe(rule.values(i));
  }
  return out + "]";
}

}  // namespace

RuleCheck MatchBindRules(const manifest::v1::BindRules& rules, const Properties& properties) {
  for (const BindRule& rule : rules.accept()) {
    std::vector<const NodeProperty*> found = WithKey(properties, rule.key());
    if (found.empty()) {
      return {false, "accept rule " + QuoteKey(rule.key()) + ": node has no such property"};
    }
    if (FirstMatch(rule, found) == nullptr) {
      return {false, "accept rule " + QuoteKey(rule.key()) + ": node has " +
                         DescribeFound(found) + ", wants one of " + DescribeWanted(rule)};
    }
  }
  for (const BindRule& rule : rules.reject()) {
    const NodeProperty* match = FirstMatch(rule, WithKey(properties, rule.key()));
    if (match != nullptr) {
      return {false, "reject rule " + QuoteKey(rule.key()) + ": matched " + Describe(*match)};
    }
  }
  return {true, ""};
}

}  // namespace trellis::manager
