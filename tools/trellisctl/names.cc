// Display names of node and host states and property values.
#include "tools/trellisctl/names.h"

#include "tools/trellisctl/bytes_format.h"

namespace trellis::tools {

std::string_view NodeStateName(node::v1::NodeState state) {
  switch (state) {
    case node::v1::NODE_STATE_UNSPECIFIED: return "unspecified";
    case node::v1::NODE_STATE_UNBOUND: return "unbound";
    case node::v1::NODE_STATE_BINDING: return "binding";
    case node::v1::NODE_STATE_BOUND: return "bound";
    case node::v1::NODE_STATE_QUARANTINED: return "quarantined";
    case node::v1::NODE_STATE_REMOVING: return "removing";
    default: return "unknown";
  }
}

std::string_view HostStateName(host::v1::HostState state) {
  switch (state) {
    case host::v1::HOST_STATE_UNSPECIFIED: return "unspecified";
    case host::v1::HOST_STATE_STARTING: return "starting";
    case host::v1::HOST_STATE_RUNNING: return "running";
    case host::v1::HOST_STATE_CRASHED: return "crashed";
    case host::v1::HOST_STATE_RESTARTING: return "restarting";
    case host::v1::HOST_STATE_STOPPING: return "stopping";
    case host::v1::HOST_STATE_STOPPED: return "stopped";
    case host::v1::HOST_STATE_QUARANTINED: return "quarantined";
    default: return "unknown";
  }
}

std::string_view BackendStateName(node::v1::BackendState state) {
  switch (state) {
    case node::v1::BACKEND_STATE_UNSPECIFIED: return "unspecified";
    case node::v1::BACKEND_STATE_STARTING: return "starting";
    case node::v1::BACKEND_STATE_RUNNING: return "running";
    case node::v1::BACKEND_STATE_RESTARTING: return "restarting";
    case node::v1::BACKEND_STATE_FAILED: return "failed";
    case node::v1::BACKEND_STATE_STOPPED: return "stopped";
    default: return "unknown";
  }
}

std::string BackendText(const node::v1::BackendStatus& backend) {
  std::string text(BackendStateName(backend.state()));
  if (backend.pid() > 0) text += ", pid " + std::to_string(backend.pid());
  text += ", " + std::to_string(backend.restart_count()) +
          (backend.restart_count() == 1 ? " restart" : " restarts");
  text += ", socket " + backend.socket();
  if (!backend.last_exit().empty()) text += ", last: " + backend.last_exit();
  return text;
}

std::string PropertyValueText(const node::v1::NodeProperty& property) {
  switch (property.value_case()) {
    case node::v1::NodeProperty::kIntValue: return std::to_string(property.int_value());
    case node::v1::NodeProperty::kStringValue:
      return "\"" + EscapeBytes(property.string_value()) + "\"";
    case node::v1::NodeProperty::kBoolValue: return property.bool_value() ? "true" : "false";
    case node::v1::NodeProperty::VALUE_NOT_SET: break;
  }
  return "<unset>";
}

}  // namespace trellis::tools
