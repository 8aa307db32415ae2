// NodeChannelService: the NodeChannel gRPC service hosts call on behalf of
// their drivers: add and remove child nodes, hold and drop wake leases,
// report wakes. Every request carries the node token the manager issued in
// StartDriver; it names the calling driver's node.
#pragma once

#include "trellis/node/v1/node.grpc.pb.h"

namespace trellis::manager {

class Manager;

class NodeChannelService final : public node::v1::NodeChannel::CallbackService {
 public:
  explicit NodeChannelService(Manager* manager) : manager_(manager) {}

  grpc::ServerUnaryReactor* AddChild(grpc::CallbackServerContext* context,
                                     const node::v1::AddChildRequest* request,
                                     node::v1::AddChildResponse* response) override;
  grpc::ServerUnaryReactor* RemoveNode(grpc::CallbackServerContext* context,
                                       const node::v1::RemoveNodeRequest* request,
                                       node::v1::RemoveNodeResponse* response) override;
  grpc::ServerWriteReactor<power::v1::WakeLeaseEvent>* AcquireWakeLease(
      grpc::CallbackServerContext* context, const node::v1::WakeLeaseRequest* request) override;
  grpc::ServerUnaryReactor* HandOffWakeLease(
      grpc::CallbackServerContext* context, const node::v1::HandOffWakeLeaseRequest* request,
      power::v1::HandOffWakeLeaseResponse* response) override;
  grpc::ServerUnaryReactor* DropWakeLease(grpc::CallbackServerContext* context,
                                          const node::v1::DropWakeLeaseRequest* request,
                                          node::v1::DropWakeLeaseResponse* response) override;
  grpc::ServerUnaryReactor* ReportWake(grpc::CallbackServerContext* context,
                                       const node::v1::ReportWakeRequest* request,
                                       node::v1::ReportWakeResponse* response) override;
  grpc::ServerUnaryReactor* Connect(grpc::CallbackServerContext* context,
                                    const node::v1::ConnectRequest* request,
                                    node::v1::ConnectResponse* response) override;

 private:
  Manager* manager_;
};

}  // namespace trellis::manager
