#include "tools/trellisctl/index_format.h"

#include <charconv>

#include "tools/client/table.h"
#include "tools/trellisctl/names.h"

namespace trellis::tools {

namespace {

using manager::v1::DriverVerdict;

std::string_view VerdictName(DriverVerdict::Verdict verdict) {
  switch (verdict) {
    case DriverVerdict::VERDICT_SELECTED: return "selected";
    case DriverVerdict::VERDICT_LOST_ON_PRIORITY: return "lost on priority";
    case DriverVerdict::VERDICT_RULE_FAILED: return "rule failed";
    case DriverVerdict::VERDICT_FALLBACK_NOT_NEEDED: return "fallback not needed";
    case DriverVerdict::VERDICT_DISABLED: return "disabled";
    default: return "unknown";
  }
}

Json InstanceToJson(const manager::v1::ClassInstance& instance) {
  return Json{{"class", instance.class_name()},
              {"instance", instance.instance()},
              {"node", instance.node_path()},
              {"protocol", instance.protocol()},
              {"driver", instance.driver()}};
}

}  // namespace

std::string FormatExplanation(const manager::v1::ExplainBindingResponse& explanation) {
  std::string text = explanation.node_path() + ": " + explanation.summary() + "\n";
  if (explanation.considered().empty()) return text;
  client::Table table({"DRIVER", "VERDICT", "REASON"});
  for (const auto& c : explanation.considered()) {
    table.AddRow({c.driver(), std::string(VerdictName(c.verdict())), c.reason()});
  }
  text += "\n" + table.Render();
  if (!explanation.last_error().empty()) text += "\nlast error: " + explanation.last_error() + "\n";
  return text;
}

Json ExplanationToJson(const manager::v1::ExplainBindingResponse& explanation) {
  Json considered = Json::array();
  for (const auto& c : explanation.considered()) {
    considered.push_back(
        Json{{"driver", c.driver()}, {"verdict", VerdictName(c.verdict())}, {"reason", c.reason()}});
  }
  auto or_null = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  return Json{{"node", explanation.node_path()},
              {"state", NodeStateName(explanation.state())},
              {"bound_driver", or_null(explanation.bound_driver())},
              {"selected_driver", or_null(explanation.selected_driver())},
              {"summary", explanation.summary()},
              {"considered", std::move(considered)},
              {"last_error", or_null(explanation.last_error())}};
}

std::string FormatClassInstances(const manager::v1::ListClassResponse& list) {
  if (list.instances().empty()) return "no instance\n";
  client::Table table({"INSTANCE", "NODE", "PROTOCOL", "DRIVER"});
  for (const auto& i : list.instances()) {
    table.AddRow({i.instance(), i.node_path(), i.protocol(), i.driver()});
  }
  return table.Render();
}

Json ClassInstancesToJson(const manager::v1::ListClassResponse& list) {
  Json out = Json::array();
  for (const auto& i : list.instances()) out.push_back(InstanceToJson(i));
  return out;
}

std::string FormatClassEvent(const manager::v1::ClassEvent& event) {
  const auto& i = event.instance();
  return std::string(event.kind() == manager::v1::ClassEvent::KIND_ARRIVED ? "+ " : "- ") +
         i.instance() + "  " + i.node_path() + "  " + i.protocol() + "  " + i.driver() + "\n";
}

Json ClassEventToJson(const manager::v1::ClassEvent& event) {
  const auto& i = event.instance();
  return Json{{"event", event.kind() == manager::v1::ClassEvent::KIND_ARRIVED ? "arrived" : "departed"},
              {"existing", event.existing()},
              {"class", i.class_name()},
              {"instance", i.instance()},
              {"node", i.node_path()},
              {"protocol", i.protocol()},
              {"driver", i.driver()}};
}

Result<node::v1::NodeProperty> ParseProperty(std::string_view text, bool as_string) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "property '" + std::string(text) + "' is not KEY=VALUE");
  }
  node::v1::NodeProperty property;
  property.set_key(std::string(text.substr(0, eq)));
  std::string_view value = text.substr(eq + 1);
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (!as_string && !value.empty() && ec == std::errc() && end == value.data() + value.size()) {
    property.set_int_value(number);
  } else if (!as_string && (value == "true" || value == "false")) {
    property.set_bool_value(value == "true");
  } else {
    property.set_string_value(std::string(value));
  }
  return property;
}

}  // namespace trellis::tools
