#include "manager/topology/class_registry.h"

#include <gtest/gtest.h>

namespace trellis::manager {
namespace {

std::vector<std::string> Instances(const std::vector<v1::ClassEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(std::string(e.kind() == v1::ClassEvent::KIND_ARRIVED ? "+" : "-") +
                  e.instance().instance());
  }
  return out;
}

TEST(ClassRegistryTest, TheClassIsTheServiceNameInLowerCase) {
  EXPECT_EQ(ClassRegistry::ClassOf("trellis.block.v1.Block"), "block");
  EXPECT_EQ(ClassRegistry::ClassOf("trellis.device.v1.Device"), "device");
  EXPECT_EQ(ClassRegistry::ClassOf("Plain"), "plain");
}

TEST(ClassRegistryTest, InstancesAreNumberedInArrivalOrderAndKeepTheirNumbers) {
  ClassRegistry classes;
  EXPECT_EQ(Instances(classes.Arrive("root.a", "d", {"trellis.block.v1.Block",
                                                     "trellis.device.v1.Device"})),
            (std::vector<std::string>{"+block/000", "+device/000"}));
  EXPECT_EQ(Instances(classes.Arrive("root.b", "d", {"trellis.block.v1.Block"})),
            (std::vector<std::string>{"+block/001"}));
  EXPECT_TRUE(classes.Arrive("root.b", "d", {"trellis.block.v1.Block"}).empty())
      << "already present";
  EXPECT_EQ(Instances(classes.Depart("root.a")),
            (std::vector<std::string>{"-block/000", "-device/000"}));
  EXPECT_TRUE(classes.Depart("root.a").empty());
  EXPECT_EQ(Instances(classes.Arrive("root.c", "d", {"trellis.block.v1.Block"})),
            (std::vector<std::string>{"+block/002"}))
      << "numbers are never reused";
  EXPECT_EQ(Instances(classes.Arrive("root.a", "other", {"trellis.block.v1.Block"})),
            (std::vector<std::string>{"+block/000"}))
      << "the node keeps its number";
  auto blocks = classes.List("block");
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].node_path(), "root.a");
  EXPECT_EQ(blocks[0].driver(), "other");
  EXPECT_EQ(blocks[2].instance(), "block/002");
  EXPECT_EQ(classes.List("").size(), 3u);
  EXPECT_EQ(classes.Find("class/block/001")->node_path(), "root.b");
  EXPECT_FALSE(classes.Find("device/000").has_value());
}

}  // namespace
}  // namespace trellis::manager
