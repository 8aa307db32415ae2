#include "runtime/host/block_client.h"

#include <grpcpp/grpcpp.h>

#include <cstring>

#include "runtime/rpc/async_call.h"
#include "runtime/rpc/status.h"
#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis::host {

namespace {

using namespace std::chrono_literals;

// A request's whole life on the remote path: long, for slow devices, but
// never forever.
constexpr std::chrono::milliseconds kRemoteTimeout = 60s;

// Runs `done(result)` on the client's dispatcher. A client whose dispatcher
// is gone has been destroyed with its driver: the completion is dropped.
template <typename Done, typename Value>
void CompleteOn(UnownedDispatcher client, Done done, Value result) {
  (void)client.RunOrPost(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

class LocalBlockClient final : public BlockClient {
 public:
  LocalBlockClient(std::shared_ptr<DriverInstance> server, std::string node_path,
                   UnownedDispatcher client, BlockInfo info)
      : server_(std::move(server)),
        node_path_(std::move(node_path)),
        client_(std::move(client)),
        info_(info) {}

  BlockInfo Info() const override { return info_; }

  void Submit(const BlockRequest& request, BlockDone done) override {
    if (auto valid = ValidateBlockRequest(info_, request); !valid) {
      done(Fail(valid.error()));
      return;
    }
    auto call = [server = server_, path = node_path_, client = client_, request,
                 done = std::move(done)]() mutable {
      auto* impl = static_cast<BlockProtocol*>(server->FindProtocol(path, BlockProtocol::kName));
      if (impl == nullptr) {
        CompleteOn(client, std::move(done),
                   Fail(ErrorCode::kUnavailable, "the Block server at " + path + " has stopped"));
        return;
      }
      impl->Submit(request, [client, done = std::move(done)](Result<void> result) mutable {
        CompleteOn(client, std::move(done), std::move(result));
      });
    };
    if (auto posted = server_->dispatcher().RunOrPost(std::move(call)); !posted) {
      // The task (and `done` with it) is gone; the server has shut down.
      // Nothing to complete: a driver stopping its server before its
      // clients breaks the children-first order the manager keeps.
      server_->Log(LogLevel::kWarning, "a Block request arrived after the driver stopped");
    }
  }

 private:
  std::shared_ptr<DriverInstance> server_;
  std::string node_path_;
  UnownedDispatcher client_;
  BlockInfo info_;
};

class RemoteBlockClient final : public BlockClient {
 public:
  RemoteBlockClient(std::shared_ptr<block::v1::Block::Stub> stub, std::string token,
                    UnownedDispatcher client, BlockInfo info)
      : stub_(std::move(stub)), token_(std::move(token)), client_(std::move(client)), info_(info) {}

  BlockInfo Info() const override { return info_; }

  void Submit(const BlockRequest& request, BlockDone done) override {
    if (auto valid = ValidateBlockRequest(info_, request); !valid) {
      done(Fail(valid.error()));
      return;
    }
    switch (request.op) {
      case BlockOp::kRead: {
        block::v1::ReadRequest read;
        read.set_offset_blocks(request.offset_blocks);
        read.set_length_blocks(static_cast<uint32_t>(request.length_blocks));
        Call<block::v1::ReadRequest, block::v1::ReadResponse>(
            std::move(read), &Stub::async_interface::Read, std::move(done),
            [out = request.data](const block::v1::ReadResponse& response) -> Result<void> {
              if (response.data().size() != out.size()) {
                return Fail(ErrorCode::kInternal,
                            "the Block server returned " + std::to_string(response.data().size()) +
                                " bytes for a read of " + std::to_string(out.size()));
              }
              std::memcpy(out.data(), response.data().data(), out.size());
              return Ok();
            });
        return;
      }
      case BlockOp::kWrite: {
        block::v1::WriteRequest write;
        write.set_offset_blocks(request.offset_blocks);
        write.set_data(request.data.data(), request.data.size());
        write.set_fua(request.fua);
        Call<block::v1::WriteRequest, block::v1::WriteResponse>(
            std::move(write), &Stub::async_interface::Write, std::move(done));
        return;
      }
      case BlockOp::kFlush:
        Call<block::v1::FlushRequest, block::v1::FlushResponse>(
            {}, &Stub::async_interface::Flush, std::move(done));
        return;
      case BlockOp::kDiscard: {
        block::v1::DiscardRequest discard;
        discard.set_offset_blocks(request.offset_blocks);
        discard.set_length_blocks(request.length_blocks);
        Call<block::v1::DiscardRequest, block::v1::DiscardResponse>(
            std::move(discard), &Stub::async_interface::Discard, std::move(done));
        return;
      }
      case BlockOp::kWriteZeroes: {
        block::v1::WriteZeroesRequest zeroes;
        zeroes.set_offset_blocks(request.offset_blocks);
        zeroes.set_length_blocks(request.length_blocks);
        Call<block::v1::WriteZeroesRequest, block::v1::WriteZeroesResponse>(
            std::move(zeroes), &Stub::async_interface::WriteZeroes, std::move(done));
        return;
      }
    }
    done(Fail(ErrorCode::kInvalidArgument, "unknown Block operation"));
  }

 private:
  using Stub = block::v1::Block::Stub;
  template <typename Request, typename Response>
  using Method = void (Stub::async_interface::*)(grpc::ClientContext*, const Request*, Response*,
                                                 std::function<void(grpc::Status)>);

  // One unary call; `on_ok` turns a successful response into the result.
  template <typename Request, typename Response>
  void Call(Request request, Method<Request, Response> method, BlockDone done,
            std::move_only_function<Result<void>(const Response&)> on_ok = nullptr) {
    rpc::CallAsync<Request, Response>(
        kRemoteTimeout, std::move(request),
        [stub = stub_, token = token_, method](auto* ctx, auto* req, auto* resp, auto cb) {
          ctx->AddMetadata("trellis-token", token);
          (stub->async()->*method)(ctx, req, resp, std::move(cb));
        },
        [client = client_, done = std::move(done), on_ok = std::move(on_ok)](
            grpc::Status status, Response response) mutable {
          Result<void> result = Ok();
          if (!status.ok()) {
            result = Fail(rpc::FromStatus(status, "Block server"));
          } else if (on_ok) {
            result = on_ok(response);
          }
          CompleteOn(client, std::move(done), std::move(result));
        });
  }

  std::shared_ptr<Stub> stub_;
  std::string token_;
  UnownedDispatcher client_;
  BlockInfo info_;
};

}  // namespace

void ConnectLocalBlock(std::shared_ptr<DriverInstance> server, std::string node_path,
                       UnownedDispatcher client, ConnectDone done) {
  // If the server has shut down, `done` goes with the task: in child-first
  // order the client is being stopped too.
  auto server_dispatcher = server->dispatcher();
  (void)server_dispatcher.RunOrPost([server, node_path, client,
                                             done = std::move(done)]() mutable {
    auto* impl = static_cast<BlockProtocol*>(server->FindProtocol(node_path, BlockProtocol::kName));
    Result<std::unique_ptr<ProtocolClient>> result =
        Fail(ErrorCode::kUnavailable, "nothing serves Block at " + node_path + " any more");
    if (impl != nullptr) {
      BlockInfo info = impl->Info();
      if (auto valid = ValidateBlockInfo(info); !valid) {
        result = Fail(valid.error().WithContext("the Block server at " + node_path));
      } else {
        result = std::unique_ptr<ProtocolClient>(
            new LocalBlockClient(server, node_path, client, info));
      }
    }
    CompleteOn(client, std::move(done), std::move(result));
  });
}

void ConnectRemoteBlock(const std::string& endpoint, std::string token, UnownedDispatcher client,
                        ConnectDone done) {
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  std::shared_ptr<block::v1::Block::Stub> stub = block::v1::Block::NewStub(channel);
  rpc::CallAsync<block::v1::GetInfoRequest, block::v1::GetInfoResponse>(
      std::chrono::milliseconds(10000), {},
      [stub, token](auto* ctx, auto* req, auto* resp, auto cb) {
        ctx->AddMetadata("trellis-token", token);
        stub->async()->GetInfo(ctx, req, resp, std::move(cb));
      },
      [stub, token, client, endpoint, done = std::move(done)](
          grpc::Status status, block::v1::GetInfoResponse response) mutable {
        Result<std::unique_ptr<ProtocolClient>> result =
            Fail(rpc::FromStatus(status, "Block.GetInfo at " + endpoint));
        if (status.ok()) {
          const auto& in = response.info();
          BlockInfo info{.block_size = in.block_size(),
                         .block_count = in.block_count(),
                         .read_only = in.read_only(),
                         .optimal_transfer_size = in.optimal_transfer_size(),
                         .max_transfer_size = in.max_transfer_size()};
          if (auto valid = ValidateBlockInfo(info); !valid) {
            result = Fail(valid.error().WithContext("the Block server at " + endpoint));
          } else {
            result = std::unique_ptr<ProtocolClient>(
                new RemoteBlockClient(std::move(stub), std::move(token), client, info));
          }
        }
        CompleteOn(client, std::move(done), std::move(result));
      });
}

}  // namespace trellis::host
