// Conversions between node properties in protos and in the driver SDK.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include "runtime/driver/properties.h"
#include "runtime/error.h"
#include "trellis/node/v1/node.pb.h"

namespace trellis::rpc {

using ProtoProperties = google::protobuf::RepeatedPtrField<node::v1::NodeProperty>;

// Errors: kInvalidArgument for a property without a value.
Result<NodeProperties> FromProto(const ProtoProperties& props);
void ToProto(const NodeProperties& props, ProtoProperties* out);

}  // namespace trellis::rpc
