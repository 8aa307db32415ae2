// virtio-rng and virtio-console end to end: our own vhost-user backend
// (trellis-vhost-backend) as a real process, the drivers in real hosts, and
// real gRPC clients of Entropy and Console; and hostile backends producing
// each malformed used ring through a real socket.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/testing/manager_fixture.h"
#include "tests/integration/testing/power_cycle.h"
#include "trellis/console/v1/console.grpc.pb.h"
#include "trellis/entropy/v1/entropy.grpc.pb.h"
#include "virtio/backend/testing/backend_process.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using virtio::backend::testing::BackendProcess;
using virtio::backend::testing::BackendProcessOptions;

constexpr auto kDeadline = std::chrono::seconds(20);

std::string VirtioNode(const std::string& name, const std::string& compatible,
                       const std::string& socket) {
  return R"({"name": ")" + name +
         R"(", "properties": [)"
         R"({"key": "trellis.compatible", "string_value": ")" +
         compatible +
         R"("},)"
         R"({"key": "virtio.timeout_ms", "int_value": 2000},)"
         R"({"key": "virtio.socket", "string_value": ")" +
         socket + "\"}]}";
}

// Runs trellisctl against the fixture's manager; returns the exit code and
// what it printed (stdout and stderr).
std::pair<int, std::string> Trellisctl(const std::string& endpoint, const std::string& args) {
  std::string command =
      std::string(TRELLIS_CTL_BINARY) + " --endpoint " + endpoint + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output.append(buffer, n);
  }
  int status = pipe != nullptr ? pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

template <typename Stub>
struct Binding {
  std::string token;
  std::unique_ptr<Stub> stub;
};

class VirtioDevicesTest : public ManagerFixture {
 protected:
  void SetUp() override {
    if (!BackendProcess::Available()) GTEST_SKIP() << BackendProcess::kMissing;
  }

  std::unique_ptr<BackendProcess> StartBackend(BackendProcessOptions options) {
    auto backend = BackendProcess::Start(std::move(options));
    EXPECT_TRUE(backend) << backend.error().ToString();
    return backend ? std::move(*backend) : nullptr;
  }

  void StartBoard(const std::string& node, const std::string& path) {
    StartManager(Board(node), {{"virtio-rng.json", ShippedManifest("virtio-rng.json")},
                               {"virtio-console.json", ShippedManifest("virtio-console.json")}});
    ASSERT_TRUE(WaitForNodeState(path, node::v1::NODE_STATE_BOUND))
        << FindNode(path).value_or(node::v1::NodeInfo{}).DebugString();
  }

  template <typename Service>
  Binding<typename Service::Stub> BindTo(const std::string& path, const std::string& protocol) {
    grpc::ClientContext context;
    manager::v1::BindRequest request;
    request.set_node_path(path);
    request.set_protocol(protocol);
    manager::v1::BindResponse response;
    grpc::Status status = stub().Bind(&context, request, &response);
    EXPECT_TRUE(status.ok()) << path << ": " << status.error_message();
    return {response.token(), Service::NewStub(grpc::CreateChannel(
                                  response.endpoint(), grpc::InsecureChannelCredentials()))};
  }
};

// ---- virtio-rng ----

class VirtioRngTest : public VirtioDevicesTest {
 protected:
  static constexpr char kRng[] = "root.sys.rng";

  void Start(BackendProcessOptions options = {.device = "rng"}) {
    backend_ = StartBackend(std::move(options));
    ASSERT_TRUE(backend_);
    ASSERT_NO_FATAL_FAILURE(
        StartBoard(VirtioNode("rng", "trellis,virtio-rng", backend_->socket_path()), kRng));
    rng_ = BindTo<entropy::v1::Entropy>(kRng, "trellis.entropy.v1.Entropy");
  }

  grpc::Status Read(uint32_t length, std::string* data) {
    entropy::v1::ReadEntropyRequest request;
    request.set_length(length);
    entropy::v1::ReadEntropyResponse response;
    grpc::Status status = rng_.stub->Read(WithToken(rng_.token).get(), request, &response);
    *data = response.data();
    return status;
  }

  std::unique_ptr<BackendProcess> backend_;
  Binding<entropy::v1::Entropy::Stub> rng_;
};

