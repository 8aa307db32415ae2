#include "runtime/host/block_service.h"

#include "runtime/driver/block_protocol.h"
#include "runtime/host/block_payload.h"
#include "runtime/host/serving_call.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using rpc::ToStatus;
using rpc::UnaryFinisher;

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

BlockStreamReactor* BlockService::Stream(grpc::CallbackServerContext* context) {
  return StartBlockStream(*registry_, context);
}

}  // namespace trellis::host
