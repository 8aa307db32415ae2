#include "runtime/host/block_service.h"

#include <deque>

#include "runtime/driver/block_protocol.h"
#include "runtime/host/client_token.h"
#include "runtime/host/serving_call.h"
#include "runtime/mutex.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using block::v1::BlockResponse;
using rpc::StatusOf;
using rpc::ToStatus;
using rpc::UnaryFinisher;

// The BlockProtocol an instance serves at `node_path` (its node or an
// offered child), or null.
BlockProtocol* BlockOf(const DriverInstance& instance, const std::string& node_path) {
  return static_cast<BlockProtocol*>(instance.FindProtocol(node_path, BlockProtocol::kName));
}

// Validates and submits; the finisher answers with the request's outcome.
void SubmitChecked(BlockProtocol& protocol, const BlockRequest& request, UnaryFinisher finisher) {
  if (auto valid = ValidateBlockRequest(protocol.Info(), request); !valid) {
    finisher.Finish(ToStatus(valid.error()));
    return;
  }
  protocol.Submit(request, [finisher = std::move(finisher)](Result<void> result) mutable {
    finisher.Finish(ToStatus(result));
  });
}

// Bytes a read or write of `blocks` moves, if one message can carry them.
Result<uint64_t> InlineBytes(const BlockInfo& info, uint64_t blocks) {
  TRELLIS_TRY(ValidateBlockInfo(info));
  uint64_t bytes = blocks * info.block_size;  // blocks < 2^32, block_size <= 2^16.
  if (bytes > BlockService::kMaxInlinePayload) {
    return Fail(ErrorCode::kInvalidArgument,
                std::to_string(bytes) + " bytes exceed the " +
                    std::to_string(BlockService::kMaxInlinePayload) +
                    "-byte limit of one message; split the transfer or use shared memory");
  }
  return bytes;
}

// Blocks a write of `bytes` covers, if it is whole blocks.
Result<uint64_t> WriteBlocks(const BlockInfo& info, size_t bytes) {
  TRELLIS_TRY(ValidateBlockInfo(info));
  if (bytes % info.block_size != 0) {
    return Fail(ErrorCode::kInvalidArgument, "write of " + std::to_string(bytes) +
                                                 " bytes is not a whole number of " +
                                                 std::to_string(info.block_size) + "-byte blocks");
  }
  return bytes / info.block_size;
}

std::span<std::byte> SpanOf(std::string& bytes) {
  return {reinterpret_cast<std::byte*>(bytes.data()), bytes.size()};
}

}  // namespace

grpc::ServerUnaryReactor* BlockService::GetInfo(grpc::CallbackServerContext* context,
                                                const block::v1::GetInfoRequest*,
                                                block::v1::GetInfoResponse* response) {
  return OnServingDriver<BlockProtocol>(
      *registry_, context,
      [response](BlockProtocol& protocol, const Caller&, UnaryFinisher finisher) {
        BlockInfo info = protocol.Info();
        if (auto valid = ValidateBlockInfo(info); !valid) {
          finisher.Finish(ToStatus(valid.error()));
          return;
        }
        auto* out = response->mutable_info();
        out->set_block_size(info.block_size);
        out->set_block_count(info.block_count);
        out->set_read_only(info.read_only);
        out->set_optimal_transfer_size(info.optimal_transfer_size);
        uint64_t max = info.max_transfer_size == 0
                           ? kMaxInlinePayload
                           : std::min<uint64_t>(info.max_transfer_size, kMaxInlinePayload);
        out->set_max_transfer_size(static_cast<uint32_t>(max - max % info.block_size));
        finisher.Finish(grpc::Status::OK);
      });
}

grpc::ServerUnaryReactor* BlockService::Read(grpc::CallbackServerContext* context,
                                             const block::v1::ReadRequest* request,
                                             block::v1::ReadResponse* response) {
  return OnServingDriver<BlockProtocol>(
      *registry_, context,
      [request, response](BlockProtocol& protocol, const Caller&, UnaryFinisher finisher) {
        auto bytes = InlineBytes(protocol.Info(), request->length_blocks());
        if (!bytes) {
          finisher.Finish(ToStatus(bytes.error()));
          return;
        }
        response->mutable_data()->resize(*bytes);
        SubmitChecked(protocol,
                      {.op = BlockOp::kRead,
                       .offset_blocks = request->offset_blocks(),
                       .length_blocks = request->length_blocks(),
                       .data = SpanOf(*response->mutable_data())},
                      std::move(finisher));
      });
}