TEST_F(VirtioRngTest, ReadsReturnExactlyTheLengthAskedAndNeverRepeat) {
  ASSERT_NO_FATAL_FAILURE(Start());
  std::string data;
  for (uint32_t length : {1u, 17u, 4096u, 4097u, 65536u}) {
    grpc::Status status = Read(length, &data);
    ASSERT_TRUE(status.ok()) << length << ": " << status.error_message();
    EXPECT_EQ(data.size(), length);
  }
  // 64 KiB spans sixteen device buffers; none of it is left zeroed.
  EXPECT_NE(data.find_first_not_of('\0', 65536 - 4096), std::string::npos);
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(Read(32, &data).ok());
    EXPECT_TRUE(seen.insert(data).second) << "32 random bytes came back twice";
  }
}

TEST_F(VirtioRngTest, TrellisctlReadsEntropyAsHexAndJson) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto [code, out] = Trellisctl(manager_->endpoint(), "entropy read root.sys.rng --bytes 70000");
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(out.size(), 70000u * 2 + 1) << "two hex digits a byte, past one call's 65536";
  auto [json_code, json] =
      Trellisctl(manager_->endpoint(), "entropy read root.sys.rng --bytes 16 --json");
  ASSERT_EQ(json_code, 0) << json;
  EXPECT_THAT(json, HasSubstr(R"("bytes": 16)"));
  auto [bad, why] = Trellisctl(manager_->endpoint(), "entropy read root.sys.rng --bytes 0");
  EXPECT_EQ(bad, 2) << why;
}

