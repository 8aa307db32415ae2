#include "manager/topology/class_registry.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace trellis::manager {

namespace {

std::string InstanceName(const std::string& class_name, uint32_t number) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%03u", number);
  return class_name + "/" + digits;
}

v1::ClassEvent Event(v1::ClassEvent::Kind kind, v1::ClassInstance instance) {
  v1::ClassEvent event;
  event.set_kind(kind);
  *event.mutable_instance() = std::move(instance);
  return event;
}

}  // namespace

std::string ClassRegistry::ClassOf(std::string_view protocol) {
  auto dot = protocol.rfind('.');
  std::string name(dot == std::string_view::npos ? protocol : protocol.substr(dot + 1));
  std::ranges::transform(name, name.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

std::vector<v1::ClassEvent> ClassRegistry::Arrive(const std::string& node_path,
                                                  const std::string& driver,
                                                  const std::vector<std::string>& protocols) {
  std::vector<v1::ClassEvent> events;
  for (const std::string& protocol : protocols) {
    std::string class_name = ClassOf(protocol);
    auto [it, fresh] = numbers_.try_emplace({node_path, protocol}, 0);
    if (fresh) it->second = next_[class_name]++;
    auto key = std::pair(class_name, it->second);
    if (present_.contains(key)) continue;
    v1::ClassInstance instance;
    instance.set_class_name(class_name);
    instance.set_instance(InstanceName(class_name, it->second));
    instance.set_node_path(node_path);
    instance.set_protocol(protocol);
    instance.set_driver(driver);
    present_[key] = instance;
    events.push_back(Event(v1::ClassEvent::KIND_ARRIVED, std::move(instance)));
  }
  return events;
}

std::vector<v1::ClassEvent> ClassRegistry::Depart(const std::string& node_path) {
  std::vector<v1::ClassEvent> events;
  for (auto it = present_.begin(); it != present_.end();) {
    if (it->second.node_path() != node_path) {
      ++it;
      continue;
    }
    events.push_back(Event(v1::ClassEvent::KIND_DEPARTED, std::move(it->second)));
    it = present_.erase(it);
  }
  return events;
}

std::vector<v1::ClassInstance> ClassRegistry::List(std::string_view class_name) const {
  std::vector<v1::ClassInstance> out;
  for (const auto& [key, instance] : present_) {
    if (class_name.empty() || key.first == class_name) out.push_back(instance);
  }
  return out;
}

std::optional<v1::ClassInstance> ClassRegistry::Find(std::string_view instance) const {
  if (instance.starts_with("class/")) instance.remove_prefix(6);
  for (const auto& [key, present] : present_) {
    if (present.instance() == instance) return present;
  }
  return std::nullopt;
}

}  // namespace trellis::manager
