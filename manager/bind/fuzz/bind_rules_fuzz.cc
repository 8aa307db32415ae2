// Fuzz target for bind-rule matching and driver selection.
//
// The input is a program: node properties, then up to 8 candidate drivers,
// each with bind rules (accept and reject lists, priority, fallback, disabled,
// or no rules at all). Keys, names and values come from small tables indexed
// by input bytes, so that rules and properties collide often, with an escape
// to raw input bytes. See make_seeds.py for the format.
//
// Checked on every input: MatchBindRules and SelectDriver agree with a plain
// model of the rules documented in bind_rules.h and driver_selector.h; a
// reason is empty exactly when a rule set matches, names the failing rule's
// key, and is printable ASCII (keys and values come from outside); every
// candidate gets a verdict with a reason.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manager/bind/bind_rules.h"
#include "manager/bind/driver_selector.h"

namespace trellis::manager {
namespace {

using manifest::v1::BindRule;
using manifest::v1::BindRules;
using node::v1::NodeProperty;
using node::v1::NodePropertyValue;

[[noreturn]] void Violated(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant violated: %s %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) Violated(what, detail);
}

// Reads the input front to back; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t U32() { return U8() | (U8() << 8) | (U8() << 16) | (uint32_t{U8()} << 24); }
  // Up to `max` raw bytes, length first.
  std::string Bytes(size_t max) {
    std::string out(U8() % (max + 1), '\0');
    for (char& c : out) c = static_cast<char>(U8());
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Selector byte: below the table size picks an entry, 0xff reads raw bytes.
std::string Key(Input& in) {
  static constexpr std::string_view kKeys[] = {
      "trellis.compatible", "virtio.device_id", "trellis.test", "", "k", "K", "k\"\\'\n"};
  const uint8_t pick = in.U8();
  if (pick == 0xff) return in.Bytes(80);
  return std::string(kKeys[pick % std::size(kKeys)]);
}

// A value of type int, string, bool or none, from a small table.
template <typename T>
void SetValue(Input& in, T& value) {
  static constexpr std::string_view kStrings[] = {"trellis,echo", "3", "", "x\x7f\xff", "X"};
  const uint8_t pick = in.U8();
  switch (pick % 4) {
    case 0: {
      const uint8_t n = in.U8();
      value.set_int_value(n < 0xf0 ? int64_t{n % 5} - 1 : static_cast<int64_t>(in.U32()) << 32);
      break;
    }
    case 1: {
      const uint8_t n = in.U8();
      value.set_string_value(n == 0xff ? in.Bytes(100)
                                       : std::string(kStrings[n % std::size(kStrings)]));
      break;
    }
    case 2:
      value.set_bool_value(in.U8() & 1);
      break;
    default:
      break;  // no value set
  }
}

// --- The model: bind_rules.h and driver_selector.h, read literally. ---------

bool ModelEqual(const NodeProperty& p, const NodePropertyValue& v) {
  if (v.has_int_value()) return p.has_int_value() && p.int_value() == v.int_value();
  if (v.has_string_value()) return p.has_string_value() && p.string_value() == v.string_value();
  if (v.has_bool_value()) return p.has_bool_value() && p.bool_value() == v.bool_value();
  return false;
}

bool ModelRuleMatches(const BindRule& rule, const Properties& properties) {
  for (const NodeProperty& p : properties) {
    if (p.key() != rule.key()) continue;
    if (rule.values().empty()) return true;
    for (const NodePropertyValue& v : rule.values()) {
      if (ModelEqual(p, v)) return true;
    }
  }
  return false;
}

bool ModelMatches(const BindRules& rules, const Properties& properties) {
  for (const BindRule& rule : rules.accept()) {
    if (!ModelRuleMatches(rule, properties)) return false;
  }
  for (const BindRule& rule : rules.reject()) {
    if (ModelRuleMatches(rule, properties)) return false;
  }
  return true;
}

// The index of the winner among `pool`: highest priority, then smallest
// name, then earliest.
std::optional<size_t> ModelBest(const std::vector<Candidate>& candidates,
                                const std::vector<size_t>& pool) {
  std::optional<size_t> best;
  for (size_t i : pool) {
    if (!best) {
      best = i;
      continue;
    }
    const Candidate& a = candidates[i];
    const Candidate& b = candidates[*best];
    if (a.rules->priority() != b.rules->priority()) {
      if (a.rules->priority() > b.rules->priority()) best = i;
    } else if (a.name < b.name) {
      best = i;
    }
  }
  return best;
}

void CheckPrintable(const std::string& text, const char* what) {
  for (unsigned char c : text) Check(c >= 0x20 && c < 0x7f, what, text);
}

void Run(Input& in) {
  Properties properties;
  for (int n = in.U8() % 7; n > 0; --n) {
    NodeProperty* p = properties.Add();
    p->set_key(Key(in));
    SetValue(in, *p);
  }

  std::vector<BindRules> rule_sets(in.U8() % 8 + 1);
  std::vector<Candidate> candidates;
  static constexpr std::string_view kNames[] = {"a", "b", "ab", "virtio-blk"};
  for (BindRules& rules : rule_sets) {
    const uint8_t flags = in.U8();
    const uint8_t priority = in.U8();
    rules.set_priority(priority < 0xf0 ? priority % 5 - 2 : static_cast<int32_t>(in.U32()));
    rules.set_fallback(flags & 1);
    for (int n = (flags >> 2) % 4; n > 0; --n) {
      BindRule* rule = rules.add_accept();
      rule->set_key(Key(in));
      for (int v = in.U8() % 4; v > 0; --v) SetValue(in, *rule->add_values());
    }
    for (int n = (flags >> 4) % 3; n > 0; --n) {
      BindRule* rule = rules.add_reject();
      rule->set_key(Key(in));
      for (int v = in.U8() % 4; v > 0; --v) SetValue(in, *rule->add_values());
    }
    candidates.push_back({.name = std::string(kNames[in.U8() % std::size(kNames)]),
                          .rules = (flags & 0xc0) == 0xc0 ? nullptr : &rules,
                          .disabled = (flags & 2) != 0});
  }

  // MatchBindRules against the model.
  std::vector<bool> matches;
  for (const BindRules& rules : rule_sets) {
    const RuleCheck check = MatchBindRules(rules, properties);
    const bool expected = ModelMatches(rules, properties);
    Check(check.matched == expected, "MatchBindRules disagrees with the model", check.reason);
    Check(check.matched == check.reason.empty(), "reason empty exactly when matched", check.reason);
    if (!check.matched) {
      Check(check.reason.starts_with("accept rule '") || check.reason.starts_with("reject rule '"),
            "reason names the rule", check.reason);
      CheckPrintable(check.reason, "reason is printable ASCII");
    }
    matches.push_back(check.matched);
  }

  // SelectDriver against the model.
  std::vector<size_t> pool, fallback_pool;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (c.rules == nullptr || c.disabled || !ModelMatches(*c.rules, properties)) continue;
    (c.rules->fallback() ? fallback_pool : pool).push_back(i);
  }
  std::optional<size_t> winner = ModelBest(candidates, pool);
  if (!winner) winner = ModelBest(candidates, fallback_pool);

  const Selection selection = SelectDriver(candidates, properties);
  Check(selection.considered.size() == candidates.size(), "one verdict per candidate");
  Check(selection.driver.has_value() == winner.has_value(), "a driver is chosen iff one matches");
  using Verdict = Considered::Verdict;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Considered& c = selection.considered[i];
    Check(c.driver == candidates[i].name, "verdicts in input order");
    Check(!c.reason.empty(), "every verdict has a reason");
    CheckPrintable(c.reason, "verdict reason is printable ASCII");
    Check((c.verdict == Verdict::kSelected) == (winner == i), "the model's winner is selected",
          c.reason);
    if (candidates[i].disabled) Check(c.verdict == Verdict::kDisabled, "disabled verdict");
  }
  if (winner) Check(*selection.driver == candidates[*winner].name, "selected name");
}

}  // namespace
}  // namespace trellis::manager

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trellis::manager::Input in(data, size);
  trellis::manager::Run(in);
  return 0;
}
