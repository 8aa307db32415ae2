// ProtocolClient: the base of every typed protocol's client interface
// (`Protocol::Client`, e.g. BlockClient), which a driver gets from
// DriverContext::Connect to reach a protocol another driver serves.
#pragma once

namespace trellis {

class ProtocolClient {
 public:
  virtual ~ProtocolClient() = default;
};

}  // namespace trellis
