#include "virtio/vhost_user/frontend.h"

#include <array>

#include "virtio/vhost_user/internal/format.h"

namespace trellis::vhost_user {

using internal::Format;

namespace {

bool Has(uint64_t features, unsigned bit) { return (features >> bit) & 1; }

}  // namespace

Result<VhostUserFrontend> VhostUserFrontend::Connect(const std::string& path,
                                                     FrontendOptions options) {
  TRELLIS_ASSIGN_OR_RETURN(Connection connection,
                           Connection::Connect(path, Clock::now() + options.timeout));
  return VhostUserFrontend(std::move(connection), options);
}

Error VhostUserFrontend::WithBackend(Error error) const {
  return std::move(error).WithContext("vhost-user backend " + path());
}

Result<std::vector<std::byte>> VhostUserFrontend::Exchange(Request request,
                                                           std::span<const std::byte> payload,
                                                           std::span<const int> fds,
                                                           bool need_reply,
                                                           std::optional<uint32_t> reply_size) {
  if (broken_) {
    return Fail(ErrorCode::kFailedPrecondition,
                Format("vhost-user backend {}: connection unusable after an earlier error "
                       "({}); {} not sent",
                       path(), broken_->ToString(), RequestName(request)));
  }
  std::string name = RequestName(request);
  Deadline deadline = Clock::now() + options_.timeout;
  // Any failure from here on leaves the byte stream out of step.
  auto broken = [&](Error error) {
    if (error.code() == ErrorCode::kDeadlineExceeded) {
      error = Error(error.code(),
                    Format("{} (timeout {} ms)", error.message(), options_.timeout.count()));
    }
    error = WithBackend(std::move(error));
    broken_ = error;
    return std::unexpected(std::move(error));
  };
  std::vector<std::byte> message = EncodeRequest(request, payload, need_reply);
  if (auto sent = connection_.Send(message, fds, name, deadline); !sent) {
    return broken(std::move(sent).error());
  }
  if (!reply_size) return std::vector<std::byte>{};

  std::array<std::byte, kHeaderSize> header_bytes;
  if (auto got = connection_.Receive(header_bytes, name, deadline); !got) {
    return broken(std::move(got).error());
  }
  Header header = DecodeHeader(header_bytes);
  // libvhost-user answers a GET_CONFIG it cannot serve with an empty reply:
  // a refusal, and the stream is still in step.
  if (request == Request::kGetConfig && header.size == 0 && CheckReply(header, request, 0)) {
    return Fail(WithBackend(Error(ErrorCode::kAborted, "backend refused GET_CONFIG")));
  }
  if (auto ok = CheckReply(header, request, *reply_size); !ok) {
    return broken(std::move(ok).error());
  }
  std::vector<std::byte> reply(*reply_size);
  if (auto got = connection_.Receive(reply, name, deadline); !got) {
    return broken(std::move(got).error());
  }
  return reply;
}

Result<std::vector<std::byte>> VhostUserFrontend::Call(Request request,
                                                       std::span<const std::byte> payload,
                                                       std::span<const int> fds,
                                                       uint32_t reply_size) {
  return Exchange(request, payload, fds, /*need_reply=*/false, reply_size);
}

Result<void> VhostUserFrontend::CallSet(Request request, std::span<const std::byte> payload,
                                        std::span<const int> fds) {
  if (!reply_ack_) {
    TRELLIS_TRY(Exchange(request, payload, fds, /*need_reply=*/false, std::nullopt));
    return Ok();
  }
  TRELLIS_ASSIGN_OR_RETURN(auto reply,
                           Exchange(request, payload, fds, /*need_reply=*/true, sizeof(uint64_t)));
  TRELLIS_ASSIGN_OR_RETURN(uint64_t ack, DecodeU64(request, reply));
  if (ack != 0) {
    return Fail(WithBackend(Error(
        ErrorCode::kAborted, Format("backend refused {} (ack {})", RequestName(request), ack))));
  }
  return Ok();
}

Result<uint64_t> VhostUserFrontend::GetFeatures() {
  TRELLIS_ASSIGN_OR_RETURN(auto reply, Call(Request::kGetFeatures, {}, {}, sizeof(uint64_t)));
  return DecodeU64(Request::kGetFeatures, reply);
}

Result<void> VhostUserFrontend::SetFeatures(uint64_t features) {
  return CallSet(Request::kSetFeatures, EncodeU64(features));
}

Result<uint64_t> VhostUserFrontend::GetProtocolFeatures() {
  TRELLIS_ASSIGN_OR_RETURN(auto reply,
                           Call(Request::kGetProtocolFeatures, {}, {}, sizeof(uint64_t)));
  return DecodeU64(Request::kGetProtocolFeatures, reply);
}

Result<void> VhostUserFrontend::SetProtocolFeatures(uint64_t features) {
  // Not acknowledged itself: REPLY_ACK is in force only once this is sent.
  TRELLIS_TRY(CallSet(Request::kSetProtocolFeatures, EncodeU64(features)));
  protocol_features_ = features;
  reply_ack_ = Has(features, kProtocolFeatureReplyAck);
  return Ok();
}

Result<void> VhostUserFrontend::SetOwner() { return CallSet(Request::kSetOwner, {}); }

Result<uint64_t> VhostUserFrontend::GetQueueNum() {
  if (!Has(protocol_features_, kProtocolFeatureMq)) {
    return Fail(WithBackend(Error(ErrorCode::kFailedPrecondition,
                                  "GET_QUEUE_NUM needs protocol feature MQ negotiated")));
  }
  TRELLIS_ASSIGN_OR_RETURN(auto reply, Call(Request::kGetQueueNum, {}, {}, sizeof(uint64_t)));
  return DecodeU64(Request::kGetQueueNum, reply);
}

Result<std::vector<std::byte>> VhostUserFrontend::GetConfig(uint32_t offset, uint32_t size) {
  if (!Has(protocol_features_, kProtocolFeatureConfig)) {
    return Fail(WithBackend(Error(ErrorCode::kFailedPrecondition,
                                  "GET_CONFIG needs protocol feature CONFIG negotiated")));
  }
  uint64_t end = uint64_t{offset} + size;
  if (size == 0 || end > kMaxConfigSize) {
    return Fail(ErrorCode::kInvalidArgument,
                Format("GET_CONFIG of {} bytes at offset {}: must be 1 to {} bytes within "
                       "the first {}",
                       size, offset, kMaxConfigSize, kMaxConfigSize));
  }
  auto whole = static_cast<uint32_t>(end);
  TRELLIS_ASSIGN_OR_RETURN(auto request, EncodeConfigRequest(0, whole));
  TRELLIS_ASSIGN_OR_RETURN(auto reply, Call(Request::kGetConfig, request, {},
                                            static_cast<uint32_t>(sizeof(ConfigHeader) + whole)));
  auto config = DecodeConfigReply(reply, 0, whole);
  if (!config) return Fail(WithBackend(std::move(config).error()));
  return std::vector<std::byte>(config->begin() + offset, config->end());
}

Result<void> VhostUserFrontend::SetMemTable(std::span<const MemoryRegion> regions) {
  TRELLIS_ASSIGN_OR_RETURN(auto payload, EncodeMemTable(regions));
  std::vector<int> fds;
  for (const MemoryRegion& r : regions) {
    if (r.fd < 0 || r.memory_size == 0) {
      return Fail(
          ErrorCode::kInvalidArgument,
          Format("SET_MEM_TABLE region at {:#x} needs an fd and a size", r.guest_phys_addr));
    }
    fds.push_back(r.fd);
  }
  return CallSet(Request::kSetMemTable, payload, fds);
}

Result<void> VhostUserFrontend::SetVringNum(uint32_t index, uint32_t num) {
  return CallSet(Request::kSetVringNum, EncodeVringState({index, num}));
}

Result<void> VhostUserFrontend::SetVringBase(uint32_t index, uint32_t base) {
  return CallSet(Request::kSetVringBase, EncodeVringState({index, base}));
}

Result<void> VhostUserFrontend::SetVringAddr(const VringAddr& addr) {
  return CallSet(Request::kSetVringAddr, EncodeVringAddr(addr));
}

Result<void> VhostUserFrontend::SetVringFd(Request request, uint32_t index, int fd) {
  if (index > kVringIndexMask) {
    return Fail(ErrorCode::kInvalidArgument, Format("{}: queue index {} does not fit the low byte",
                                                    RequestName(request), index));
  }
  uint64_t value = index | (fd < 0 ? kVringNoFd : 0);
  if (fd < 0) return CallSet(request, EncodeU64(value));
  int fds[] = {fd};
  return CallSet(request, EncodeU64(value), fds);
}

Result<void> VhostUserFrontend::SetVringKick(uint32_t index, int fd) {
  return SetVringFd(Request::kSetVringKick, index, fd);
}

Result<void> VhostUserFrontend::SetVringCall(uint32_t index, int fd) {
  return SetVringFd(Request::kSetVringCall, index, fd);
}

Result<void> VhostUserFrontend::SetVringEnable(uint32_t index, bool enable) {
  return CallSet(Request::kSetVringEnable, EncodeVringState({index, enable ? 1u : 0u}));
}

Result<uint32_t> VhostUserFrontend::GetVringBase(uint32_t index) {
  TRELLIS_ASSIGN_OR_RETURN(auto reply, Call(Request::kGetVringBase, EncodeVringState({index, 0}),
                                            {}, sizeof(VringState)));
  TRELLIS_ASSIGN_OR_RETURN(VringState state, DecodeVringState(Request::kGetVringBase, reply));
  if (state.index != index) {
    return Fail(WithBackend(
        Error(ErrorCode::kInternal,
              Format("GET_VRING_BASE reply is for queue {}, asked {}", state.index, index))));
  }
  return state.num;
}

}  // namespace trellis::vhost_user
