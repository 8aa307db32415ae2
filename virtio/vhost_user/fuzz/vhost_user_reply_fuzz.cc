// Fuzz target for vhost-user reply decoding: what a hostile backend can send.
//
// The input: a request selector (below 0xf0 picks a known request, else a
// raw 32-bit number follows), the 12 header bytes of the reply, a GET_CONFIG
// offset (32 bits) and size (16 bits), then the reply payload. The target
// decodes the header, checks it against the request as VhostUserFrontend
// does, and decodes the payload with every decoder; it also round-trips the
// encoders on input-chosen values. See make_seeds.py.
//
// Checked on every input: no crash, no out-of-bounds access (ASan+UBSan);
// CheckReply and the decoders accept exactly what message.h documents and
// return the bytes that were sent; every error is kInternal and names the
// request; what the encoders write the decoders read back.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "virtio/vhost_user/message.h"

namespace trellis::vhost_user {
namespace {

[[noreturn]] void Violated(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant violated: %s %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) Violated(what, detail);
}

constexpr Request kRequests[] = {
    Request::kGetFeatures,
    Request::kSetFeatures,
    Request::kSetOwner,
    Request::kResetOwner,
    Request::kSetMemTable,
    Request::kSetLogBase,
    Request::kSetLogFd,
    Request::kSetVringNum,
    Request::kSetVringAddr,
    Request::kSetVringBase,
    Request::kGetVringBase,
    Request::kSetVringKick,
    Request::kSetVringCall,
    Request::kSetVringErr,
    Request::kGetProtocolFeatures,
    Request::kSetProtocolFeatures,
    Request::kGetQueueNum,
    Request::kSetVringEnable,
    Request::kGetConfig,
    Request::kSetConfig,
};

// Reads the input front to back; zeros once it runs out.
class Input {
 public:
  explicit Input(std::span<const std::byte> data) : data_(data) {}
  uint8_t U8() { return pos_ < data_.size() ? static_cast<uint8_t>(data_[pos_++]) : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint32_t U32() { return U16() | (uint32_t{U16()} << 16); }
  std::array<std::byte, kHeaderSize> HeaderBytes() {
    std::array<std::byte, kHeaderSize> out;
    for (std::byte& b : out) b = std::byte{U8()};
    return out;
  }
  std::span<const std::byte> Rest() { return data_.subspan(std::min(pos_, data_.size())); }

 private:
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

template <typename T>
T Load(std::span<const std::byte> bytes) {
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

void CheckError(const Error& error, uint32_t request) {
  Check(error.code() == ErrorCode::kInternal, "decoding errors are kInternal", error.ToString());
  Check(error.message().find(RequestName(request)) != std::string::npos,
        "the error names the request", error.message());
}

void Run(Input& in) {
  const uint8_t pick = in.U8();
  const uint32_t raw =
      pick < 0xf0 ? static_cast<uint32_t>(kRequests[pick % std::size(kRequests)]) : in.U32();
  const auto request = static_cast<Request>(raw);
  const auto header_bytes = in.HeaderBytes();
  const uint32_t config_offset = in.U32();
  const uint32_t config_size = in.U16() % (kMaxConfigSize + 16);
  const std::span<const std::byte> payload = in.Rest();

  const std::string name = RequestName(raw);
  Check(!name.empty(), "every request has a name");

  // The header, as Exchange checks it.
  const Header header = DecodeHeader(header_bytes);
  const auto raw_header = Load<Header>(header_bytes);
  Check(header.request == raw_header.request && header.flags == raw_header.flags &&
            header.size == raw_header.size,
        "DecodeHeader reads the wire fields");
  const uint32_t expected_size = request == Request::kGetConfig
                                     ? static_cast<uint32_t>(sizeof(ConfigHeader)) + config_size
                                     : static_cast<uint32_t>(sizeof(uint64_t));
  const auto checked = CheckReply(header, request, expected_size);
  const bool valid = (header.flags & kVersionMask) == kVersion && (header.flags & kFlagReply) &&
                     header.request == raw && header.size == expected_size;
  Check(checked.has_value() == valid, "CheckReply accepts exactly a matching reply");
  if (!checked) CheckError(checked.error(), raw);

  // Each decoder on the payload, whatever the header said.
  auto u64 = DecodeU64(request, payload);
  Check(u64.has_value() == (payload.size() == 8), "DecodeU64 wants exactly 8 bytes");
  if (u64) {
    Check(*u64 == Load<uint64_t>(payload), "DecodeU64 value");
  } else {
    CheckError(u64.error(), raw);
  }
  auto state = DecodeVringState(request, payload);
  Check(state.has_value() == (payload.size() == 8), "DecodeVringState wants exactly 8 bytes");
  if (state) {
    const auto expected = Load<VringState>(payload);
    Check(state->index == expected.index && state->num == expected.num, "DecodeVringState value");
  } else {
    CheckError(state.error(), raw);
  }
  auto config = DecodeConfigReply(payload, config_offset, config_size);
  const bool config_valid = payload.size() == sizeof(ConfigHeader) + config_size &&
                            Load<ConfigHeader>(payload).offset == config_offset &&
                            Load<ConfigHeader>(payload).size == config_size;
  Check(config.has_value() == config_valid, "DecodeConfigReply accepts exactly an echo");
  if (config) {
    Check(config->size() == config_size &&
              std::equal(config->begin(), config->end(), payload.begin() + sizeof(ConfigHeader)),
          "DecodeConfigReply returns the config bytes");
  } else {
    CheckError(config.error(), static_cast<uint32_t>(Request::kGetConfig));
  }

  // The encoders, read back by the decoders.
  const bool need_reply = header.flags & kFlagNeedReply;
  const auto message = EncodeRequest(request, payload, need_reply);
  Check(message.size() == kHeaderSize + payload.size(), "EncodeRequest size");
  const Header sent =
      DecodeHeader(std::span<const std::byte, kHeaderSize>(message.data(), kHeaderSize));
  Check(sent.request == raw && sent.size == payload.size() &&
            sent.flags == (kVersion | (need_reply ? kFlagNeedReply : 0)),
        "EncodeRequest header");
  Check(std::equal(payload.begin(), payload.end(), message.begin() + kHeaderSize),
        "EncodeRequest payload");
  auto config_request = EncodeConfigRequest(config_offset, config_size);
  Check(config_request.has_value() == (config_size >= 1 && config_size <= kMaxConfigSize),
        "EncodeConfigRequest size rule");
  if (config_request) {
    auto echoed = DecodeConfigReply(*config_request, config_offset, config_size);
    Check(echoed.has_value() && echoed->size() == config_size, "a GET_CONFIG request echoes");
  }
  const VringState vring{.index = header.request, .num = header.size};
  auto vring_back = DecodeVringState(Request::kGetVringBase, EncodeVringState(vring));
  Check(vring_back && vring_back->index == vring.index && vring_back->num == vring.num,
        "VringState round trip");
  std::vector<MemoryRegion> regions(config_size % (kMaxMemoryRegions + 2));
  auto table = EncodeMemTable(regions);
  Check(table.has_value() == (!regions.empty() && regions.size() <= kMaxMemoryRegions),
        "EncodeMemTable region count rule");
  if (table) Check(table->size() == 8 + regions.size() * kMemoryRegionWireSize, "mem table size");
}

}  // namespace
}  // namespace trellis::vhost_user

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trellis::vhost_user::Input in(std::span(reinterpret_cast<const std::byte*>(data), size));
  trellis::vhost_user::Run(in);
  return 0;
}
