#include "runtime/rpc/server_limits.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/resource_quota.h>

namespace trellis::rpc {

namespace {

// Every server also serves gRPC server reflection, so generic tools
// (grpcurl, grpc_cli, Postman) can list and call its services. The plugin
// joins every ServerBuilder constructed after this runs, so it runs at load
// time, before main (this file is linked wherever ApplyServerLimits is).
[[maybe_unused]] const bool kReflection =
    (grpc::reflection::InitProtoReflectionServerBuilderPlugin(), true);

}  // namespace

void ApplyServerLimits(grpc::ServerBuilder& builder, const std::string& name,
                       const ServerLimits& limits) {

  builder.SetMaxReceiveMessageSize(limits.max_message_bytes);
  builder.SetMaxSendMessageSize(limits.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, limits.max_metadata_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, limits.handshake_timeout_ms);
  grpc::ResourceQuota quota(name);
  quota.SetMaxThreads(limits.max_threads);
  quota.Resize(static_cast<size_t>(limits.max_buffer_bytes));
  builder.SetResourceQuota(quota);
}

}  // namespace trellis::rpc
