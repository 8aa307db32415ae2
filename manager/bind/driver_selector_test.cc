#include "manager/bind/driver_selector.h"

#include <deque>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace trellis::manager {
namespace {

using manifest::v1::BindRules;
using Verdict = Considered::Verdict;

// Owns the BindRules that candidates point at.
class Drivers {
 public:
  Drivers& Add(const std::string& name, const std::string& rules_text, bool disabled = false) {
    BindRules& rules = rules_.emplace_back();
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(rules_text, &rules)) << rules_text;
    candidates_.push_back(Candidate{name, &rules, disabled});
    return *this;
  }
  std::span<const Candidate> candidates() const { return candidates_; }

 private:
  std::deque<BindRules> rules_;  // stable addresses
  std::vector<Candidate> candidates_;
};

Properties VirtioBlock() {
  Properties properties;
  auto* id = properties.Add();
  id->set_key("virtio.device_id");
  id->set_int_value(2);
  auto* bus = properties.Add();
  bus->set_key("trellis.bus");
  bus->set_string_value("virtio");
  return properties;
}

constexpr const char* kMatchesBlock = R"(accept { key: "virtio.device_id" values { int_value: 2 } })";
constexpr const char* kMatchesNet = R"(accept { key: "virtio.device_id" values { int_value: 1 } })";

TEST(SelectDriverTest, NoCandidatesSelectsNothing) {
  Selection selection = SelectDriver({}, VirtioBlock());
  EXPECT_FALSE(selection.driver.has_value());
  EXPECT_TRUE(selection.considered.empty());
}

TEST(SelectDriverTest, OnlyMatchingDriverIsSelected) {
  Drivers drivers;
  drivers.Add("virtio-net", kMatchesNet).Add("virtio-blk", kMatchesBlock);
  Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
  EXPECT_EQ(selection.driver, "virtio-blk");
  ASSERT_EQ(selection.considered.size(), 2u);
  EXPECT_EQ(selection.considered[0].driver, "virtio-net");
  EXPECT_EQ(selection.considered[0].verdict, Verdict::kRuleFailed);
  EXPECT_EQ(selection.considered[0].reason,
            "accept rule 'virtio.device_id': node has 2, wants one of [1]");
  EXPECT_EQ(selection.considered[1].driver, "virtio-blk");
  EXPECT_EQ(selection.considered[1].verdict, Verdict::kSelected);
  EXPECT_EQ(selection.considered[1].reason, "the only matching driver");
}

TEST(SelectDriverTest, HighestPriorityWins) {
  Drivers drivers;
  drivers.Add("a-generic", std::string(kMatchesBlock) + " priority: 3")
      .Add("z-special", std::string(kMatchesBlock) + " priority: 7");
  Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
  EXPECT_EQ(selection.driver, "z-special");
  EXPECT_EQ(selection.considered[0].verdict, Verdict::kLostOnPriority);
  EXPECT_EQ(selection.considered[0].reason, "lost to 'z-special' on priority (3 < 7)");
  EXPECT_EQ(selection.considered[1].verdict, Verdict::kSelected);
  EXPECT_EQ(selection.considered[1].reason, "highest priority (7) among 2 matching drivers");
}

TEST(SelectDriverTest, TiesGoToSmallestNameWhateverTheOrder) {
  for (bool reversed : {false, true}) {
    Drivers drivers;
    if (reversed) {
      drivers.Add("blk-b", std::string(kMatchesBlock) + " priority: 5")
          .Add("blk-a", std::string(kMatchesBlock) + " priority: 5");
    } else {
      drivers.Add("blk-a", std::string(kMatchesBlock) + " priority: 5")
          .Add("blk-b", std::string(kMatchesBlock) + " priority: 5");
    }
    Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
    EXPECT_EQ(selection.driver, "blk-a");
    size_t loser = reversed ? 0 : 1;
    EXPECT_EQ(selection.considered[loser].driver, "blk-b");
    EXPECT_EQ(selection.considered[loser].verdict, Verdict::kLostOnPriority);
    EXPECT_EQ(selection.considered[loser].reason,
              "lost to 'blk-a' on name order at equal priority 5");
    EXPECT_EQ(selection.considered[1 - loser].reason,
              "first in name order among 2 matching drivers at priority 5");
  }
}

TEST(SelectDriverTest, FallbackIsUsedOnlyWhenNothingElseMatches) {
  Drivers drivers;
  drivers.Add("generic", "fallback: true priority: 100").Add("virtio-net", kMatchesNet);
  Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
  EXPECT_EQ(selection.driver, "generic");
  EXPECT_EQ(selection.considered[0].verdict, Verdict::kSelected);
  EXPECT_EQ(selection.considered[0].reason,
            "fallback: no non-fallback driver matched; the only matching driver");
}

