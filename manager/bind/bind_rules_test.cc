#include "manager/bind/bind_rules.h"

#include <string>

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace trellis::manager {
namespace {

using manifest::v1::BindRules;

BindRules Rules(const std::string& text) {
  BindRules rules;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &rules)) << text;
  return rules;
}

// Node properties from text, e.g. `{key: "a" int_value: 1}`, one per element.
Properties Props(std::initializer_list<std::string> texts) {
  Properties properties;
  for (const std::string& text : texts) {
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, properties.Add())) << text;
  }
  return properties;
}

TEST(MatchBindRulesTest, EmptyAcceptListMatchesEveryNode) {
  RuleCheck check = MatchBindRules(BindRules(), Props({}));
  EXPECT_TRUE(check.matched);
  EXPECT_EQ(check.reason, "");
  EXPECT_TRUE(MatchBindRules(BindRules(), Props({R"(key: "a" int_value: 1)"})).matched);
}

TEST(MatchBindRulesTest, MissingPropertyFailsAcceptRule) {
  RuleCheck check = MatchBindRules(Rules(R"(accept { key: "virtio.device_id" })"),
                                   Props({R"(key: "trellis.bus" string_value: "virtio")"}));
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "accept rule 'virtio.device_id': node has no such property");
}

TEST(MatchBindRulesTest, EmptyValuesMeanKeyPresenceIsEnough) {
  BindRules rules = Rules(R"(accept { key: "virtio.device_id" })");
  EXPECT_TRUE(MatchBindRules(rules, Props({R"(key: "virtio.device_id" int_value: 7)"})).matched);
  EXPECT_TRUE(MatchBindRules(rules, Props({R"(key: "virtio.device_id" string_value: "")"})).matched);
  EXPECT_TRUE(MatchBindRules(rules, Props({R"(key: "virtio.device_id")"})).matched);
}

TEST(MatchBindRulesTest, ValueMustEqualOneOfTheValues) {
  BindRules rules = Rules(R"(accept { key: "virtio.device_id" values { int_value: 2 }
                                                             values { int_value: 4 } })");
  EXPECT_TRUE(MatchBindRules(rules, Props({R"(key: "virtio.device_id" int_value: 4)"})).matched);
  RuleCheck check = MatchBindRules(rules, Props({R"(key: "virtio.device_id" int_value: 3)"}));
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "accept rule 'virtio.device_id': node has 3, wants one of [2, 4]");
}

TEST(MatchBindRulesTest, TypeMismatchNeverMatches) {
  BindRules by_int = Rules(R"(accept { key: "id" values { int_value: 3 } })");
  RuleCheck check = MatchBindRules(by_int, Props({R"(key: "id" string_value: "3")"}));
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "accept rule 'id': node has \"3\", wants one of [3]");

  BindRules by_bool = Rules(R"(accept { key: "on" values { bool_value: true } })");
  EXPECT_FALSE(MatchBindRules(by_bool, Props({R"(key: "on" int_value: 1)"})).matched);
  EXPECT_FALSE(MatchBindRules(by_bool, Props({R"(key: "on" string_value: "true")"})).matched);
  EXPECT_TRUE(MatchBindRules(by_bool, Props({R"(key: "on" bool_value: true)"})).matched);

  BindRules by_zero = Rules(R"(accept { key: "n" values { int_value: 0 } })");
  EXPECT_FALSE(MatchBindRules(by_zero, Props({R"(key: "n" bool_value: false)"})).matched);
  EXPECT_FALSE(MatchBindRules(by_zero, Props({R"(key: "n")"})).matched);
}