TEST_F(VirtioRngTest, LengthsOutsideTheProtocolsRangeAreInvalidArguments) {
  ASSERT_NO_FATAL_FAILURE(Start());
  std::string data;
  grpc::Status zero = Read(0, &data);
  EXPECT_EQ(zero.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(zero.error_message(), HasSubstr("length 0"));
  EXPECT_EQ(Read(65537, &data).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Read(8, &data).ok()) << "and the device is fine";
}

TEST_F(VirtioRngTest, KilledBackendFailsReadsWithoutHangingAndTheDriverStaysUp) {
  ASSERT_NO_FATAL_FAILURE(Start());
  std::string data;
  ASSERT_TRUE(Read(64, &data).ok());
  std::string socket = backend_->socket_path();
  ASSERT_TRUE(backend_->Kill());
  // Until a backend is back: EIO for what the device held, UNAVAILABLE while
  // reconnecting — never a hang, never bytes.
  grpc::Status status = Read(64, &data);
  EXPECT_THAT(status.error_code(),
              ::testing::AnyOf(grpc::StatusCode::DATA_LOSS, grpc::StatusCode::UNAVAILABLE))
      << status.error_message();
  EXPECT_TRUE(WaitForNodeState(kRng, node::v1::NODE_STATE_BOUND)) << "the driver stays up";
}

// ---- Hostile backends: every malformed used ring, through a real socket ----

class VirtioHostileTest : public VirtioRngTest,
                          public ::testing::WithParamInterface<const char*> {};

TEST_P(VirtioHostileTest, BrokenRingFailsWithEioAndTheDriverRecovers) {
  // The second completion of each connection is malformed.
  ASSERT_NO_FATAL_FAILURE(
      Start({.device = "rng", .args = {"--misbehave", GetParam(), "--misbehave-after", "2"}}));
  std::string data;
  ASSERT_TRUE(Read(64, &data).ok()) << "the first completion is well formed";
  // The malformed one fails a Read with DATA_LOSS (EIO) — at once, or (a
  // duplicate of a completed entry) at the next Read.
  grpc::Status failed;
  for (int i = 0; i < 3 && failed.ok(); ++i) failed = Read(64, &data);
  if (failed.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // A duplicate of an entry already completed breaks the ring with no
    // Read waiting on it: nothing to fail, and the driver has already let
    // go of the device.
    EXPECT_STREQ(GetParam(), "duplicate") << failed.error_message();
    EXPECT_THAT(failed.error_message(), HasSubstr("reconnecting"));
  } else {
    ASSERT_EQ(failed.error_code(), grpc::StatusCode::DATA_LOSS) << failed.error_message();
    EXPECT_THAT(failed.error_message(), HasSubstr("Input/output error"));
  }
  // The host is healthy: the driver reconnects (its new connection starts
  // well formed) and serves again.
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  grpc::Status status;
  do {
    status = Read(64, &data);
  } while (!status.ok() && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(status.ok()) << status.error_message() << "\n" << backend_->Log();
  EXPECT_TRUE(backend_->Running());
}

INSTANTIATE_TEST_SUITE_P(EveryCase, VirtioHostileTest,
                         ::testing::Values("id-out-of-range", "id-not-head", "duplicate",
                                           "length-too-large", "index-jump", "index-backwards"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::erase(name, '-');
                           return name;
                         });

// ---- virtio-console ----

class VirtioConsoleTest : public VirtioDevicesTest {
 protected:
  static constexpr char kConsole[] = "root.sys.console";

  void Start() {
    input_path_ = dir_.path() / "console-in";
    output_path_ = dir_.path() / "console-out";
    ASSERT_EQ(mkfifo(input_path_.c_str(), 0600), 0);
    // Held open read-write, so the backend's open for reading never waits
    // for a writer and the FIFO never reports end of input.
    input_ = open(input_path_.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(input_, 0);
    backend_ = StartBackend(
        {.device = "console",
         .args = {"--input", input_path_.string(), "--output", output_path_.string()}});
    ASSERT_TRUE(backend_);
    ASSERT_NO_FATAL_FAILURE(StartBoard(
        VirtioNode("console", "trellis,virtio-console", backend_->socket_path()), kConsole));
    console_ = BindTo<console::v1::Console>(kConsole, "trellis.console.v1.Console");
  }
  void TearDown() override {
    if (input_ >= 0) close(input_);
  }

  grpc::Status Write(const std::string& data) {
    console::v1::ConsoleWriteRequest request;
    request.set_data(data);
    console::v1::ConsoleWriteResponse response;
    grpc::Status status = console_.stub->Write(WithToken(console_.token).get(), request, &response);
    if (status.ok()) {
      EXPECT_EQ(response.written(), data.size());
    }
    return status;
  }
  // Feeds the console's input (blocks while the pipe is full).
  void Type(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = write(input_, text.data() + done, text.size() - done);
      ASSERT_GT(n, 0) << strerror(errno);
      done += static_cast<size_t>(n);
    }
  }
  std::string Output() {
    std::ifstream in(output_path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Waits until the output file holds `size` bytes.
  bool WaitForOutput(size_t size) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      if (fs::file_size(output_path_, ec) >= size && !ec) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  fs::path input_path_;
  fs::path output_path_;
  int input_ = -1;
  std::unique_ptr<BackendProcess> backend_;
  Binding<console::v1::Console::Stub> console_;
};

TEST_F(VirtioConsoleTest, WritesReachTheBackendWholeAndInOrder) {
  ASSERT_NO_FATAL_FAILURE(Start());
  std::string big(200 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(Write("hello, ").ok());
  ASSERT_TRUE(Write(big).ok());
  ASSERT_TRUE(Write("\nbye\n").ok());
  std::string expected = "hello, " + big + "\nbye\n";
  ASSERT_TRUE(WaitForOutput(expected.size())) << backend_->Log();
  EXPECT_EQ(Output(), expected);
}

TEST_F(VirtioConsoleTest, TrellisctlWritesAndReadsTheConsole) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto [code, out] = Trellisctl(manager_->endpoint(), "console write root.sys.console 'ping '");
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("wrote 5 bytes"));
  ASSERT_TRUE(WaitForOutput(5)) << backend_->Log();
  EXPECT_EQ(Output(), "ping ");

  Type("pong!");
  auto [read_code, read] =
      Trellisctl(manager_->endpoint(), "console read root.sys.console --bytes 4 --timeout 20s");
  ASSERT_EQ(read_code, 0) << read;
  EXPECT_EQ(read, "pong");
  // The rest waited for the next reader; with --json, one object per chunk.
  auto [json_code, json] = Trellisctl(
      manager_->endpoint(), "console read root.sys.console --bytes 1 --timeout 20s --json");
  ASSERT_EQ(json_code, 0) << json;
  EXPECT_THAT(json, HasSubstr(R"("text":"!")"));
  // Following an idle console until --timeout is not a failure.
  auto [idle_code, idle] =
      Trellisctl(manager_->endpoint(), "console read root.sys.console --timeout 200ms");
  EXPECT_EQ(idle_code, 0) << idle;
}

TEST_F(VirtioConsoleTest, EmptyAndOversizedWritesAreInvalidArguments) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(Write("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Write(std::string((1 << 20) + 1, 'x')).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(VirtioConsoleTest, InputTypedBeforeAndWhileReadingArrivesInOrderWithNothingLost) {
  ASSERT_NO_FATAL_FAILURE(Start());
  // 512 KiB typed while nobody reads: more than the driver's and the
  // backend's buffers and the pipe together, so the backend must stop
  // taking input and resume — nothing may be dropped.
  std::string typed(512 * 1024, '\0');
  for (size_t i = 0; i < typed.size(); ++i) typed[i] = static_cast<char>(i * 7 + i / 4096);
  std::thread typist([&] { Type(typed); });

  auto context = WithToken(console_.token);
  auto reader = console_.stub->Read(context.get(), console::v1::ConsoleReadRequest());
  std::string got;
  console::v1::ConsoleData data;
  while (got.size() < typed.size() && reader->Read(&data)) got += data.data();
  typist.join();
  ASSERT_EQ(got.size(), typed.size());
  EXPECT_TRUE(got == typed) << "input reordered or corrupted";
  context->TryCancel();
  reader->Finish();
}

TEST_F(VirtioConsoleTest, ASecondReaderIsRefusedWhileTheFirstIsOpen) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto first_context = WithToken(console_.token);
  auto first = console_.stub->Read(first_context.get(), console::v1::ConsoleReadRequest());
  Type("x");
  console::v1::ConsoleData data;
  ASSERT_TRUE(first->Read(&data)) << "the first reader is open";
  EXPECT_EQ(data.data(), "x");

  auto second_context = WithToken(console_.token);
  auto second = console_.stub->Read(second_context.get(), console::v1::ConsoleReadRequest());
  EXPECT_FALSE(second->Read(&data));
  grpc::Status refused = second->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("already being read"));

  // Once the first is gone (the server may take a moment to let go of it),
  // a new reader holds the console; input typed then comes to it.
  first_context->TryCancel();
  first->Finish();
  std::unique_ptr<grpc::ClientContext> third_context;
  std::unique_ptr<grpc::ClientReader<console::v1::ConsoleData>> third;
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!third && std::chrono::steady_clock::now() < deadline) {
    third_context = WithToken(console_.token);
    third = console_.stub->Read(third_context.get(), console::v1::ConsoleReadRequest());
    third->WaitForInitialMetadata();
    if (!third_context->GetServerInitialMetadata().contains("trellis-console-reader")) {
      EXPECT_EQ(third->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
      third.reset();
    }
  }
  ASSERT_TRUE(third) << "the first reader never let go of the console";
  Type("yz");
  std::string got;
  while (got.size() < 2 && third->Read(&data)) got += data.data();
  EXPECT_EQ(got, "yz");
  third_context->TryCancel();
  third->Finish();
}

TEST_F(VirtioConsoleTest, SuspendAndResumeWhileWritingAndTypingLoseNothing) {
  ASSERT_NO_FATAL_FAILURE(Start());
  std::string typed(256 * 1024, '\0');
  for (size_t i = 0; i < typed.size(); ++i) typed[i] = static_cast<char>(i % 251);
  std::string written;
  for (int i = 0; i < 200; ++i) written += std::string(1000, static_cast<char>('A' + i % 26));

  std::thread typist([&] { Type(typed); });
  std::atomic<int> write_failures{0};
  std::thread writer([&] {
    for (size_t at = 0; at < written.size(); at += 1000) {
      if (!Write(written.substr(at, 1000)).ok()) ++write_failures;
    }
  });
  std::thread power([&] { EXPECT_EQ(SuspendAndResume(manager_->endpoint(), 2), 2); });

  auto context = WithToken(console_.token);
  auto reader = console_.stub->Read(context.get(), console::v1::ConsoleReadRequest());
  std::string got;
  console::v1::ConsoleData data;
  while (got.size() < typed.size() && reader->Read(&data)) got += data.data();
  typist.join();
  writer.join();
  power.join();
  EXPECT_EQ(write_failures.load(), 0);
  EXPECT_TRUE(got == typed) << "input lost or reordered: " << got.size() << " bytes";
  ASSERT_TRUE(WaitForOutput(written.size())) << backend_->Log();
  EXPECT_TRUE(Output() == written) << "output lost or reordered";
  context->TryCancel();
  reader->Finish();
}

TEST_F(VirtioConsoleTest, KilledBackendEndsTheReadStreamWithAnError) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto context = WithToken(console_.token);
  auto reader = console_.stub->Read(context.get(), console::v1::ConsoleReadRequest());
  Type("a");
  console::v1::ConsoleData data;
  ASSERT_TRUE(reader->Read(&data));
  ASSERT_TRUE(backend_->Kill());
  while (reader->Read(&data)) {
  }
  // DATA_LOSS if the stream's Read was in the device when it went;
  // UNAVAILABLE if it asked once the driver was already reconnecting.
  grpc::Status ended = reader->Finish();
  EXPECT_THAT(ended.error_code(),
              ::testing::AnyOf(grpc::StatusCode::DATA_LOSS, grpc::StatusCode::UNAVAILABLE))
      << ended.error_message();
}

}  // namespace
}  // namespace trellis::testing
