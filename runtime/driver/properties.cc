#include "runtime/driver/properties.h"

namespace trellis {

std::string PropertyValueToString(const PropertyValue& value) {
  struct Visitor {
    std::string operator()(uint64_t v) const { return std::to_string(v); }
    std::string operator()(const std::string& v) const { return "\"" + v + "\""; }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace trellis
