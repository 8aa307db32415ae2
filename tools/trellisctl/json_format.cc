// JSON renderings of DriverManager and Device messages.
#include "tools/trellisctl/json_format.h"

#include "tools/trellisctl/names.h"

namespace trellis::tools {

namespace {

Json StringOrNull(const std::string& value) { return value.empty() ? Json(nullptr) : Json(value); }

Json PropertyValueToJson(const node::v1::NodeProperty& property) {
  switch (property.value_case()) {
    case node::v1::NodeProperty::kIntValue: return property.int_value();
    case node::v1::NodeProperty::kStringValue: return property.string_value();
    case node::v1::NodeProperty::kBoolValue: return property.bool_value();
    case node::v1::NodeProperty::VALUE_NOT_SET: break;
  }
  return nullptr;
}

template <typename Repeated>
Json StringArray(const Repeated& values) {
  Json array = Json::array();
  for (const auto& value : values) array.push_back(value);
  return array;
}

Json BackendToJson(const node::v1::NodeInfo& node) {
  if (!node.has_backend()) return nullptr;
  const node::v1::BackendStatus& backend = node.backend();
  return Json{
      {"state", BackendStateName(backend.state())},
      {"pid", backend.pid() == 0 ? Json(nullptr) : Json(backend.pid())},
      {"restarts", backend.restart_count()},
      {"socket", backend.socket()},
      {"last_exit", StringOrNull(backend.last_exit())},
  };
}

}  // namespace

Json NodeToJson(const node::v1::NodeInfo& node) {
  Json properties = Json::object();
  for (const auto& property : node.properties()) {
    properties[property.key()] = PropertyValueToJson(property);
  }
  return Json{
      {"path", node.path()},
      {"name", node.name()},
      {"parent", StringOrNull(node.parent_path())},
      {"state", NodeStateName(node.state())},
      {"driver", StringOrNull(node.bound_driver())},
      {"host", StringOrNull(node.host())},
      {"protocols", StringArray(node.protocols())},
      {"restarts", node.restart_count()},
      {"backend", BackendToJson(node)},
      {"properties", std::move(properties)},
  };
}

Json NodesToJson(const manager::v1::ListNodesResponse& nodes) {
  Json array = Json::array();
  for (const auto& node : nodes.nodes()) array.push_back(NodeToJson(node));
  return array;
}

Json DriverToJson(const manager::v1::DriverInfo& driver) {
  return Json{
      {"name", driver.name()},
      {"binary", driver.binary()},
      {"priority", driver.priority()},
      {"fallback", driver.fallback()},
      {"disabled", driver.disabled()},
      {"colocation_group", StringOrNull(driver.colocation_group())},
      {"bound_nodes", StringArray(driver.bound_nodes())},
  };
}

Json DriversToJson(const manager::v1::ListDriversResponse& drivers) {
  Json array = Json::array();
  for (const auto& driver : drivers.drivers()) array.push_back(DriverToJson(driver));
  return array;
}

Json HostToJson(const host::v1::HostInfo& host) {
  return Json{
      {"id", host.host_id()},
      {"state", HostStateName(host.state())},
      {"pid", host.pid() == 0 ? Json(nullptr) : Json(host.pid())},
      {"restarts", host.restart_count()},
      {"colocation_group", StringOrNull(host.colocation_group())},
      {"nodes", StringArray(host.node_paths())},
  };
}

Json HostsToJson(const manager::v1::ListHostsResponse& hosts) {
  Json array = Json::array();
  for (const auto& host : hosts.hosts()) array.push_back(HostToJson(host));
  return array;
}

Json UpcallToJson(const device::v1::Upcall& upcall) {
  return Json{
      {"minor", upcall.minor_num()},
      {"arg0", upcall.arg0()},
      {"arg1", upcall.arg1()},
      {"arg2", upcall.arg2()},
  };
}

std::string DumpJson(const Json& json, bool pretty) {
  return json.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace trellis::tools
