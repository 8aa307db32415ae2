// The console device end to end, in-process: the real frontend and
// SplitQueues against our backend, with a pipe as input and a file as output.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "virtio/backend/console_device.h"
#include "virtio/backend/testing/backend_process.h"
#include "virtio/backend/testing/backend_thread.h"
#include "virtio/backend/testing/test_driver.h"
#include "virtio/console_layout.h"

namespace trellis::virtio::backend {
namespace {

using namespace std::chrono_literals;
using testing::BackendThread;
using testing::TestDriver;

constexpr size_t kRx = console::kReceiveQueue;
constexpr size_t kTx = console::kTransmitQueue;

std::byte Pattern(size_t i) { return static_cast<std::byte>((i * 31 + i / 251) & 0xff); }

class ConsoleBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    input_read_ = p[0];
    input_write_ = p[1];
    char name[] = "/tmp/trellis-console-out-XXXXXX";
    output_ = ::mkostemp(name, O_CLOEXEC);
    ASSERT_GE(output_, 0);
    ::unlink(name);
  }
  void TearDown() override {
    driver_.reset();
    backend_.reset();
    for (int fd : {input_read_, input_write_, output_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  void StartBackend(size_t buffer_limit = 64 * 1024) {
    auto backend = BackendThread::Start(std::make_unique<ConsoleDevice>(ConsoleOptions{
        .input_fd = input_read_, .output_fd = output_, .buffer_limit = buffer_limit}));
    ASSERT_TRUE(backend) << backend.error().ToString();
    backend_ = std::move(*backend);
  }
  void ConnectDriver() {
    auto driver = TestDriver::Connect(
        {.socket_path = backend_->socket_path(), .num_queues = console::kNumQueues});
    ASSERT_TRUE(driver) << driver.error().ToString();
    driver_ = std::move(*driver);
  }

  // Posts `count` receive buffers of `size` bytes; returns them in order.
  std::vector<std::span<std::byte>> PostReceive(size_t count, size_t size) {
    std::vector<std::span<std::byte>> buffers;
    for (size_t i = 0; i < count; ++i) {
      auto buffer = driver_->Allocate(size);
      EXPECT_TRUE(buffer) << buffer.error().ToString();
      if (!buffer) return buffers;
      Buffer in{TestDriver::Address(*buffer), static_cast<uint32_t>(size)};
      EXPECT_TRUE(driver_->queue(kRx).Add({}, std::span(&in, 1), buffer->data()));
      buffers.push_back(*buffer);
    }
    driver_->Kick(kRx);
    return buffers;
  }

  // Collects `total` received bytes, reposting each completed buffer.
  std::vector<std::byte> Receive(size_t total, std::chrono::milliseconds timeout) {
    std::vector<std::byte> got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < total && std::chrono::steady_clock::now() < deadline) {
      for (auto& c : driver_->WaitCompletions(kRx, 1, 100ms)) {
        EXPECT_TRUE(c.written) << c.written.error().ToString();
        if (!c.written) return got;
        auto* data = static_cast<std::byte*>(c.token);
        got.insert(got.end(), data, data + *c.written);
        Buffer in{TestDriver::Address(std::span(data, 1)), kRxBuffer};
        EXPECT_TRUE(driver_->queue(kRx).Add({}, std::span(&in, 1), data));
        driver_->Kick(kRx);
      }
    }
    return got;
  }

  static constexpr uint32_t kRxBuffer = 512;
  int input_read_ = -1;
  int input_write_ = -1;
  int output_ = -1;
  std::unique_ptr<BackendThread> backend_;
  std::unique_ptr<TestDriver> driver_;
};

TEST_F(ConsoleBackendTest, OffersSizeWithColsAndRows) {
  StartBackend();
  ConnectDriver();
  EXPECT_TRUE(driver_->features() & (uint64_t{1} << console::VIRTIO_CONSOLE_F_SIZE));
  EXPECT_FALSE(driver_->features() & (uint64_t{1} << console::VIRTIO_CONSOLE_F_MULTIPORT));
  auto config = driver_->frontend().GetConfig(0, sizeof(console::Config));
  ASSERT_TRUE(config) << config.error().ToString();
  console::Config c;
  std::memcpy(&c, config->data(), sizeof(c));
  EXPECT_EQ(c.cols, 80);
  EXPECT_EQ(c.rows, 25);
  auto rows = driver_->frontend().GetConfig(console::kConfigRowsOffset, 2);
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(std::to_integer<int>((*rows)[0]), 25);
}

TEST_F(ConsoleBackendTest, TransmittedBytesReachTheOutputInOrder) {
  StartBackend();
  ConnectDriver();
  constexpr size_t kTotal = 64 * 1024;
  constexpr size_t kChunk = 256;
  auto area = driver_->Allocate(kTotal);
  ASSERT_TRUE(area);
  for (size_t i = 0; i < kTotal; ++i) (*area)[i] = Pattern(i);
  size_t sent = 0, completed = 0;
  while (completed < kTotal / kChunk) {
    while (sent < kTotal / kChunk && driver_->queue(kTx).num_free() > 0) {
      Buffer out{TestDriver::Address(area->subspan(sent * kChunk, kChunk)), kChunk};
      ASSERT_TRUE(driver_->queue(kTx).Add(std::span(&out, 1), {}, nullptr));
      ++sent;
    }
    driver_->Kick(kTx);
    auto done = driver_->WaitCompletions(kTx, 1, 5s);
    ASSERT_FALSE(done.empty()) << "no transmit completion; " << backend_->Log();
    for (auto& c : done) {
      ASSERT_TRUE(c.written) << c.written.error().ToString();
      EXPECT_EQ(*c.written, 0u);
    }
    completed += done.size();
  }
  // Every chain was written before it completed.
  std::vector<std::byte> out(kTotal + 1);
  ASSERT_EQ(::pread(output_, out.data(), out.size(), 0), static_cast<ssize_t>(kTotal));
  for (size_t i = 0; i < kTotal; ++i) ASSERT_EQ(out[i], Pattern(i)) << "byte " << i;
}

TEST_F(ConsoleBackendTest, InputArrivesInOrderIncludingBeforeAnyBuffer) {
  StartBackend();
  const std::string early = "typed before the driver came";
  ASSERT_EQ(::write(input_write_, early.data(), early.size()), ssize_t(early.size()));
  ConnectDriver();
  PostReceive(4, kRxBuffer);
  std::vector<std::byte> got = Receive(early.size(), 5s);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), early);
  const std::string late = "and after";
  ASSERT_EQ(::write(input_write_, late.data(), late.size()), ssize_t(late.size()));
  got = Receive(late.size(), 5s);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), late);
}

