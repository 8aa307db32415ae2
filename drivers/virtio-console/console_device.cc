#include "drivers/virtio-console/console_device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace trellis::virtio_console {

Result<std::unique_ptr<ConsoleDevice>> ConsoleDevice::Connect(Reactor& reactor,
                                                              UnownedDispatcher dispatcher,
                                                              virtio::VirtioNodeOptions options,
                                                              OnFailure on_failure) {
  std::unique_ptr<ConsoleDevice> console(
      new ConsoleDevice(reactor, std::move(dispatcher), std::move(options), std::move(on_failure)));
  TRELLIS_TRY(console->Start());
  return console;
}

ConsoleDevice::~ConsoleDevice() {
  // Callers waiting here are answered, not forgotten.
  if (reader_) reader_->second(Fail(ErrorCode::kUnavailable, name() + ": the device was closed"));
  for (auto& w : writes_) w.done(Fail(ErrorCode::kUnavailable, name() + ": the device was closed"));
  watchdog_.reset();
  rx_.reset();
  tx_.reset();
  device_.reset();
}

Result<void> ConsoleDevice::Start() {
  TRELLIS_ASSIGN_OR_RETURN(
      device_, vhost_user::VhostUserDevice::Connect(reactor_, dispatcher_,
                                                    {.socket_path = options_.socket,
                                                     .type = virtio::DeviceType::kConsole,
                                                     .timeout = options_.timeout}));
  const uint32_t buffers = std::max<uint32_t>(1, options_.queue_size / 2);
  virtio::BufferQueueOptions rx{.name = device_->name() + " receiveq",
                                .device_writes = true,
                                .buffers = buffers,
                                .buffer_size = kBufferSize};
  virtio::BufferQueueOptions tx{.name = device_->name() + " transmitq",
                                .device_writes = false,
                                .buffers = buffers,
                                .buffer_size = kBufferSize};
  const size_t rx_bytes = virtio::BufferQueue::MemoryFor(rx);
  vhost_user::DevicePlan plan{.queue_sizes = {options_.queue_size, options_.queue_size},
                              .driver_memory = rx_bytes + virtio::BufferQueue::MemoryFor(tx)};
  TRELLIS_TRY(device_->Initialize(
      *this, plan,
      [this](size_t queue) {
        auto& q = queue == kReceiveQueue ? rx_ : tx_;
        if (!q) return;
        q->OnUsed();
        // A ring broken by an entry no buffer was waiting on fails nothing
        // in OnUsed; the device is gone all the same.
        if (device_->queue(queue).broken()) Broke(device_->queue(queue).broken_reason());
      },
      [this](const std::string& reason) { Broke(reason); }));
  virtio::RingMemory memory = device_->driver_memory();
  virtio::RingMemory rx_memory{.host = memory.host.first(rx_bytes),
                               .device_address = memory.device_address};
  virtio::RingMemory tx_memory{.host = memory.host.subspan(rx_bytes),
                               .device_address = memory.device_address + rx_bytes};
  TRELLIS_ASSIGN_OR_RETURN(
      rx_, virtio::BufferQueue::Create(
               std::move(rx), &device_->queue(kReceiveQueue), rx_memory,
               [this] { device_->Kick(kReceiveQueue); },
               [this](size_t id, Result<uint32_t> length) { OnReceived(id, std::move(length)); }));
  TRELLIS_ASSIGN_OR_RETURN(tx_, virtio::BufferQueue::Create(
                                    std::move(tx), &device_->queue(kTransmitQueue), tx_memory,
                                    [this] { device_->Kick(kTransmitQueue); },
                                    [this](size_t id, Result<uint32_t> length) {
                                      OnTransmitted(id, std::move(length));
                                    }));
  tx_owner_.assign(buffers, 0);
  while (auto id = rx_->Acquire()) TRELLIS_TRY(rx_->Post(*id, kBufferSize));
  rx_->Notify();
  watchdog_ = std::make_unique<virtio::StallWatchdog>(
      reactor_, dispatcher_, options_.timeout, [this] { return tx_->oldest_in_device(); },
      [this](const std::string& reason) { Broke(reason); });
  return Ok();
}

// ---- Receive ----

void ConsoleDevice::OnReceived(size_t id, Result<uint32_t> length) {
  if (!length) {
    rx_->Release(id);
    Broke(length.error().message());
    return;
  }
  if (*length == 0) {  // Nothing in it: give it straight back.
    if (auto posted = rx_->Post(id, kBufferSize); !posted) Broke(posted.error().message());
    return;
  }
  input_.push_back({.id = id, .offset = 0, .length = *length});
  ServeRead();
}

