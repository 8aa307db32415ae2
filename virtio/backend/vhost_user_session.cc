// VhostUserSession: request handling. The queue mechanics (start, stop,
// kicks, completions) are in vhost_user_session_queues.cc.
#include "virtio/backend/vhost_user_session.h"

#include <cstring>

#include "virtio/backend/request_channel.h"
#include "virtio/features.h"

namespace trellis::virtio::backend {

using vhost_user::Request;

namespace {


template <typename T>
std::span<const std::byte> Bytes(const T& value) {
  return std::as_bytes(std::span(&value, 1));
}

bool HasOwnReply(Request r) {
  return r == Request::kGetFeatures || r == Request::kGetProtocolFeatures ||
         r == Request::kGetQueueNum || r == Request::kGetVringBase || r == Request::kGetConfig;
}

}  // namespace

uint64_t BackendTransportFeatures() {
  return kFeatureBit(VIRTIO_F_VERSION_1) | kFeatureBit(VIRTIO_F_RING_EVENT_IDX) | kFeatureBit(VIRTIO_F_INDIRECT_DESC) |
         kFeatureBit(vhost_user::kFeatureProtocolFeatures);
}

uint64_t BackendProtocolFeatures() {
  return kFeatureBit(vhost_user::kProtocolFeatureMq) | kFeatureBit(vhost_user::kProtocolFeatureReplyAck) |
         kFeatureBit(vhost_user::kProtocolFeatureConfig);
}

VhostUserSession::VhostUserSession(UniqueFd socket, BackendDevice& device, HostileOptions hostile,
                                   LogFn log, std::string name,
                                   std::chrono::milliseconds io_timeout)
    : socket_(std::move(socket)),
      device_(device),
      hostile_(hostile),
      log_(std::move(log)),
      name_(std::move(name)),
      io_timeout_(io_timeout),
      vrings_(device.num_queues()) {
  stalled_ = hostile_.stall_after == uint64_t{0};
}

VhostUserSession::~VhostUserSession() {
  for (size_t i = 0; i < vrings_.size(); ++i) StopQueue(i);
}

std::unexpected<Error> VhostUserSession::Refuse(const std::string& reason) {
  return Fail(ErrorCode::kAborted, reason);
}

std::optional<std::string> VhostUserSession::OnSocketReadable() {
  auto received = ReceiveRequest(socket_.get(), io_timeout_);
  if (!received) {
    std::string reason = received.error().message();
    Log("bad message: " + reason + "; closing the connection");
    return reason;
  }
  if (!received->has_value()) return std::string("the frontend closed the connection");
  ReceivedRequest& request = **received;
  const std::string name = request.name();
  if (!IsKnownRequest(request.header.request)) {
    if (!request.need_reply()) {
      Log(name + ": unknown request; closing the connection");
      return name + ": unknown request";
    }
    Log(name + ": unknown request; refused");
    uint64_t ack = 1;
    if (auto sent = Reply(request, Bytes(ack)); !sent) return sent.error().message();
    return std::nullopt;
  }
  Result<void> result = Handle(request);
  const bool refused = !result && result.error().code() == ErrorCode::kAborted;
  if (!result && !(refused && request.need_reply())) {
    // Messages already name the request (decoding errors) or not (refusals).
    std::string reason = result.error().message();
    if (reason.rfind(name, 0) != 0) reason = name + ": " + reason;
    Log(reason + "; closing the connection");
    return reason;
  }
  if (refused) Log(name + ": refused: " + result.error().message());
  if (request.need_reply() && !HasOwnReply(request.request())) {
    uint64_t ack = refused ? 1 : 0;
    if (auto sent = Reply(request, Bytes(ack)); !sent) {
      Log(name + ": sending the ack: " + sent.error().message());
      return sent.error().message();
    }
  }
  return std::nullopt;
}

Result<void> VhostUserSession::Reply(const ReceivedRequest& request,
                                     std::span<const std::byte> payload) {
  return SendReply(socket_.get(), EncodeReply(request.header.request, payload), io_timeout_);
}

Result<void> VhostUserSession::Handle(ReceivedRequest& r) {
  TRELLIS_TRY(CheckRequestShape(r));
  switch (r.request()) {
    case Request::kGetFeatures: {
      const uint64_t offered =
          BackendTransportFeatures() | (device_.features() & kDeviceFeatureMask);
      return Reply(r, Bytes(offered));
    }
    case Request::kSetFeatures: {
      TRELLIS_ASSIGN_OR_RETURN(uint64_t features, DecodeU64Request(r));
      const uint64_t offered =
          BackendTransportFeatures() | (device_.features() & kDeviceFeatureMask);
      if ((features & ~offered) != 0) {
        return Refuse("features " + DescribeFeatures(features & ~offered) + " were not offered");
      }
      features_ = features;
      return Ok();
    }
    case Request::kGetProtocolFeatures: {
      const uint64_t offered = BackendProtocolFeatures();
      return Reply(r, Bytes(offered));
    }
    case Request::kSetProtocolFeatures: {
      TRELLIS_ASSIGN_OR_RETURN(uint64_t features, DecodeU64Request(r));
      if ((features & ~BackendProtocolFeatures()) != 0) {
        return Refuse("protocol features " + std::to_string(features) + " were not offered");
      }
      protocol_features_ = features;
      return Ok();
    }
    case Request::kSetOwner:
      return Ok();
    case Request::kResetOwner:
      Reset();
      return Ok();
    case Request::kGetQueueNum: {
      const uint64_t n = vrings_.size();
      return Reply(r, Bytes(n));
    }
    case Request::kSetMemTable:
      return SetMemTable(r);
    case Request::kGetConfig:
      return GetConfig(r);
    case Request::kSetConfig:
      return Refuse("the configuration space is read-only");
    case Request::kSetLogBase:
    case Request::kSetLogFd:
      return Refuse("dirty-page logging is not supported");
    default:
      return HandleVringRequest(r);
  }
}

Result<void> VhostUserSession::HandleVringRequest(ReceivedRequest& r) {
  const size_t n = vrings_.size();
  switch (r.request()) {
    case Request::kSetVringNum: {
      TRELLIS_ASSIGN_OR_RETURN(auto state, DecodeVringStateRequest(r, n));
      if (!IsValidQueueSize(state.num)) {
        return Refuse("queue size " + std::to_string(state.num) + " is not a power of two up to " +
                      std::to_string(kMaxQueueSize));
      }
      vrings_[state.index].num = state.num;
      return Restart(state.index);
    }
    case Request::kSetVringBase: {
      TRELLIS_ASSIGN_OR_RETURN(auto state, DecodeVringStateRequest(r, n));
      if (state.num > 0xffff) return Refuse("base " + std::to_string(state.num) + " above 65535");
      StopQueue(state.index);
      vrings_[state.index].base = static_cast<uint16_t>(state.num);
      return TryStart(state.index);
    }
    case Request::kSetVringAddr: {
      TRELLIS_ASSIGN_OR_RETURN(auto addr, DecodeVringAddrRequest(r, n));
      vrings_[addr.index].addr = addr;
      return Restart(addr.index);
    }
    case Request::kGetVringBase: {
      TRELLIS_ASSIGN_OR_RETURN(auto state, DecodeVringStateRequest(r, n));
      // Stops the ring until a new SET_VRING_KICK.
      StopQueue(state.index);
      Vring& v = vrings_[state.index];
      v.kick.reset();
      vhost_user::VringState reply{.index = state.index, .num = v.base};
      return Reply(r, Bytes(reply));
    }
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kSetVringErr:
      return SetVringFd(r);
    case Request::kSetVringEnable: {
      TRELLIS_ASSIGN_OR_RETURN(auto state, DecodeVringStateRequest(r, n));
      if (state.num > 1) return Refuse("enable value " + std::to_string(state.num));
      vrings_[state.index].enabled = state.num == 1;
      if (state.num == 0) {
        StopQueue(state.index);
        return Ok();
      }
      return TryStart(state.index);  // A no-op if it runs already.
    }
    default:
      return Refuse("not supported");
  }
}

Result<void> VhostUserSession::SetVringFd(ReceivedRequest& r) {
  TRELLIS_ASSIGN_OR_RETURN(VringFd vfd, DecodeVringFdRequest(r, vrings_.size()));
  Vring& v = vrings_[vfd.index];
  switch (r.request()) {
    case Request::kSetVringKick:
      // A running queue keeps going on the new fd (restarting it would drop
      // the chains the device holds). Without an fd we would have to poll
      // the ring, which we do not: the queue stops.
      if (!vfd.fd.valid()) StopQueue(vfd.index);
      v.kick = std::move(vfd.fd);
      if (v.queue) {
        ProcessRing(vfd.index);  // Kicks sent to the old fd are not lost.
        return Ok();
      }
      return TryStart(vfd.index);
    case Request::kSetVringCall:
      v.call = std::move(vfd.fd);
      return Ok();
    default:  // SET_VRING_ERR: we never report ring errors; the fd closes.
      return Ok();
  }
}

Result<void> VhostUserSession::SetMemTable(ReceivedRequest& r) {
  TRELLIS_ASSIGN_OR_RETURN(auto regions, DecodeMemTableRequest(r));
  // Errors mapping are the frontend's (a file too small): not a refusal.
  auto mapped = MappedGuestMemory::Map(std::move(regions));
  if (!mapped) return Fail(ErrorCode::kInvalidArgument, mapped.error().message());
  for (size_t i = 0; i < vrings_.size(); ++i) StopQueue(i);
  memory_ = std::move(*mapped);
  for (size_t i = 0; i < vrings_.size(); ++i) TRELLIS_TRY(TryStart(i));
  return Ok();
}

Result<void> VhostUserSession::GetConfig(const ReceivedRequest& r) {
  TRELLIS_ASSIGN_OR_RETURN(auto header, DecodeGetConfigRequest(r));
  const std::vector<std::byte> config = device_.config();
  if (uint64_t{header.offset} + header.size > config.size()) {
    // An empty reply is how a backend refuses GET_CONFIG.
    Log("GET_CONFIG: " + std::to_string(header.size) + " bytes at offset " +
        std::to_string(header.offset) + " are beyond the " + std::to_string(config.size()) +
        "-byte configuration space; refused");
    return Reply(r, {});
  }
  std::vector<std::byte> payload(sizeof(header) + header.size);
  std::memcpy(payload.data(), &header, sizeof(header));
  std::memcpy(payload.data() + sizeof(header), config.data() + header.offset, header.size);
  return Reply(r, payload);
}

void VhostUserSession::Reset() {
  for (size_t i = 0; i < vrings_.size(); ++i) StopQueue(i);
  const size_t n = vrings_.size();
  vrings_.clear();
  vrings_.resize(n);
  memory_.reset();
  features_ = 0;
}

}  // namespace trellis::virtio::backend
