#include "runtime/host/block_stream.h"

#include <deque>
#include <memory>

#include "runtime/driver/block_protocol.h"
#include "runtime/host/block_payload.h"
#include "runtime/host/client_token.h"
#include "runtime/mutex.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using block::v1::BlockRequestBatch;
using block::v1::BlockResponse;
using block::v1::BlockResponseBatch;
using rpc::ToStatus;

// Lifetime: gRPC calls OnDone once; requests still in the driver then keep
// the object alive, and the last one to complete deletes it.
class BlockStream final : public BlockStreamReactor {
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
    BlockRequestBatch batch = std::move(in_);
    in_.Clear();
    size_t n = static_cast<size_t>(batch.requests_size());
    {
      MutexLock lock(mu_);
      if (n > kMaxStreamInFlight) {
        // Requests already in the driver still get their responses.
        reads_done_ = true;
        status_ = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "a BlockRequestBatch of " + std::to_string(n) +
                                   " requests; one message may carry at most " +
                                   std::to_string(kMaxStreamInFlight));
        MaybeFinishLocked();
        return;
      }
      in_driver_ += n;
      if (in_driver_ < kMaxStreamInFlight) {
        StartRead(&in_);
      } else {
        read_paused_ = true;  // Resumed by completions.
      }
    }
    if (n > 0) Dispatch(std::move(batch));
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(mu_);
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

  // A batch on its way to the driver's dispatcher. Dropped unrun (the
  // driver stopped, before or after the post), it fails its requests.
  struct Delivery {
    BlockStream* stream;
    BlockRequestBatch batch;
    bool ran = false;
    ~Delivery() {
      if (ran) return;
      for (const auto& request : batch.requests()) {
        auto op = std::make_unique<Op>();
        op->response.set_request_id(request.request_id());
        stream->Complete(std::move(op), Fail(ErrorCode::kUnavailable, "the driver stopped"));
      }
    }
  };

  void Dispatch(BlockRequestBatch batch) {
    instance_->CountClientCall(static_cast<uint64_t>(batch.requests_size()));
    auto delivery = std::make_unique<Delivery>(this, std::move(batch));
    // A failed post drops the task, and with it the delivery.
    (void)instance_->dispatcher().RunOrPost([delivery = std::move(delivery)]() mutable {
      delivery->ran = true;
      delivery->stream->Run(delivery->batch);
    });
  }

  // On the driver's dispatcher. The stream may be deleted by the last
  // request's completion, so nothing here touches it after that.
  void Run(BlockRequestBatch& batch) {
    BlockProtocol* protocol =
        static_cast<BlockProtocol*>(instance_->FindProtocol(node_path_, BlockProtocol::kName));
    for (auto& request : *batch.mutable_requests()) {
      auto op = std::make_unique<Op>();
      op->response.set_request_id(request.request_id());
      op->request = std::move(request);
      if (protocol == nullptr) {
        Complete(std::move(op), Fail(ErrorCode::kUnavailable, "the driver no longer serves Block"));
        continue;
      }
      Start(*protocol, std::move(op));
    }
  }

  void Start(BlockProtocol& protocol, std::unique_ptr<Op> op) {
    auto request = Translate(protocol, *registry_, token_, *op);
    if (!request) {
      Complete(std::move(op), Fail(request.error()));
      return;
    }
    if (auto valid = ValidateBlockRequest(protocol.Info(), *request); !valid) {
      Complete(std::move(op), std::move(valid));
      return;
    }
    Op* raw = op.release();  // Owned by the completion until it runs.
    protocol.Submit(*request, [this, raw](Result<void> result) {
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
        if (read_paused_ && !reads_done_ && in_driver_ < kMaxStreamInFlight) {
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

  // Sends every queued response that fits one message.
  void WriteNextLocked() TRELLIS_REQUIRES(mu_) {
    if (writing_ || out_.empty() || done_ || broken_) return;
    sending_.Clear();
    uint64_t bytes = 0;
    do {
      bytes += out_.front().data().size();
      *sending_.add_responses() = std::move(out_.front());
      out_.pop_front();
    } while (!out_.empty() && bytes + out_.front().data().size() <= kMaxInlinePayload);
    writing_ = true;
    StartWrite(&sending_);
  }

  void MaybeFinishLocked() TRELLIS_REQUIRES(mu_) {
    if (finished_ || done_ || !reads_done_ || in_driver_ > 0 || writing_ || !out_.empty()) return;
    finished_ = true;
    Finish(status_);
  }

  std::shared_ptr<DriverInstance> instance_;
  const std::string node_path_;
  const HostRegistry* const registry_;
  const std::string token_;
  BlockRequestBatch in_;  // Touched only by the read chain.
  Mutex mu_;
  std::deque<BlockResponse> out_ TRELLIS_GUARDED_BY(mu_);  // Waiting for a write.
  BlockResponseBatch sending_ TRELLIS_GUARDED_BY(mu_);     // The write in flight.
  size_t in_driver_ TRELLIS_GUARDED_BY(mu_) = 0;
  grpc::Status status_ TRELLIS_GUARDED_BY(mu_);  // What Finish reports.
  bool writing_ TRELLIS_GUARDED_BY(mu_) = false;
  bool read_paused_ TRELLIS_GUARDED_BY(mu_) = false;
  bool reads_done_ TRELLIS_GUARDED_BY(mu_) = false;
  bool finished_ TRELLIS_GUARDED_BY(mu_) = false;
  bool broken_ TRELLIS_GUARDED_BY(mu_) = false;
  bool done_ TRELLIS_GUARDED_BY(mu_) = false;
};

}  // namespace

BlockStreamReactor* StartBlockStream(const HostRegistry& registry,
                                     grpc::CallbackServerContext* context) {
  auto authorized = registry.AuthorizeCall(TokenOf(context), BlockProtocol::kName, context->peer());
  if (!authorized) {
    // A reactor that only refuses.
    class Refuse final : public BlockStreamReactor {
     public:
      explicit Refuse(grpc::Status status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refuse(ToStatus(authorized.error()));
  }
  return new BlockStream(std::move(authorized->second), std::move(authorized->first.node_path),
                         &registry, TokenOf(context));
}

}  // namespace trellis::host
