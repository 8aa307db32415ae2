// BlockClient: Block calls with the binding's token, ranges split into
// transfers, and the pipelined Stream.
#include "tools/client/block_client.h"

#include <algorithm>
#include <unordered_map>

#include "runtime/rpc/status.h"
#include "tools/client/internal/channel.h"

namespace trellis::client {

namespace {

using block::v1::Block;
using Clock = std::chrono::steady_clock;

template <typename Request, typename Response>
using UnaryMethod = grpc::Status (Block::Stub::*)(grpc::ClientContext*, const Request&, Response*);

// One unary call with `token` and a deadline `timeout` from now; `name`
// names the call in errors ("Block.Read").
template <typename Request, typename Response>
Result<Response> Call(Block::Stub& stub, UnaryMethod<Request, Response> method,
                      const std::string& token, std::chrono::milliseconds timeout,
                      const Request& request, std::string_view name) {
  grpc::ClientContext context;
  internal::SetTimeout(context, timeout);
  internal::AddToken(context, token);
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, name));
  return response;
}

}  // namespace

uint32_t BlocksPerTransfer(const block::v1::BlockInfo& info) {
  if (info.block_size() == 0) return 0;
  uint32_t bytes = info.max_transfer_size() == 0 ? kMaxBlockPayload : info.max_transfer_size();
  return std::max<uint32_t>(1, bytes / info.block_size());
}

Result<void> CheckBlockRange(const block::v1::BlockInfo& info, uint64_t offset, uint64_t count) {
  if (count == 0) return Fail(ErrorCode::kInvalidArgument, "a range of 0 blocks");
  // offset + count > block_count, without overflow.
  if (offset > info.block_count() || count > info.block_count() - offset) {
    return Fail(ErrorCode::kOutOfRange, "blocks " + std::to_string(offset) + "+" +
                                            std::to_string(count) +
                                            " are past the end of the device (" +
                                            std::to_string(info.block_count()) + " blocks)");
  }
  return Ok();
}

Result<BlockClient> BlockClient::Connect(const manager::v1::BindResponse& binding,
                                         ClientOptions options) {
  if (binding.endpoint().empty()) {
    return Fail(ErrorCode::kInvalidArgument, "the binding names no endpoint");
  }
  TRELLIS_ASSIGN_OR_RETURN(
      auto channel, internal::OpenChannel(binding.endpoint(), "the driver host", options.timeout));
  return BlockClient(binding.endpoint(), binding.token(), options, Block::NewStub(channel));
}

Result<block::v1::BlockInfo> BlockClient::GetInfo() {
  TRELLIS_ASSIGN_OR_RETURN(auto response,
                           Call(*stub_, &Block::Stub::GetInfo, token_, options_.timeout,
                                block::v1::GetInfoRequest(), "Block.GetInfo"));
  return response.info();
}

Result<std::string> BlockClient::Read(uint64_t offset, uint32_t blocks) {
  block::v1::ReadRequest request;
  request.set_offset_blocks(offset);
  request.set_length_blocks(blocks);
  TRELLIS_ASSIGN_OR_RETURN(auto response, Call(*stub_, &Block::Stub::Read, token_, options_.timeout,
                                               request, "Block.Read"));
  return std::move(*response.mutable_data());
}

Result<void> BlockClient::Write(uint64_t offset, std::string data) {
  block::v1::WriteRequest request;
  request.set_offset_blocks(offset);
  request.set_data(std::move(data));
  TRELLIS_TRY(Call(*stub_, &Block::Stub::Write, token_, options_.timeout, request, "Block.Write"));
  return Ok();
}

Result<void> BlockClient::Flush() {
  TRELLIS_TRY(Call(*stub_, &Block::Stub::Flush, token_, options_.timeout, block::v1::FlushRequest(),
                   "Block.Flush"));
  return Ok();
}

