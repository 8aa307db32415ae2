// BlockClient implementations a host hands to a driver that connects to a
// Block offer (DriverContext::Connect<BlockProtocol>):
//   local   the server runs in this host: requests are called on the
//           server driver's dispatcher, completions hop back; no gRPC.
//   remote  the server runs in another host: one unary Block call per
//           request over the server host's endpoint, with the grant's token.
// Both read Info once when connecting; `done` runs on the client driver's
// dispatcher.
#pragma once

#include <memory>
#include <string>

#include "runtime/dispatcher.h"
#include "runtime/driver/block_protocol.h"
#include "runtime/error.h"
#include "runtime/host/driver_instance.h"

namespace trellis::host {

using ConnectDone = std::move_only_function<void(Result<std::unique_ptr<ProtocolClient>>)>;

// `server` serves Block at `node_path` (its own node or an offered child).
void ConnectLocalBlock(std::shared_ptr<DriverInstance> server, std::string node_path,
                       UnownedDispatcher client, ConnectDone done);

void ConnectRemoteBlock(const std::string& endpoint, std::string token, UnownedDispatcher client,
                        ConnectDone done);

}  // namespace trellis::host
