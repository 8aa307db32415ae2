// Who a caller is, checked before anything else: clients run under other
// uids (through setpriv) against a real manager and real hosts. A host
// refuses a token copied to another user; node access follows the
// manifest's `access`; power operations need root, the manager's user or
// the manager's --power-group.
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/testing/disk_fixture.h"
#include "tools/trellisctl/testing/subprocess.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tools::testing::CommandResult;
using tools::testing::RunCommand;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNoGroup = 65534;
constexpr gid_t kPowerGroup = 4242;  // Needs no /etc/group entry.

class PeerIdentityTest : public DiskFixture {
 protected:
  void SetUp() override {
    if (getuid() != 0) GTEST_SKIP() << "needs root to run clients under another uid (setpriv)";
    // Other users must reach the sockets under the test's directory.
    fs::permissions(dir_.path(), fs::perms(0755));
  }

  // `argv` run as uid/gid with only `groups` as supplementary groups.
  CommandResult RunAs(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                      std::vector<std::string> argv) {
    std::vector<std::string> command = {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid),
                                        "--regid=" + std::to_string(gid)};
    if (groups.empty()) {
      command.push_back("--clear-groups");
    } else {
      std::string list;
      for (gid_t g : groups) list += (list.empty() ? "" : ",") + std::to_string(g);
      command.push_back("--groups=" + list);
    }
    command.insert(command.end(), argv.begin(), argv.end());
    auto result = RunCommand(command);
    EXPECT_TRUE(result.has_value()) << result.error().ToString();
    return result ? *result : CommandResult{};
  }
  CommandResult RunAsNobody(std::vector<std::string> argv, std::vector<gid_t> groups = {}) {
    return RunAs(kNobody, kNoGroup, groups, std::move(argv));
  }
};

TEST_F(PeerIdentityTest, AnotherUsersCopyOfATokenIsRefusedByTheHost) {
  StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
  ASSERT_TRUE(WaitForNodeState("root.sys.echo", node::v1::NODE_STATE_BOUND));
  Bound bound = BindDevice("root.sys.echo");

  auto owner = RunCommand({TRELLIS_PEER_PROBE_BINARY, "token-call", bound.endpoint, bound.token});
  ASSERT_TRUE(owner.has_value());
  EXPECT_THAT(owner->out, HasSubstr("code 0:")) << owner->err;

  CommandResult thief =
      RunAsNobody({TRELLIS_PEER_PROBE_BINARY, "token-call", bound.endpoint, bound.token});
  EXPECT_THAT(thief.out, HasSubstr("code 7: the token was granted to uid 0; this call comes "
                                   "from uid 65534"))
      << thief.err;
}

// The same for a typed protocol (Block), whose calls take another path in
// the host.
TEST_F(PeerIdentityTest, AnotherUsersCopyOfABlockTokenIsRefusedByTheHost) {
  StartDisk(64 * 4096);
  auto owner = RunCommand({TRELLIS_PEER_PROBE_BINARY, "block-info", endpoint_, token_});
  ASSERT_TRUE(owner.has_value());
  EXPECT_THAT(owner->out, HasSubstr("code 0:")) << owner->err;
  CommandResult thief = RunAsNobody({TRELLIS_PEER_PROBE_BINARY, "block-info", endpoint_, token_});
  EXPECT_THAT(thief.out, HasSubstr("code 7: the token was granted to uid 0; this call comes "
                                   "from uid 65534"))
      << thief.err;
}

TEST_F(PeerIdentityTest, NodeAccessFollowsTheManifestForOtherUsers) {
  StartManager(Board(EchoNode("echo", 0, 0)),
               {{"echo.json", EchoManifest({{"access", R"({"uids": [65534], "gids": [4242]})"}})}});
  ASSERT_TRUE(WaitForNodeState("root.sys.echo", node::v1::NODE_STATE_BOUND));
  const std::string endpoint = manager_->endpoint();

  // A listed uid binds, and its token works on the host.
  CommandResult listed = RunAsNobody({TRELLIS_PEER_PROBE_BINARY, "bind-call", endpoint,
                                      "root.sys.echo"});
  EXPECT_THAT(listed.out, HasSubstr("bind code 0: \ncode 0: ")) << listed.err;

  // Another uid is refused, naming the policy...
  CommandResult other = RunAs(kNobody - 1, kNobody - 1, {},
                              {TRELLIS_PEER_PROBE_BINARY, "bind-call", endpoint, "root.sys.echo"});
  EXPECT_THAT(other.out, HasSubstr("bind code 7: uid 65533 (gid 65533) may not bind to "
                                   "root.sys.echo"))
      << other.err;
  // ...unless a supplementary group of its is listed.
  CommandResult member = RunAs(kNobody - 1, kNobody - 1, {kPowerGroup},
                               {TRELLIS_PEER_PROBE_BINARY, "bind-call", endpoint, "root.sys.echo"});
  EXPECT_THAT(member.out, HasSubstr("bind code 0: \ncode 0: ")) << member.err;
}

TEST_F(PeerIdentityTest, PowerOperationsNeedRootTheManagersUserOrThePowerGroup) {
  StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}},
               [](manager::ManagerOptions& options) { options.power_group = kPowerGroup; });
  const std::vector<std::string> powerctl = {TRELLIS_POWERCTL_BINARY, "--endpoint",
                                             manager_->endpoint()};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = powerctl;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };

  // Anyone may look.
  CommandResult status = RunAsNobody(with({"status"}));
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("running"));

  // Changing the power state needs the group.
  CommandResult suspend = RunAsNobody(with({"suspend"}));
  EXPECT_NE(suspend.exit_code, 0);
  EXPECT_THAT(suspend.err, HasSubstr("may not suspend the system: power operations need root, "
                                     "uid 0 or group 4242"));
  CommandResult lease = RunAsNobody(with({"lease", "--name", "nobody", "--", "/bin/true"}));
  EXPECT_NE(lease.exit_code, 0);
  EXPECT_THAT(lease.err, HasSubstr("may not hold a wake lease"));
  CommandResult resume = RunAsNobody(with({"resume"}));
  EXPECT_NE(resume.exit_code, 0);
  EXPECT_THAT(resume.err, HasSubstr("may not resume the system"));

  // A member of the group may.
  CommandResult member_lease =
      RunAsNobody(with({"lease", "--name", "member", "--", "/bin/true"}), {kPowerGroup});
  EXPECT_EQ(member_lease.exit_code, 0) << member_lease.err;
}

}  // namespace
}  // namespace trellis::testing