TEST(MatchBindRulesTest, StringsCompareExactlyAndCaseSensitively) {
  BindRules rules = Rules(R"(accept { key: "compat" values { string_value: "sim,rtc" } })");
  EXPECT_TRUE(MatchBindRules(rules, Props({R"(key: "compat" string_value: "sim,rtc")"})).matched);
  RuleCheck check = MatchBindRules(rules, Props({R"(key: "compat" string_value: "SIM,rtc")"}));
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "accept rule 'compat': node has \"SIM,rtc\", wants one of [\"sim,rtc\"]");
  EXPECT_FALSE(MatchBindRules(rules, Props({R"(key: "compat" string_value: "sim,rtc ")"})).matched);
}

TEST(MatchBindRulesTest, EveryAcceptRuleMustMatch) {
  BindRules rules = Rules(R"(accept { key: "a" } accept { key: "b" values { int_value: 1 } })");
  EXPECT_TRUE(MatchBindRules(rules, Props({R"(key: "b" int_value: 1)", R"(key: "a" int_value: 9)"}))
                  .matched);
  RuleCheck check = MatchBindRules(rules, Props({R"(key: "a" int_value: 9)"}));
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "accept rule 'b': node has no such property");
}

TEST(MatchBindRulesTest, ReasonNamesTheFirstFailingRule) {
  BindRules rules = Rules(R"(accept { key: "a" } accept { key: "b" }
                             reject { key: "c" })");
  RuleCheck check = MatchBindRules(rules, Props({R"(key: "c" int_value: 1)"}));
  EXPECT_EQ(check.reason, "accept rule 'a': node has no such property");
}

TEST(MatchBindRulesTest, RejectWinsOverAccept) {
  BindRules rules = Rules(R"(accept { key: "virtio.device_id" }
                             reject { key: "trellis.test" values { string_value: "yes" } })");
  Properties props = Props({R"(key: "virtio.device_id" int_value: 2)",
                            R"(key: "trellis.test" string_value: "yes")"});
  RuleCheck check = MatchBindRules(rules, props);
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "reject rule 'trellis.test': matched \"yes\"");

  Properties other = Props({R"(key: "virtio.device_id" int_value: 2)",
                            R"(key: "trellis.test" string_value: "no")"});
  EXPECT_TRUE(MatchBindRules(rules, other).matched);
}

TEST(MatchBindRulesTest, RejectWithoutValuesRejectsOnPresence) {
  BindRules rules = Rules(R"(reject { key: "quirk" })");
  RuleCheck check = MatchBindRules(rules, Props({R"(key: "quirk" bool_value: false)"}));
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "reject rule 'quirk': matched false");
  EXPECT_TRUE(MatchBindRules(rules, Props({R"(key: "other" bool_value: false)"})).matched);
}

TEST(MatchBindRulesTest, RuleValueWithoutOneofNeverMatches) {
  BindRules rules = Rules(R"(accept { key: "a" values {} })");
  RuleCheck check = MatchBindRules(rules, Props({R"(key: "a")"}));
  EXPECT_FALSE(check.matched);
  EXPECT_EQ(check.reason, "accept rule 'a': node has <no value>, wants one of [<no value>]");
}

TEST(MatchBindRulesTest, LongValueListsAreCutInReasons) {
  std::string text = R"(accept { key: "id" )";
  for (int i = 0; i < 12; ++i) text += "values { int_value: " + std::to_string(i) + " } ";
  RuleCheck check = MatchBindRules(Rules(text + "}"), Props({R"(key: "id" int_value: 99)"}));
  EXPECT_EQ(check.reason,
            "accept rule 'id': node has 99, wants one of [0, 1, 2, 3, 4, 5, 6, 7, ... (4 more)]");
}

TEST(MatchBindRulesTest, UnprintableTextIsEscapedInReasons) {
  BindRules rules = Rules(R"(reject { key: "k\n" })");
  RuleCheck check = MatchBindRules(rules, Props({R"(key: "k\n" string_value: "a\"b")"}));
  EXPECT_EQ(check.reason, "reject rule 'k\\x0a': matched \"a\\\"b\"");
}

}  // namespace
}  // namespace trellis::manager