TEST(SelectDriverTest, FallbackIsNotNeededWhenANonFallbackMatches) {
  Drivers drivers;
  drivers.Add("generic", "fallback: true priority: 1000")
      .Add("virtio-blk", std::string(kMatchesBlock) + " priority: -1000")
      .Add("other-fallback", std::string(kMatchesNet) + " fallback: true");
  Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
  EXPECT_EQ(selection.driver, "virtio-blk");
  EXPECT_EQ(selection.considered[0].verdict, Verdict::kFallbackNotNeeded);
  EXPECT_EQ(selection.considered[0].reason, "a non-fallback driver ('virtio-blk') matched");
  EXPECT_EQ(selection.considered[1].verdict, Verdict::kSelected);
  EXPECT_EQ(selection.considered[2].verdict, Verdict::kRuleFailed);
}

TEST(SelectDriverTest, FallbacksCompeteOnPriorityAmongThemselves) {
  Drivers drivers;
  drivers.Add("fb-low", "fallback: true priority: 1").Add("fb-high", "fallback: true priority: 2");
  Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
  EXPECT_EQ(selection.driver, "fb-high");
  EXPECT_EQ(selection.considered[0].verdict, Verdict::kLostOnPriority);
  EXPECT_EQ(selection.considered[0].reason, "lost to 'fb-high' on priority (1 < 2)");
  EXPECT_EQ(selection.considered[1].reason,
            "fallback: no non-fallback driver matched; highest priority (2) among 2 matching "
            "drivers");
}

TEST(SelectDriverTest, DisabledDriverIsNeverChosen) {
  Drivers drivers;
  drivers.Add("virtio-blk", std::string(kMatchesBlock) + " priority: 9", /*disabled=*/true)
      .Add("virtio-net", kMatchesNet, /*disabled=*/true)
      .Add("generic", "fallback: true", /*disabled=*/true);
  Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
  EXPECT_FALSE(selection.driver.has_value());
  for (const Considered& entry : selection.considered) {
    EXPECT_EQ(entry.verdict, Verdict::kDisabled) << entry.driver;
  }
  EXPECT_EQ(selection.considered[0].reason, "driver is disabled (its bind rules match)");
  EXPECT_EQ(selection.considered[1].reason,
            "driver is disabled; accept rule 'virtio.device_id': node has 2, wants one of [1]");
}

TEST(SelectDriverTest, DisabledDriverLetsTheNextOneWin) {
  Drivers drivers;
  drivers.Add("best", std::string(kMatchesBlock) + " priority: 9", /*disabled=*/true)
      .Add("second", std::string(kMatchesBlock) + " priority: 1");
  Selection selection = SelectDriver(drivers.candidates(), VirtioBlock());
  EXPECT_EQ(selection.driver, "second");
  EXPECT_EQ(selection.considered[1].reason, "the only matching driver");
}

TEST(SelectDriverTest, NullRulesMatchNothing) {
  std::vector<Candidate> candidates = {Candidate{"broken", nullptr}};
  Selection selection = SelectDriver(candidates, VirtioBlock());
  EXPECT_FALSE(selection.driver.has_value());
  EXPECT_EQ(selection.considered[0].verdict, Verdict::kRuleFailed);
  EXPECT_EQ(selection.considered[0].reason, "driver has no bind rules");
}

TEST(SelectDriverTest, HandlesThousandCandidatesAndTenProperties) {
  Properties properties;
  for (int i = 0; i < 10; ++i) {
    auto* property = properties.Add();
    property->set_key("key." + std::to_string(i));
    property->set_int_value(static_cast<uint64_t>(i));
  }
  Drivers drivers;
  for (int i = 0; i < 1000; ++i) {
    // Every candidate wants key.(i % 10) == i % 7: some match, most do not.
    drivers.Add("driver-" + std::to_string(i),
                "accept { key: \"key." + std::to_string(i % 10) + "\" values { int_value: " +
                    std::to_string(i % 7) + " } } priority: " + std::to_string(i % 13));
  }
  Selection selection = SelectDriver(drivers.candidates(), properties);
  ASSERT_EQ(selection.considered.size(), 1000u);
  ASSERT_TRUE(selection.driver.has_value());
  int selected = 0;
  for (const Considered& entry : selection.considered) {
    if (entry.verdict == Verdict::kSelected) ++selected;
  }
  EXPECT_EQ(selected, 1);
  // Same input, same answer.
  EXPECT_EQ(SelectDriver(drivers.candidates(), properties).driver, selection.driver);
}

}  // namespace
}  // namespace trellis::manager