void ConsoleDevice::Read(size_t max, ConsoleReadDone done) {
  if (failed_) {
    done(FailErrno(EIO, name() + ": " + *failed_));
    return;
  }
  if (reader_) {
    done(Fail(ErrorCode::kFailedPrecondition, name() + ": a Read is already pending"));
    return;
  }
  if (max == 0) {
    done(Fail(ErrorCode::kInvalidArgument, name() + ": a Read of 0 bytes"));
    return;
  }
  reader_.emplace(max, std::move(done));
  ServeRead();
}

void ConsoleDevice::CancelRead() {
  if (!reader_) return;
  ConsoleReadDone done = std::move(reader_->second);
  reader_.reset();
  done(Fail(ErrorCode::kCancelled, name() + ": Read cancelled"));
}

void ConsoleDevice::ServeRead() {
  if (!reader_ || input_.empty()) return;
  const size_t max = reader_->first;
  std::vector<std::byte> out;
  bool reposted = false;
  while (!input_.empty() && out.size() < max) {
    Input& in = input_.front();
    auto bytes = rx_->buffer(in.id).subspan(in.offset, in.length - in.offset);
    size_t take = std::min(bytes.size(), max - out.size());
    out.insert(out.end(), bytes.begin(), bytes.begin() + take);
    in.offset += static_cast<uint32_t>(take);
    if (in.offset < in.length) break;
    size_t id = in.id;
    input_.pop_front();
    if (auto posted = rx_->Post(id, kBufferSize); posted) reposted = true;
  }
  if (reposted) rx_->Notify();
  ConsoleReadDone done = std::move(reader_->second);
  reader_.reset();
  done(std::move(out));
}

// ---- Transmit ----

void ConsoleDevice::Write(std::vector<std::byte> data, ConsoleWriteDone done) {
  if (failed_) {
    done(FailErrno(EIO, name() + ": " + *failed_));
    return;
  }
  writes_.push_back({.seq = next_seq_++, .data = std::move(data), .done = std::move(done)});
  PumpWrites();
}

void ConsoleDevice::PumpWrites() {
  bool posted = false;
  for (PendingWrite& w : writes_) {
    while (w.sent < w.data.size()) {
      auto id = tx_->Acquire();
      if (!id) break;
      auto n = static_cast<uint32_t>(std::min<size_t>(kBufferSize, w.data.size() - w.sent));
      std::memcpy(tx_->buffer(*id).data(), w.data.data() + w.sent, n);
      if (auto ok = tx_->Post(*id, n); !ok) {
        Broke(ok.error().message());
        return;
      }
      tx_owner_[*id] = w.seq;
      w.sent += n;
      ++w.in_device;
      posted = true;
    }
    if (w.sent < w.data.size()) break;  // Out of buffers: later writes wait their turn.
  }
  if (posted) tx_->Notify();
}

void ConsoleDevice::OnTransmitted(size_t id, Result<uint32_t> length) {
  tx_->Release(id);
  if (!length) {
    Broke(length.error().message());
    return;
  }
  if (writes_.empty()) return;  // Failed meanwhile.
  uint64_t index = tx_owner_[id] - writes_.front().seq;
  if (index < writes_.size()) --writes_[index].in_device;
  while (!writes_.empty() && writes_.front().sent == writes_.front().data.size() &&
         writes_.front().in_device == 0) {
    ConsoleWriteDone done = std::move(writes_.front().done);
    writes_.pop_front();
    done(Ok());
  }
  PumpWrites();
}

// ---- Failure and power ----

void ConsoleDevice::Broke(const std::string& reason) {
  if (failed_) return;
  failed_ = reason;
  if (rx_) rx_->Abort(reason);
  if (tx_) tx_->Abort(reason);
  auto error = [&] { return FailErrno(EIO, name() + ": " + reason); };
  if (reader_) {
    ConsoleReadDone done = std::move(reader_->second);
    reader_.reset();
    done(error());
  }
  std::deque<PendingWrite> writes = std::move(writes_);
  writes_.clear();
  for (auto& w : writes) w.done(error());
  if (on_failure_) on_failure_(reason);
}

void ConsoleDevice::Unquiesce() {
  tx_->Unquiesce();
  PumpWrites();
}

}  // namespace trellis::virtio_console
