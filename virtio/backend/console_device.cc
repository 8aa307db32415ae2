#include "virtio/backend/console_device.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "virtio/console_layout.h"

namespace trellis::virtio::backend {

namespace {

// Bytes asked of the input fd per read.
constexpr size_t kReadChunk = 16 * 1024;

// Writes all of `bytes` to `fd`, waiting if it is non-blocking and full.
bool WriteAll(int fd, std::span<const std::byte> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return false;
    pollfd p{fd, POLLOUT, 0};
    (void)::poll(&p, 1, -1);
  }
  return true;
}

}  // namespace

uint64_t ConsoleDevice::features() const { return uint64_t{1} << console::VIRTIO_CONSOLE_F_SIZE; }

std::vector<std::byte> ConsoleDevice::config() const {
  console::Config config{
      .cols = options_.cols, .rows = options_.rows, .max_nr_ports = 1, .emerg_wr = 0};
  std::vector<std::byte> out(sizeof(config));
  std::memcpy(out.data(), &config, sizeof(config));
  return out;
}

size_t ConsoleDevice::num_queues() const { return console::kNumQueues; }

void ConsoleDevice::OnChain(DeviceContext& context, size_t queue, const DeviceChain& chain) {
  if (queue == console::kTransmitQueue) {
    Transmit(chain);
    context.Complete(queue, chain.head, 0);
    return;
  }
  rx_chains_.push_back(chain);  // A copy: the caller reuses `chain`.
  Deliver(context);
}

void ConsoleDevice::OnQueueStopped(size_t queue) {
  if (queue == console::kReceiveQueue) rx_chains_.clear();
}

int ConsoleDevice::input_fd() const {
  if (input_done_ || options_.input_fd < 0 || buffered() >= options_.buffer_limit) return -1;
  return options_.input_fd;
}

void ConsoleDevice::OnInputReady(DeviceContext& context) {
  const size_t space = options_.buffer_limit - std::min(buffered(), options_.buffer_limit);
  if (space > 0 && !input_done_) {
    if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(consumed_));
      consumed_ = 0;
    }
    const size_t want = std::min(space, kReadChunk);
    const size_t at = buffer_.size();
    buffer_.resize(at + want);
    ssize_t n = ::read(options_.input_fd, buffer_.data() + at, want);
    buffer_.resize(at + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) input_done_ = true;
  }
  Deliver(context);
}

void ConsoleDevice::Transmit(const DeviceChain& chain) {
  if (options_.output_fd < 0 || output_failed_) return;
  for (std::span<const std::byte> buffer : chain.readable) {
    if (!WriteAll(options_.output_fd, buffer)) {
      output_failed_ = true;  // Discard from now on, as with no output.
      return;
    }
  }
}

void ConsoleDevice::Deliver(DeviceContext& context) {
  while (!rx_chains_.empty() && buffered() > 0) {
    // Out of the list first: completing may stop the queue, which clears it.
    DeviceChain chain = std::move(rx_chains_.front());
    rx_chains_.pop_front();
    uint64_t written = 0;
    for (std::span<std::byte> buffer : chain.writable) {
      const size_t n = std::min(buffer.size(), buffered());
      std::memcpy(buffer.data(), buffer_.data() + consumed_, n);
      consumed_ += n;
      written += n;
      if (buffered() == 0) break;
    }
    context.Complete(console::kReceiveQueue, chain.head, static_cast<uint32_t>(written));
  }
  if (buffered() == 0) {
    buffer_.clear();
    consumed_ = 0;
  }
}

}  // namespace trellis::virtio::backend
