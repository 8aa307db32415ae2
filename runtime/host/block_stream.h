// Block.Stream on the host: a bidirectional stream of request batches and
// completion batches (see block.proto), for a driver serving BlockProtocol.
//
// Each message's requests run on the serving driver's dispatcher in one
// visit (inline on the gRPC thread when the dispatcher is idle). They
// complete on whatever thread the driver completes them on (uring-block:
// the reactor thread, inline). The first completion to find no write in
// flight starts one; every completion that arrives while a write is in
// flight goes out together in the next message. A deep queue so costs one
// gRPC write per batch, not per request, and no completion waits for a
// batch to fill.
//
// Flow control: once kMaxStreamInFlight requests are in the driver the
// stream stops reading (gRPC's flow control then pushes back on the
// client) until completions bring it below, so at most one message more
// than that is in the driver. While the driver is suspended, requests wait
// and run after resume. A request whose driver stops before it runs fails
// with UNAVAILABLE; every request gets its response.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>

#include "runtime/host/host_registry.h"
#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis::host {

// Requests a stream keeps in the driver before it stops reading; also the
// most one message may carry.
inline constexpr size_t kMaxStreamInFlight = 256;

using BlockStreamReactor =
    grpc::ServerBidiReactor<block::v1::BlockRequestBatch, block::v1::BlockResponseBatch>;

// Authorizes the call's token for Block and starts the stream, or returns
// a reactor that only finishes the call with the token's error.
BlockStreamReactor* StartBlockStream(const HostRegistry& registry,
                                     grpc::CallbackServerContext* context);

}  // namespace trellis::host