grpc::ServerUnaryReactor* BlockService::Write(grpc::CallbackServerContext* context,
                                              const block::v1::WriteRequest* request,
                                              block::v1::WriteResponse*) {
  return OnServingDriver<BlockProtocol>(
      *registry_, context,
      [request](BlockProtocol& protocol, const Caller&, UnaryFinisher finisher) {
        auto blocks = WriteBlocks(protocol.Info(), request->data().size());
        if (!blocks) {
          finisher.Finish(ToStatus(blocks.error()));
          return;
        }
        // The driver only reads a write's data.
        auto& data = const_cast<std::string&>(request->data());
        SubmitChecked(protocol,
                      {.op = BlockOp::kWrite,
                       .offset_blocks = request->offset_blocks(),
                       .length_blocks = *blocks,
                       .data = SpanOf(data),
                       .fua = request->fua()},
                      std::move(finisher));
      });
}

grpc::ServerUnaryReactor* BlockService::Flush(grpc::CallbackServerContext* context,
                                              const block::v1::FlushRequest*,
                                              block::v1::FlushResponse*) {
  return OnServingDriver<BlockProtocol>(
      *registry_, context, [](BlockProtocol& protocol, const Caller&, UnaryFinisher finisher) {
        SubmitChecked(protocol, {.op = BlockOp::kFlush}, std::move(finisher));
      });
}

grpc::ServerUnaryReactor* BlockService::Discard(grpc::CallbackServerContext* context,
                                                const block::v1::DiscardRequest* request,
                                                block::v1::DiscardResponse*) {
  return OnServingDriver<BlockProtocol>(
      *registry_, context,
      [request](BlockProtocol& protocol, const Caller&, UnaryFinisher finisher) {
        SubmitChecked(protocol,
                      {.op = BlockOp::kDiscard,
                       .offset_blocks = request->offset_blocks(),
                       .length_blocks = request->length_blocks()},
                      std::move(finisher));
      });
}

grpc::ServerUnaryReactor* BlockService::WriteZeroes(grpc::CallbackServerContext* context,
                                                    const block::v1::WriteZeroesRequest* request,
                                                    block::v1::WriteZeroesResponse*) {
  return OnServingDriver<BlockProtocol>(
      *registry_, context,
      [request](BlockProtocol& protocol, const Caller&, UnaryFinisher finisher) {
        SubmitChecked(protocol,
                      {.op = BlockOp::kWriteZeroes,
                       .offset_blocks = request->offset_blocks(),
                       .length_blocks = request->length_blocks()},
                      std::move(finisher));
      });
}

