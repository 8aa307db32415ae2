#include "runtime/rpc/properties.h"

namespace trellis::rpc {

Result<NodeProperties> FromProto(const ProtoProperties& props) {
  NodeProperties out;
  out.reserve(props.size());
  for (const auto& p : props) {
    switch (p.value_case()) {
      case node::v1::NodeProperty::kIntValue:
        out.push_back({p.key(), p.int_value()});
        break;
      case node::v1::NodeProperty::kStringValue:
        out.push_back({p.key(), p.string_value()});
        break;
      case node::v1::NodeProperty::kBoolValue:
        out.push_back({p.key(), p.bool_value()});
        break;
      default:
        return Fail(ErrorCode::kInvalidArgument, "property '" + p.key() + "' has no value");
    }
  }
  return out;
}

void ToProto(const NodeProperties& props, ProtoProperties* out) {
  for (const auto& p : props) {
    node::v1::NodeProperty* q = out->Add();
    q->set_key(p.key);
    if (auto* i = std::get_if<uint64_t>(&p.value)) q->set_int_value(*i);
    if (auto* s = std::get_if<std::string>(&p.value)) q->set_string_value(*s);
    if (auto* b = std::get_if<bool>(&p.value)) q->set_bool_value(*b);
  }
}

}  // namespace trellis::rpc