Result<void> BlockClient::ReadRange(const block::v1::BlockInfo& info, uint64_t offset,
                                    uint64_t count, const ReadSink& sink) {
  TRELLIS_TRY(CheckBlockRange(info, offset, count));
  const uint32_t step = BlocksPerTransfer(info);
  for (uint64_t done = 0; done < count;) {
    auto blocks = static_cast<uint32_t>(std::min<uint64_t>(step, count - done));
    TRELLIS_ASSIGN_OR_RETURN(std::string bytes, Read(offset + done, blocks));
    TRELLIS_TRY(sink(bytes));
    done += blocks;
  }
  return Ok();
}

Result<void> BlockClient::WriteRange(const block::v1::BlockInfo& info, uint64_t offset,
                                     uint64_t count, const WriteSource& source) {
  TRELLIS_TRY(CheckBlockRange(info, offset, count));
  const uint32_t step = BlocksPerTransfer(info);
  for (uint64_t done = 0; done < count;) {
    auto blocks = static_cast<uint32_t>(std::min<uint64_t>(step, count - done));
    TRELLIS_TRY(Write(offset + done, source(done * info.block_size(), blocks * info.block_size())));
    done += blocks;
  }
  return Ok();
}

Result<void> BlockClient::RunPipelined(const PipelineOptions& options, const NextRequest& next,
                                       const OnResponse& done) {
  if (options.depth == 0) return Fail(ErrorCode::kInvalidArgument, "a pipeline depth of 0");
  grpc::ClientContext context;
  internal::AddToken(context, token_);
  if (options.timeout.count() > 0) internal::SetTimeout(context, options.timeout);
  auto stream = stub_->Stream(&context);

  std::unordered_map<uint64_t, Clock::time_point> sent;  // In flight, by request_id.
  uint64_t next_id = 0;
  bool more = true;
  bool broken = false;  // The stream failed; Finish says why.
  Result<void> outcome = Ok();
  // Every request that fits goes out in one message, as block.proto allows.
  block::v1::BlockRequestBatch batch;
  uint64_t batch_bytes = 0;
  auto send = [&] {
    bool ok = batch.requests_size() == 0 || stream->Write(batch);
    batch.Clear();
    batch_bytes = 0;
    return ok;
  };
  while (!broken && outcome) {
    while (more && sent.size() < options.depth) {
      std::optional<block::v1::BlockRequest> request = next();
      if (!request) {
        more = false;
        break;
      }
      uint64_t bytes = request->write().data().size();
      if (batch.requests_size() == kMaxRequestsPerMessage ||
          (batch_bytes + bytes > kMaxBlockPayload && batch.requests_size() > 0)) {
        if (!send()) {
          broken = true;
          break;
        }
      }
      request->set_request_id(next_id);
      sent.emplace(next_id++, Clock::now());
      *batch.add_requests() = std::move(*request);
      batch_bytes += bytes;
    }
    if (broken || !send()) {
      broken = true;
      break;
    }
    if (sent.empty()) break;
    block::v1::BlockResponseBatch responses;
    if (!stream->Read(&responses)) {
      broken = true;
      break;
    }
    for (const auto& response : responses.responses()) {
      auto it = sent.find(response.request_id());
      if (it == sent.end()) {
        outcome = Fail(ErrorCode::kInternal, "Block.Stream answered request " +
                                                 std::to_string(response.request_id()) +
                                                 ", which was not in flight");
        context.TryCancel();
        break;
      }
      auto latency = Clock::now() - it->second;
      sent.erase(it);
      done(response, latency);
    }
  }
  if (broken || !outcome) {
    block::v1::BlockResponseBatch unread;
    while (stream->Read(&unread)) {  // Finish wants every message read first.
    }
  } else {
    stream->WritesDone();
  }
  grpc::Status status = stream->Finish();
  if (!outcome) return outcome;
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Block.Stream"));
  if (!sent.empty()) {
    return Fail(ErrorCode::kInternal,
                "Block.Stream ended with " + std::to_string(sent.size()) + " requests unanswered");
  }
  return Ok();
}

}  // namespace trellis::client
