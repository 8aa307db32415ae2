// BoundSession: a node's protocol bound through the manager for the length
// of one trellisctl invocation, so every call of the command shares one
// token (and the driver's per-client state that belongs to it).
#pragma once

#include <memory>
#include <string>

#include "tools/client/client.h"
#include "tools/trellisctl/command_context.h"

namespace trellis::tools {

// `Client` is a protocol client with a kProtocol name and
// Connect(const BindResponse&) (client::DeviceClient, client::BlockClient).
// Unbinds (best effort) when dropped.
template <typename Client>
class BoundSession {
 public:
  // Connects to the manager, binds Client::kProtocol at `node_path` and
  // connects the client. Blocks.
  // Errors: as ConnectManager; as ManagerClient::Bind (kNotFound for an
  // unknown node or one without the protocol); as Client::Connect.
  static Result<std::unique_ptr<BoundSession>> Open(const GlobalOptions& globals,
                                                    const std::string& node_path) {
    TRELLIS_ASSIGN_OR_RETURN(auto manager, ConnectManager(globals));
    TRELLIS_ASSIGN_OR_RETURN(auto binding, manager.Bind(node_path, std::string(Client::kProtocol)));
    auto client = Client::Connect(binding);
    if (!client) {
      (void)manager.Unbind(binding.token());
      return Fail(std::move(client).error());
    }
    return std::unique_ptr<BoundSession>(
        new BoundSession(std::move(manager), binding.token(), std::move(*client)));
  }

  BoundSession(const BoundSession&) = delete;
  BoundSession& operator=(const BoundSession&) = delete;
  ~BoundSession() { (void)manager_.Unbind(token_); }

  Client& client() { return client_; }

 private:
  BoundSession(client::ManagerClient manager, std::string token, Client client)
      : manager_(std::move(manager)), token_(std::move(token)), client_(std::move(client)) {}

  client::ManagerClient manager_;
  std::string token_;
  Client client_;
};

}  // namespace trellis::tools
