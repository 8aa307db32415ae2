// The driver index at run time against the real manager and hosts:
// register, disable and enable rebind with fallback; `why` names the rule
// that failed; test nodes come and go; class watches see arrivals and
// departures in order, with stable instance names.
#include <gmock/gmock.h>

#include <fstream>

#include "tests/integration/testing/manager_fixture.h"

namespace trellis::testing {
namespace {

using ::testing::HasSubstr;
using manager::v1::ClassEvent;
using manager::v1::DriverVerdict;

class RuntimeDriverIndexTest : public ManagerFixture {
 protected:
  void SetUp() override {
    StartManager(Board(EchoNode("n", 0, 0)),
                 {{"echo.json", EchoManifest()},
                  {"echo-fb.json", EchoManifest({{"name", R"("echo-fb")"},
                                                 {"bind", R"({"accept": [{"key": "trellis.compatible",
                                                     "values": [{"string_value": "trellis,echo"}]}],
                                                     "fallback": true})"}})}});
    ASSERT_TRUE(WaitForNodeState("root.sys.n", node::v1::NODE_STATE_BOUND));
  }

  std::string DriverAt(const std::string& path) {
    auto node = FindNode(path);
    return node && node->state() == node::v1::NODE_STATE_BOUND ? node->bound_driver() : "";
  }

  manager::v1::ExplainBindingResponse Why(const std::string& path) {
    manager::v1::ExplainBindingRequest request;
    request.set_node_path(path);
    manager::v1::ExplainBindingResponse response;
    EXPECT_TRUE(Call(&manager::v1::DriverManager::Stub::ExplainBinding, request, &response).ok());
    return response;
  }

  grpc::Status SetEnabled(const std::string& driver, bool enable) {
    if (enable) {
      manager::v1::EnableDriverRequest request;
      request.set_driver_name(driver);
      manager::v1::EnableDriverResponse response;
      return Call(&manager::v1::DriverManager::Stub::EnableDriver, request, &response);
    }
    manager::v1::DisableDriverRequest request;
    request.set_driver_name(driver);
    manager::v1::DisableDriverResponse response;
    return Call(&manager::v1::DriverManager::Stub::DisableDriver, request, &response);
  }

  grpc::Status Register(const std::string& file, const std::string& json,
                        manager::v1::RegisterDriverResponse* response) {
    auto path = dir_.path() / "drivers" / file;  // Beside the driver libraries.
    std::ofstream(path) << json;
    manager::v1::RegisterDriverRequest request;
    request.set_manifest_path(path.string());
    return Call(&manager::v1::DriverManager::Stub::RegisterDriver, request, response);
  }

  grpc::Status AddTestNode(const std::string& parent, const std::string& name,
                           const std::string& compatible) {
    manager::v1::AddTestNodeRequest request;
    request.set_parent_path(parent);
    request.set_name(name);
    auto* property = request.add_properties();
    property->set_key("trellis.compatible");
    property->set_string_value(compatible);
    manager::v1::AddTestNodeResponse response;
    return Call(&manager::v1::DriverManager::Stub::AddTestNode, request, &response);
  }

  static const DriverVerdict* VerdictOf(const manager::v1::ExplainBindingResponse& why,
                                        const std::string& driver) {
    for (const auto& c : why.considered()) {
      if (c.driver() == driver) return &c;
    }
    return nullptr;
  }
};

TEST_F(RuntimeDriverIndexTest, DisableRebindsToTheFallbackAndEnableTakesTheNodeBack) {
  auto why = Why("root.sys.n");
  EXPECT_EQ(why.summary(), "bound to 'echo'");
  ASSERT_NE(VerdictOf(why, "echo-fb"), nullptr);
  EXPECT_EQ(VerdictOf(why, "echo-fb")->verdict(), DriverVerdict::VERDICT_FALLBACK_NOT_NEEDED);

  ASSERT_TRUE(SetEnabled("echo", false).ok());
  EXPECT_TRUE(WaitUntil([&] { return DriverAt("root.sys.n") == "echo-fb"; }));
  why = Why("root.sys.n");
  EXPECT_EQ(VerdictOf(why, "echo")->verdict(), DriverVerdict::VERDICT_DISABLED);
  EXPECT_EQ(VerdictOf(why, "echo-fb")->verdict(), DriverVerdict::VERDICT_SELECTED);

  ASSERT_TRUE(SetEnabled("echo", true).ok());
  EXPECT_TRUE(WaitUntil([&] { return DriverAt("root.sys.n") == "echo"; }))
      << "the fallback yields to the driver enabled again";
  EXPECT_EQ(SetEnabled("nope", false).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RuntimeDriverIndexTest, DisablingTheOnlyDriverLeavesTheNodeUnboundAndWhySaysSo) {
  ASSERT_TRUE(SetEnabled("echo-fb", false).ok());
  ASSERT_TRUE(SetEnabled("echo", false).ok());
  EXPECT_TRUE(WaitForNodeState("root.sys.n", node::v1::NODE_STATE_UNBOUND));
  EXPECT_THAT(Why("root.sys.n").summary(), HasSubstr("unbound: no driver matches"));
  ASSERT_TRUE(SetEnabled("echo-fb", true).ok());
  EXPECT_TRUE(WaitUntil([&] { return DriverAt("root.sys.n") == "echo-fb"; }));
}

TEST_F(RuntimeDriverIndexTest, WhyNamesTheRuleThatFailedAndARegisteredDriverBindsATestNode) {
  ASSERT_TRUE(AddTestNode("root.sys", "t", "trellis,late").ok());
  EXPECT_TRUE(WaitForNodeState("root.sys.t", node::v1::NODE_STATE_UNBOUND));
  auto why = Why("root.sys.t");
  EXPECT_EQ(why.summary(), "unbound: no driver matches (2 considered)");
  ASSERT_NE(VerdictOf(why, "echo"), nullptr);
  EXPECT_EQ(VerdictOf(why, "echo")->verdict(), DriverVerdict::VERDICT_RULE_FAILED);
  EXPECT_THAT(VerdictOf(why, "echo")->reason(), HasSubstr("accept rule 'trellis.compatible'"));
  EXPECT_THAT(VerdictOf(why, "echo")->reason(), HasSubstr("trellis,late"));

  manager::v1::RegisterDriverResponse registered;
  ASSERT_TRUE(Register("late.json",
                       EchoManifest({{"name", R"("echo-late")"},
                                     {"bind", R"({"accept": [{"key": "trellis.compatible",
                                         "values": [{"string_value": "trellis,late"}]}]})"}}),
                       &registered)
                  .ok());
  EXPECT_EQ(registered.driver_name(), "echo-late");
  EXPECT_THAT(registered.bound_nodes(), ::testing::ElementsAre("root.sys.t"));
  EXPECT_TRUE(WaitUntil([&] { return DriverAt("root.sys.t") == "echo-late"; }));
  EXPECT_EQ(DriverAt("root.sys.n"), "echo") << "a bound node keeps its driver";

  // The same name again, and a manifest that breaks a rule.
  EXPECT_EQ(Register("late2.json", EchoManifest({{"name", R"("echo-late")"}}), &registered)
                .error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  grpc::Status bad = Register("bad.json", EchoManifest({{"name", R"("Bad Name")"}}), &registered);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("field 'name'"));

  // The test node goes, its driver stopped first.
  manager::v1::RemoveTestNodeRequest remove;
  remove.set_node_path("root.sys.t");
  manager::v1::RemoveTestNodeResponse removed;
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::RemoveTestNode, remove, &removed).ok());
  EXPECT_FALSE(FindNode("root.sys.t").has_value());
  remove.set_node_path("root.sys.n");
  EXPECT_EQ(Call(&manager::v1::DriverManager::Stub::RemoveTestNode, remove, &removed).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION)
      << "a board node is not a test node";
  EXPECT_EQ(AddTestNode("root.nope", "x", "y").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(AddTestNode("root.sys", "bad.name", "y").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(RuntimeDriverIndexTest, AClassWatchSeesArrivalsAndDeparturesInOrder) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  manager::v1::WatchClassRequest request;
  request.set_class_name("device");
  auto watch = stub().WatchClass(&context, request);
  ClassEvent event;
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_TRUE(event.existing());
  EXPECT_EQ(event.instance().instance(), "device/000");
  EXPECT_EQ(event.instance().node_path(), "root.sys.n");
  EXPECT_EQ(event.instance().driver(), "echo");

  ASSERT_TRUE(AddTestNode("root.sys", "t", "trellis,echo").ok());
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.kind(), ClassEvent::KIND_ARRIVED);
  EXPECT_FALSE(event.existing());
  EXPECT_EQ(event.instance().instance(), "device/001");
  EXPECT_EQ(event.instance().node_path(), "root.sys.t");

  ASSERT_TRUE(SetEnabled("echo", false).ok());
  // Each node: its echo departs, then echo-fb arrives under the same name.
  std::map<std::string, std::vector<std::string>> seen;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(watch->Read(&event));
    seen[event.instance().node_path()].push_back(
        std::string(event.kind() == ClassEvent::KIND_ARRIVED ? "+" : "-") +
        event.instance().instance() + " " + event.instance().driver());
  }
  EXPECT_EQ(seen["root.sys.n"], (std::vector<std::string>{"-device/000 echo", "+device/000 echo-fb"}));
  EXPECT_EQ(seen["root.sys.t"], (std::vector<std::string>{"-device/001 echo", "+device/001 echo-fb"}));

  // Bind finds an instance by its class name.
  manager::v1::BindRequest bind;
  bind.set_node_path("class/device/001");
  manager::v1::BindResponse bound;
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::Bind, bind, &bound).ok());
  EXPECT_FALSE(bound.token().empty());

  manager::v1::ListClassRequest list;
  manager::v1::ListClassResponse listed;
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::ListClass, list, &listed).ok());
  ASSERT_EQ(listed.instances_size(), 2);
  EXPECT_EQ(listed.instances(1).instance(), "device/001");
  context.TryCancel();
}

}  // namespace
}  // namespace trellis::testing
