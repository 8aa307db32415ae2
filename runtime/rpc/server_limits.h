// Limits every Trellis gRPC server applies (manager and hosts), so one
// client's oversized or runaway use fails that client's call with
// RESOURCE_EXHAUSTED instead of costing everyone else memory or threads:
//
//   - messages: 4 MiB received and sent (a Block message carries at most
//     4 MiB − 64 KiB of payload); a larger one fails its call only;
//   - metadata: 16 KiB per call (tokens are 64 bytes);
//   - concurrent streams per connection: 256 (more wait for a free one);
//   - a connection must finish its HTTP/2 handshake within 5 s;
//   - a resource quota: at most 64 threads and 512 MiB of buffers for the
//     server's calls.
//
// Every server built with them also serves gRPC server reflection
// (grpc.reflection.v1alpha.ServerReflection).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

namespace trellis::rpc {

struct ServerLimits {
  int max_message_bytes = 4 * 1024 * 1024;
  int max_metadata_bytes = 16 * 1024;
  int max_concurrent_streams = 256;
  int handshake_timeout_ms = 5000;
  int max_threads = 64;
  int64_t max_buffer_bytes = int64_t{512} * 1024 * 1024;
};

// Applies `limits` to `builder`, and reflection; `name` names the resource
// quota. Call before adding services.
void ApplyServerLimits(grpc::ServerBuilder& builder, const std::string& name,
                       const ServerLimits& limits = {});

}  // namespace trellis::rpc
