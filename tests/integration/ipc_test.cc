// The ipc driver through the manager with real client processes
// (tools/ipc_peer.cc), each bound on its own: discovery by name, a client's
// region read and written by the service in place, notifications both
// ways, ids that are gone, and what a process that dies leaves behind.
#include <gmock/gmock.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/testing/manager_fixture.h"

extern char** environ;

namespace trellis::testing {
namespace {

using ::testing::StartsWith;

// One ipc_peer process, driven a line at a time.
class PeerProcess {
 public:
  PeerProcess(const std::string& endpoint, const std::string& node) {
    int in[2], out[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::string e = endpoint, n = node;
    char* argv[] = {const_cast<char*>(TRELLIS_IPC_PEER_BINARY), e.data(), n.data(), nullptr};
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    EXPECT_EQ(ReadLine(), "ready");
  }
  ~PeerProcess() {
    ::close(to_);  // EOF on stdin: the peer exits.
    ::close(from_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Sends one line and returns the peer's answer ("" if it said nothing in
  // 10 s or exited).
  std::string Call(const std::string& line) {
    std::string sent = line + "\n";
    if (::write(to_, sent.data(), sent.size()) != static_cast<ssize_t>(sent.size())) return "";
    return ReadLine();
  }
  // The value of an "ok VALUE" answer to `line`; fails the test otherwise.
  int64_t Value(const std::string& line) {
    std::string answer = Call(line);
    EXPECT_THAT(answer, StartsWith("ok ")) << line;
    return answer.starts_with("ok ") ? std::stoll(answer.substr(3)) : -1;
  }

  void Kill() {
    ASSERT_EQ(::kill(pid_, SIGKILL), 0);
    ASSERT_EQ(::waitpid(pid_, nullptr, 0), pid_);
    pid_ = -1;
  }

 private:
  std::string ReadLine() {
    for (;;) {
      if (auto end = buffered_.find('\n'); end != std::string::npos) {
        std::string line = buffered_.substr(0, end);
        buffered_.erase(0, end + 1);
        return line;
      }
      pollfd p{.fd = from_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 10'000) != 1) return "";
      char chunk[512];
      ssize_t n = ::read(from_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffered_.append(chunk, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buffered_;
};

class IpcTest : public ManagerFixture {
 protected:
  void SetUp() override {
    StartManager(Board(R"({"name": "ipc", "properties": [{"key": "trellis.compatible",
                                                         "string_value": "trellis,ipc"}]})"),
                 {{"ipc.json", ShippedManifest("ipc.json")}});
  }

  std::unique_ptr<PeerProcess> Peer() {
    return std::make_unique<PeerProcess>(manager_->endpoint(), "root.sys.ipc");
  }
  // A service "clock" subscribed to its notifications, and a client that
  // found it and shares a 4 KiB region with it.
  struct Pair {
    std::unique_ptr<PeerProcess> service, client;
    int64_t s = 0;
  };
  Pair ServiceAndClient() {
    Pair pair{Peer(), Peer()};
    pair.s = pair.service->Value("register clock");
    EXPECT_EQ(pair.service->Call("subscribe 0"), "ok");
    EXPECT_EQ(pair.client->Value("discover clock"), pair.s);
    EXPECT_EQ(pair.client->Call("share " + std::to_string(pair.s) + " 4096"), "ok 0");
    return pair;
  }
  // `peer` runs `line` until it succeeds: a subscription is registered a
  // moment after Subscribe returns, and until then the target answers
  // FAILED_PRECONDITION.
  bool Eventually(PeerProcess& peer, const std::string& line) {
    return WaitUntil([&] { return peer.Call(line) == "ok 0"; });
  }
};

std::string Line(std::initializer_list<std::string> words) {
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
  return line;
}
std::string S(int64_t v) { return std::to_string(v); }

TEST_F(IpcTest, ServicesAreFoundByName) {
  auto service = Peer();
  auto client = Peer();
  const int64_t id = service->Value("register clock");
  ASSERT_GT(id, 0);
  EXPECT_EQ(client->Value("discover clock"), id);
  EXPECT_THAT(client->Call("discover nope"), StartsWith("error 5 "));  // NOT_FOUND
  EXPECT_THAT(client->Call("register clock"), StartsWith("error 6 "))  // ALREADY_EXISTS
      << "the name is taken by a live service";
  EXPECT_THAT(client->Call("register bad/name"), StartsWith("error 3 "));
  EXPECT_EQ(service->Call("command 0 0 0"), "ok 0") << "minor 0 is the presence check";
  // Unregistering frees the name; the new service has the client's own id.
  ASSERT_EQ(service->Call("unregister"), "ok 0");
  EXPECT_THAT(client->Call("discover clock"), StartsWith("error 5 "));
  const int64_t other = client->Value("register clock");
  EXPECT_GT(other, 0);
  EXPECT_NE(other, id);
  EXPECT_EQ(service->Value("discover clock"), other);
}

TEST_F(IpcTest, TheServiceReadsAndWritesAClientsRegionInPlaceAndTheyNotifyEachOther) {
  auto [service, client, s] = ServiceAndClient();
  ASSERT_FALSE(HasFailure());
  // Written *after* the allow: only the client's own memory holds it.
  ASSERT_EQ(client->Call("poke 16 1234605616436508552"), "ok");

  // Client → service: the upcall names the client.
  ASSERT_TRUE(Eventually(*client, Line({"command", S(s), "0", "7"})));
  std::string upcall = service->Call("wait 0");
  ASSERT_THAT(upcall, StartsWith("upcall 0 "));
  int64_t c = 0, value = 0;
  ASSERT_EQ(std::sscanf(upcall.c_str(), "upcall 0 %ld %ld", &c, &value), 2);
  EXPECT_EQ(value, 7);
  EXPECT_NE(c, s);

  EXPECT_EQ(service->Value(Line({"command", S(c), "2", "16"})), 1234605616436508552)
      << "the service sees the client's write made after the allow";
  EXPECT_EQ(service->Value(Line({"command", S(c), "3", "0"})), 4096);
  ASSERT_EQ(service->Call(Line({"command", S(c), "4", S((24LL << 32) | 0xabcd)})), "ok 0");
  EXPECT_EQ(client->Call("peek 24"), "ok 43981") << "the service's write is in the client's memory";
  EXPECT_THAT(service->Call(Line({"command", S(c), "2", "4090"})), StartsWith("error 11 "));

  // Service → client.
  ASSERT_EQ(client->Call(Line({"subscribe", S(s)})), "ok");
  ASSERT_TRUE(Eventually(*service, Line({"command", S(c), "1", "99"})));
  EXPECT_EQ(client->Call(Line({"wait", S(s)})), Line({"upcall", S(s), S(s), "99"}));

  // Un-allowing ends the service's access at once.
  ASSERT_EQ(client->Call(Line({"unshare", S(s)})), "ok 0");
  EXPECT_THAT(service->Call(Line({"command", S(c), "2", "16"})), StartsWith("error 9 "));
}

TEST_F(IpcTest, EveryNotificationCarriesItsSendersOwnId) {
  auto service = Peer();
  auto a = Peer();
  auto b = Peer();
  const int64_t s = service->Value("register echo-svc");
  ASSERT_EQ(service->Call("subscribe 0"), "ok");
  std::map<int64_t, int64_t> ids;  // Value sent → id the service saw.
  for (auto [peer, v] : {std::pair{a.get(), 1}, std::pair{b.get(), 2}}) {
    ASSERT_EQ(peer->Value("discover echo-svc"), s);
    ASSERT_EQ(peer->Call(Line({"subscribe", S(s)})), "ok");
    ASSERT_TRUE(Eventually(*peer, Line({"command", S(s), "0", S(v)})));
    int64_t from = 0, value = 0;
    ASSERT_EQ(std::sscanf(service->Call("wait 0").c_str(), "upcall 0 %ld %ld", &from, &value), 2);
    ids[value] = from;
  }
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[1], ids[2]);
  // Each reply reaches only the process the id belongs to.
  ASSERT_TRUE(Eventually(*service, Line({"command", S(ids[1]), "1", "101"})));
  ASSERT_TRUE(Eventually(*service, Line({"command", S(ids[2]), "1", "202"})));
  EXPECT_EQ(a->Call(Line({"wait", S(s)})), Line({"upcall", S(s), S(s), "101"}));
  EXPECT_EQ(b->Call(Line({"wait", S(s)})), Line({"upcall", S(s), S(s), "202"}));
}

TEST_F(IpcTest, IdsThatAreNotServicesOrAreGoneAreInvalidArguments) {
  auto service = Peer();
  auto client = Peer();
  const int64_t s = service->Value("register clock");
  EXPECT_THAT(client->Call("command 999 0 1"), StartsWith("error 3 "));
  EXPECT_THAT(client->Call("share 999 4096"), StartsWith("error 3 "));
  ASSERT_EQ(client->Call("subscribe 999"), "ok");
  EXPECT_THAT(client->Call("wait 999"), StartsWith("error 3 "));
  EXPECT_THAT(service->Call("command 999 1 5"), StartsWith("error 3 "));
  EXPECT_THAT(client->Call(Line({"command", S(s), "1", "5"})), StartsWith("error 9 "))
      << "only a service notifies clients";
  EXPECT_THAT(client->Call(Line({"command", S(s), "7", "0"})), StartsWith("error 12 "));
  EXPECT_THAT(client->Call(Line({"command", S(s), "0", "1"})), StartsWith("error 9 "))
      << "the service has not subscribed";
}

TEST_F(IpcTest, AProcessThatDiesReleasesItsAllowsSubscriptionsAndName) {
  auto [service, client, s] = ServiceAndClient();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(client->Call(Line({"subscribe", S(s)})), "ok");
  ASSERT_TRUE(Eventually(*client, Line({"command", S(s), "0", "1"})));
  int64_t c = 0, value = 0;
  ASSERT_EQ(std::sscanf(service->Call("wait 0").c_str(), "upcall 0 %ld %ld", &c, &value), 2);
  ASSERT_EQ(service->Value(Line({"command", S(c), "3", "0"})), 4096);

  client->Kill();
  EXPECT_TRUE(WaitUntil([&] {
    return service->Call(Line({"command", S(c), "3", "0"})).starts_with("error 3 ");
  })) << "the dead client's region and subscription were taken back: its id is gone";
  EXPECT_THAT(service->Call(Line({"command", S(c), "1", "5"})), StartsWith("error 3 "));

  // A service that dies frees its name.
  auto other = Peer();
  service->Kill();
  EXPECT_TRUE(WaitUntil([&] { return other->Call("discover clock").starts_with("error 5 "); }));
  EXPECT_THAT(other->Call(Line({"command", S(s), "0", "1"})), StartsWith("error 3 "));
  EXPECT_GT(other->Value("register clock"), s) << "ids are never reused";
}

}  // namespace
}  // namespace trellis::testing
