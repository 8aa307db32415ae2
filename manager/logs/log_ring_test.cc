#include "manager/logs/log_ring.h"

#include <gtest/gtest.h>

namespace trellis::manager {
namespace {

TEST(LogRingTest, DriverLinesAreStructuredAndOtherLinesKeptAsText) {
  LogRing ring;
  const LogEntry& driver = ring.AddHostLine("h-1", "[h-1] echo@root.sys.echo info: started: depth 2");
  EXPECT_EQ(driver.driver, "echo");
  EXPECT_EQ(driver.node, "root.sys.echo");
  EXPECT_EQ(driver.level, "info");
  EXPECT_EQ(driver.text, "started: depth 2");
  const LogEntry& other = ring.AddHostLine("h-1", "trellis-host h-1: io_uring fault injection on");
  EXPECT_EQ(other.driver, "");
  EXPECT_EQ(other.level, "output");
  EXPECT_EQ(other.text, "trellis-host h-1: io_uring fault injection on");
  const LogEntry& odd = ring.AddHostLine("h-1", "[h-1] a@b nonsense: text");
  EXPECT_EQ(odd.level, "output");
  EXPECT_EQ(ring.last_seq(), 3u);
}

TEST(LogRingTest, FiltersByNodeSubtreeAndDriverAndKeepsTheNewestWhenFull) {
  LogRing ring(3);
  ring.AddHostLine("h", "[h] gpt@root.sys.disk0.block info: one");
  ring.AddHostLine("h", "[h] gpt@root.sys.disk0.block info: two");
  ring.AddHostLine("h", "[h] echo@root.sys.disk00 info: not under disk0");
  ring.AddHostLine("h", "[h] gpt@root.sys.disk0.block.p1 warning: three");
  auto disk = ring.Last({.node_prefix = "root.sys.disk0"}, 0);
  ASSERT_EQ(disk.size(), 2u);  // "one" fell out; "disk00" is not a descendant.
  EXPECT_EQ(disk[0].text, "two");
  EXPECT_EQ(disk[1].text, "three");
  EXPECT_EQ(ring.CountsOf("root.sys.disk0.block.p1").warnings, 1u);
  EXPECT_EQ(ring.CountsOf("root.sys.disk0.block").warnings, 0u);
  auto last = ring.Last({.driver = "gpt"}, 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].text, "three");
  EXPECT_EQ(last[0].seq, 4u);
}

}  // namespace
}  // namespace trellis::manager