// Block.Stream: reads requests, runs each on the driver's dispatcher, writes
// each completion as it comes (one write in flight, the rest queued).
//
// Lifetime: gRPC calls OnDone once; requests still in the driver then keep
// the object alive, and the last one to complete deletes it.
class BlockStream final : public grpc::ServerBidiReactor<block::v1::BlockRequest, BlockResponse> {
 public:
  BlockStream(std::shared_ptr<DriverInstance> instance, std::string node_path,
              const HostRegistry* registry, std::string token)
      : instance_(std::move(instance)),
        node_path_(std::move(node_path)),
        registry_(registry),
        token_(std::move(token)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client finished sending (or the call broke).
      MutexLock lock(mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    block::v1::BlockRequest request = std::move(in_);
    in_.Clear();
    {
      MutexLock lock(mu_);
      ++in_driver_;
      if (in_driver_ < BlockService::kMaxStreamInFlight) {
        StartRead(&in_);
      } else {
        read_paused_ = true;  // Resumed by a completion.
      }
    }
    Dispatch(std::move(request));
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(mu_);
    out_.pop_front();
    writing_ = false;
    if (!ok) {
      broken_ = true;  // The client is gone; OnDone follows.
      out_.clear();
      return;
    }
    WriteNextLocked();
    MaybeFinishLocked();
  }

  void OnDone() override {
    bool last;
    {
      MutexLock lock(mu_);
      done_ = true;
      last = in_driver_ == 0;
    }
    if (last) delete this;
  }

 private:
  // One request in the driver; its response (and a read's data) lives here
  // until the driver completes it.
  struct Op {
    block::v1::BlockRequest request;
    BlockResponse response;
    // The shared region a request's payload is in, held until it completes.
    std::shared_ptr<SharedRegion> region;
  };

  void Dispatch(block::v1::BlockRequest request) {
    uint64_t id = request.request_id();
    auto op = std::make_unique<Op>();
    op->request = std::move(request);
    op->response.set_request_id(id);
    auto dispatcher = instance_->dispatcher();
    auto posted =
        dispatcher.RunOrPost([this, op = std::move(op)]() mutable { Run(std::move(op)); });
    if (!posted) {  // The driver stopped; the task (and its op) was dropped.
      auto failed = std::make_unique<Op>();
      failed->response.set_request_id(id);
      Complete(std::move(failed), Fail(ErrorCode::kUnavailable, "the driver stopped"));
    }
  }

  // On the driver's dispatcher.
  void Run(std::unique_ptr<Op> op) {
    BlockProtocol* protocol = BlockOf(*instance_, node_path_);
    if (protocol == nullptr) {
      Complete(std::move(op), Fail(ErrorCode::kUnavailable, "the driver no longer serves Block"));
      return;
    }
    auto request = Translate(*protocol, *registry_, token_, *op);
    if (!request) {
      Complete(std::move(op), Fail(request.error()));
      return;
    }
    if (auto valid = ValidateBlockRequest(protocol->Info(), *request); !valid) {
      Complete(std::move(op), std::move(valid));
      return;
    }
    Op* raw = op.release();  // Owned by the completion until it runs.
    protocol->Submit(*request, [this, raw](Result<void> result) {
      Complete(std::unique_ptr<Op>(raw), std::move(result));
    });
  }

  static Result<BlockRequest> Translate(BlockProtocol& protocol, const HostRegistry& registry,
                                        const std::string& token, Op& op) {
    const auto& r = op.request;
    if (r.has_shm()) return TranslateShared(protocol.Info(), registry, token, op);
    BlockInfo info = protocol.Info();
    switch (r.op_case()) {
      case block::v1::BlockRequest::kRead: {
        TRELLIS_ASSIGN_OR_RETURN(uint64_t bytes, InlineBytes(info, r.read().length_blocks()));
        op.response.mutable_data()->resize(bytes);
        return BlockRequest{.op = BlockOp::kRead,
                            .offset_blocks = r.read().offset_blocks(),
                            .length_blocks = r.read().length_blocks(),
                            .data = SpanOf(*op.response.mutable_data())};
      }
      case block::v1::BlockRequest::kWrite: {
        auto* data = op.request.mutable_write()->mutable_data();
        TRELLIS_ASSIGN_OR_RETURN(uint64_t blocks, WriteBlocks(info, data->size()));
        return BlockRequest{.op = BlockOp::kWrite,
                            .offset_blocks = r.write().offset_blocks(),
                            .length_blocks = blocks,
                            .data = SpanOf(*data),
                            .fua = r.write().fua()};
      }
      case block::v1::BlockRequest::kFlush:
        return BlockRequest{.op = BlockOp::kFlush};
      case block::v1::BlockRequest::kDiscard:
        return BlockRequest{.op = BlockOp::kDiscard,
                            .offset_blocks = r.discard().offset_blocks(),
                            .length_blocks = r.discard().length_blocks()};
      case block::v1::BlockRequest::kWriteZeroes:
        return BlockRequest{.op = BlockOp::kWriteZeroes,
                            .offset_blocks = r.write_zeroes().offset_blocks(),
                            .length_blocks = r.write_zeroes().length_blocks()};
      case block::v1::BlockRequest::OP_NOT_SET:
        break;
    }
    return Fail(ErrorCode::kInvalidArgument,
                "request " + std::to_string(r.request_id()) + " names no operation");
  }

  // A read into, or a write from, a range of a shared region: the range
  // must lie inside the region and be exactly the transfer's bytes.
  static Result<BlockRequest> TranslateShared(const BlockInfo& info, const HostRegistry& registry,
                                              const std::string& token, Op& op) {
    const auto& r = op.request;
    const auto& shm = r.shm();
    TRELLIS_TRY(ValidateBlockInfo(info));
    TRELLIS_ASSIGN_OR_RETURN(op.region, registry.FindRegion(token, shm.region_id()));
    TRELLIS_ASSIGN_OR_RETURN(std::span<std::byte> bytes,
                             op.region->Slice(shm.offset(), shm.length()));
    switch (r.op_case()) {
      case block::v1::BlockRequest::kRead: {
        uint64_t want = uint64_t{r.read().length_blocks()} * info.block_size;
        if (bytes.size() != want) {
          return Fail(ErrorCode::kInvalidArgument,
                      "shm length " + std::to_string(bytes.size()) + " is not the " +
                          std::to_string(want) + " bytes of " +
                          std::to_string(r.read().length_blocks()) + " blocks");
        }
        return BlockRequest{.op = BlockOp::kRead,
                            .offset_blocks = r.read().offset_blocks(),
                            .length_blocks = r.read().length_blocks(),
                            .data = bytes};
      }
      case block::v1::BlockRequest::kWrite: {
        if (!r.write().data().empty()) {
          return Fail(ErrorCode::kInvalidArgument,
                      "a write with shm carries its data there, not in WriteRequest.data");
        }
        TRELLIS_ASSIGN_OR_RETURN(uint64_t blocks, WriteBlocks(info, bytes.size()));
        return BlockRequest{.op = BlockOp::kWrite,
                            .offset_blocks = r.write().offset_blocks(),
                            .length_blocks = blocks,
                            .data = bytes,
                            .fua = r.write().fua()};
      }
      default:
        return Fail(ErrorCode::kInvalidArgument, "only reads and writes take a shm range");
    }
  }

  // Any thread. Queues the response; the last completion after OnDone
  // deletes the stream.
  void Complete(std::unique_ptr<Op> op, Result<void> result) {
    BlockResponse& response = op->response;
    if (!result) {
      response.clear_data();
      response.set_code(static_cast<int32_t>(ToStatus(result.error()).error_code()));
      response.set_message(result.error().message());
      response.set_errno_value(result.error().errno_value());
    }
    bool last;
    {
      MutexLock lock(mu_);
      --in_driver_;
      if (!done_ && !broken_) {
        out_.push_back(std::move(response));
        WriteNextLocked();
        if (read_paused_ && !reads_done_) {
          read_paused_ = false;
          StartRead(&in_);
        }
        MaybeFinishLocked();
      }
      last = done_ && in_driver_ == 0;
    }
    op.reset();
    if (last) delete this;
  }

  void WriteNextLocked() TRELLIS_REQUIRES(mu_) {
    if (writing_ || out_.empty() || done_ || broken_) return;
    writing_ = true;
    StartWrite(&out_.front());
  }

  void MaybeFinishLocked() TRELLIS_REQUIRES(mu_) {
    if (finished_ || done_ || !reads_done_ || in_driver_ > 0 || writing_ || !out_.empty()) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  std::shared_ptr<DriverInstance> instance_;
  const std::string node_path_;
  const HostRegistry* const registry_;
  const std::string token_;
  block::v1::BlockRequest in_;  // Touched only by the read chain.
  Mutex mu_;
  std::deque<BlockResponse> out_ TRELLIS_GUARDED_BY(mu_);  // Front is being written.
  size_t in_driver_ TRELLIS_GUARDED_BY(mu_) = 0;
  bool writing_ TRELLIS_GUARDED_BY(mu_) = false;
  bool read_paused_ TRELLIS_GUARDED_BY(mu_) = false;
  bool reads_done_ TRELLIS_GUARDED_BY(mu_) = false;
  bool finished_ TRELLIS_GUARDED_BY(mu_) = false;
  bool broken_ TRELLIS_GUARDED_BY(mu_) = false;
  bool done_ TRELLIS_GUARDED_BY(mu_) = false;
};

grpc::ServerBidiReactor<block::v1::BlockRequest, BlockResponse>* BlockService::Stream(
    grpc::CallbackServerContext* context) {
  auto authorized = registry_->Authorize(TokenOf(context), BlockProtocol::kName);
  if (!authorized) {
    // A reactor that only refuses.
    class Refuse final : public grpc::ServerBidiReactor<block::v1::BlockRequest, BlockResponse> {
     public:
      explicit Refuse(grpc::Status status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refuse(ToStatus(authorized.error()));
  }
  return new BlockStream(std::move(authorized->second), std::move(authorized->first.node_path),
                         registry_, TokenOf(context));
}

}  // namespace trellis::host
