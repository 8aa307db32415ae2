// BlockService: serves trellis.block.v1.Block to bound clients on the host's
// client socket, for drivers that serve a BlockProtocol. Each call carries
// the token from DriverManager.Bind; requests are validated against the
// driver's BlockInfo and then run on the driver's dispatcher (inline when it
// is idle, so an idle device costs no thread hand-off). While the driver is
// suspended, requests wait and run after resume.
//
// Stream keeps up to kMaxStreamInFlight requests in the driver at once and
// stops reading from the client past that (flow control through gRPC).
#pragma once

#include "runtime/host/host_registry.h"
#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis::host {

class BlockService final : public trellis::block::v1::Block::CallbackService {
 public:
  // Requests one stream keeps in the driver at once.
  static constexpr size_t kMaxStreamInFlight = 256;
  // Largest payload carried in a message (below gRPC's 4 MiB default).
  static constexpr uint64_t kMaxInlinePayload = 4 * 1024 * 1024 - 64 * 1024;

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
  grpc::ServerBidiReactor<block::v1::BlockRequest, block::v1::BlockResponse>* Stream(
      grpc::CallbackServerContext* context) override;

 private:
  HostRegistry* registry_;
};

}  // namespace trellis::host
