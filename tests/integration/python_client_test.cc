// examples/python/block_client.py against a real manager, host and
// uring-block disk, run with Debian's python3-grpcio: it holds a wake lease
// (a suspend is refused meanwhile), binds the disk's Block protocol, writes
// a block and reads it back.
#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "tests/integration/testing/disk_fixture.h"
#include "tools/trellisctl/testing/subprocess.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::testing {
namespace {

using tools::testing::RunCommand;

class PythonClientTest : public DiskFixture {};

TEST_F(PythonClientTest, TheBlockExampleHoldsALeaseBindsWritesAndReadsBack) {
  auto probe = RunCommand({"/usr/bin/python3", "-c", "import grpc, google.protobuf"});
  ASSERT_TRUE(probe.has_value());
  if (probe->exit_code != 0) GTEST_SKIP() << "python3-grpcio is not installed: " << probe->err;
  StartDisk(64 * 4096);
  auto run = RunCommand({"/usr/bin/python3", TRELLIS_SOURCE_DIR "/examples/python/block_client.py",
                         "--endpoint", manager_->endpoint(), "--node", "root.sys.disk",
                         "--block", "3", "--json"},
                        std::chrono::seconds(60));
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  ASSERT_EQ(run->exit_code, 0) << run->err;
  auto result = nlohmann::json::parse(run->out, nullptr, false);
  ASSERT_FALSE(result.is_discarded()) << run->out;
  EXPECT_EQ(result["suspend_while_held"], "FAILED_PRECONDITION") << run->out;
  EXPECT_EQ(result["block_size"], 512) << run->out;
  EXPECT_EQ(result["block_count"], 64 * 8) << run->out;
  EXPECT_EQ(result["read_back_matches"], true) << run->out;
  EXPECT_GT(result["lease_id"].get<uint64_t>(), 0u);
  // The lease went with the script.
  EXPECT_TRUE(WaitUntil([&] {
    grpc::ClientContext context;
    power::v1::ListLeasesResponse leases;
    auto power = power::v1::Power::NewStub(
        grpc::CreateChannel(manager_->endpoint(), grpc::InsecureChannelCredentials()));
    return power->ListLeases(&context, {}, &leases).ok() && leases.leases().empty();
  }));
}

}  // namespace
}  // namespace trellis::testing
