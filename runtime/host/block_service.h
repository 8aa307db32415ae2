// BlockService: serves trellis.block.v1.Block to bound clients on the host's
// client socket, for drivers that serve a BlockProtocol. Each call carries
// the token from DriverManager.Bind; requests are validated against the
// driver's BlockInfo and then run on the driver's dispatcher (inline when it
// is idle, so an idle device costs no thread hand-off). While the driver is
// suspended, requests wait and run after resume. Stream is block_stream.h.
#pragma once

#include "runtime/host/block_stream.h"
#include "runtime/host/host_registry.h"
#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis::host {

class BlockService final : public trellis::block::v1::Block::CallbackService {
 public:
  explicit BlockService(HostRegistry* registry) : registry_(registry) {}

  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* context,
                                    const block::v1::GetInfoRequest* request,
                                    block::v1::GetInfoResponse* response) override;
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context,
                                 const block::v1::ReadRequest* request,
                                 block::v1::ReadResponse* response) override;
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context,
                                  const block::v1::WriteRequest* request,
                                  block::v1::WriteResponse* response) override;
  grpc::ServerUnaryReactor* Flush(grpc::CallbackServerContext* context,
                                  const block::v1::FlushRequest* request,
                                  block::v1::FlushResponse* response) override;
  grpc::ServerUnaryReactor* Discard(grpc::CallbackServerContext* context,
                                    const block::v1::DiscardRequest* request,
                                    block::v1::DiscardResponse* response) override;
  grpc::ServerUnaryReactor* WriteZeroes(grpc::CallbackServerContext* context,
                                        const block::v1::WriteZeroesRequest* request,
                                        block::v1::WriteZeroesResponse* response) override;
  BlockStreamReactor* Stream(grpc::CallbackServerContext* context) override;

 private:
  HostRegistry* registry_;
};

}  // namespace trellis::host