TEST_F(ConsoleBackendTest, BackpressureStopsReadingAndLosesNothing) {
  constexpr size_t kLimit = 8 * 1024;
  StartBackend(kLimit);
  ConnectDriver();
  ASSERT_EQ(::fcntl(input_write_, F_SETFL, O_NONBLOCK), 0);
  const int pipe_size = ::fcntl(input_write_, F_GETPIPE_SZ);
  ASSERT_GT(pipe_size, 0);
  // No receive buffer is posted: the device buffers kLimit bytes, stops
  // reading, and the pipe fills behind it until writes would block.
  size_t written = 0;
  std::vector<std::byte> chunk(1024);
  for (;;) {
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = Pattern(written + i);
    ssize_t n = ::write(input_write_, chunk.data(), chunk.size());
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    ASSERT_EQ(errno, EAGAIN);
    pollfd p{input_write_, POLLOUT, 0};
    // The device drains at most kLimit more; then the pipe stays full.
    if (::poll(&p, 1, 300) == 0) break;
    ASSERT_LE(written, size_t(pipe_size) + kLimit) << "the device kept reading";
  }
  EXPECT_GE(written, size_t(pipe_size));
  EXPECT_LE(written, size_t(pipe_size) + kLimit);
  // Now the driver takes it all, in order.
  PostReceive(8, kRxBuffer);
  std::vector<std::byte> got = Receive(written, 10s);
  ASSERT_EQ(got.size(), written) << backend_->Log();
  for (size_t i = 0; i < written; ++i) ASSERT_EQ(got[i], Pattern(i)) << "byte " << i;
}

TEST(ConsoleBackendProcessTest, ExecutableReadsInputFileAndWritesOutputFile) {
  if (!testing::BackendProcess::Available()) GTEST_SKIP() << testing::BackendProcess::kMissing;
  char dir[] = "/tmp/trellis-console-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string input = std::string(dir) + "/in", output = std::string(dir) + "/out";
  const std::string typed = "hello from a file";
  {
    int fd = ::open(input.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, typed.data(), typed.size()), ssize_t(typed.size()));
    ::close(fd);
  }
  auto process = testing::BackendProcess::Start(
      {.device = "console", .args = {"--input", input, "--output", output}});
  ASSERT_TRUE(process) << process.error().ToString();
  auto driver = TestDriver::Connect(
      {.socket_path = (*process)->socket_path(), .num_queues = console::kNumQueues});
  ASSERT_TRUE(driver) << driver.error().ToString();
  TestDriver& d = **driver;
  auto rx = d.Allocate(256);
  auto tx = d.Allocate(5);
  ASSERT_TRUE(rx && tx);
  Buffer in{TestDriver::Address(*rx), 256};
  ASSERT_TRUE(d.queue(kRx).Add({}, std::span(&in, 1), nullptr));
  d.Kick(kRx);
  auto received = d.WaitCompletions(kRx, 1, 5s);
  ASSERT_EQ(received.size(), 1u) << (*process)->Log();
  ASSERT_TRUE(received[0].written);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rx->data()), *received[0].written), typed);
  std::memcpy(tx->data(), "world", 5);
  Buffer out{TestDriver::Address(*tx), 5};
  ASSERT_TRUE(d.queue(kTx).Add(std::span(&out, 1), {}, nullptr));
  d.Kick(kTx);
  ASSERT_EQ(d.WaitCompletions(kTx, 1, 5s).size(), 1u);
  char written[16] = {};
  int fd = ::open(output.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::read(fd, written, sizeof(written)), 5);
  ::close(fd);
  EXPECT_EQ(std::string(written), "world");
  driver->reset();
  process->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace trellis::virtio::backend
