// The capability token a client sends with every call to a host's node
// protocols ("trellis-token" metadata, from DriverManager.Bind).
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

namespace trellis::host {

inline std::string TokenOf(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("trellis-token");
  return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

}  // namespace trellis::host
