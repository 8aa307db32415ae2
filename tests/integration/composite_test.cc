// Composite nodes against the real manager and hosts: a composite with two
// parents, whose echo drivers run in different hosts, is assembled only once
// the second parent is bound, offers each parent's protocol under the
// parent's name, and is removed first when either parent goes away.
#include <gmock/gmock.h>

#include "tests/integration/testing/manager_fixture.h"

namespace trellis::testing {
namespace {

using ::testing::Contains;
using manager::v1::TopologyEvent;

class CompositeTest : public ManagerFixture {
 protected:
  void SetUp() override {
    StartManager(Board(EchoNode("n", 0, 0)),
                 {{"echo.json", EchoManifest()},
                  {"pair.json",
                   EchoManifest({{"name", R"("echo-pair")"},
                                 {"bind", R"({"accept": [{"key": "trellis.composite",
                                     "values": [{"string_value": "pair"}]}]})"}})}});
    ASSERT_TRUE(WaitForNodeState("root.sys.n", node::v1::NODE_STATE_BOUND));
  }

  grpc::Status Add(const std::string& name, const std::string& role) {
    manager::v1::AddTestNodeRequest request;
    request.set_parent_path("root.sys");
    request.set_name(name);
    auto* compatible = request.add_properties();
    compatible->set_key("trellis.compatible");
    compatible->set_string_value("trellis,echo");
    auto* tag = request.add_properties();
    tag->set_key("role");
    tag->set_string_value(role);
    return Call(&manager::v1::DriverManager::Stub::AddTestNode, request);
  }

  grpc::Status Remove(const std::string& path) {
    manager::v1::RemoveTestNodeRequest request;
    request.set_node_path(path);
    return Call(&manager::v1::DriverManager::Stub::RemoveTestNode, request);
  }

  // The spec: parent "a" is a node with role=a, "b" one with role=b.
  static manifest::v1::CompositeSpec PairSpec(const std::string& name = "pair") {
    manifest::v1::CompositeSpec spec;
    spec.set_name(name);
    for (const std::string role : {"a", "b"}) {
      auto* parent = spec.add_parents();
      parent->set_name(role);
      auto* rule = parent->mutable_bind()->add_accept();
      rule->set_key("role");
      rule->add_values()->set_string_value(role);
    }
    return spec;
  }

  bool Bound(const std::string& path) {
    auto node = FindNode(path);
    return node && node->state() == node::v1::NODE_STATE_BOUND;
  }
};

TEST_F(CompositeTest, AssembledOnlyOnceEveryParentIsBoundAndRemovedFirstWhenOneGoes) {
  manager::v1::AddCompositeSpecRequest add;
  *add.mutable_spec() = PairSpec();
  manager::v1::AddCompositeSpecResponse added;
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::AddCompositeSpec, add, &added).ok());
  EXPECT_EQ(added.node_path(), "") << "no parent is there yet";

  ASSERT_TRUE(Add("pa", "a").ok());
  ASSERT_TRUE(WaitUntil([&] { return Bound("root.sys.pa"); }));
  EXPECT_FALSE(FindNode("root.sys.pa.pair").has_value()) << "parent b is missing";

  ASSERT_TRUE(Add("pb", "b").ok());
  ASSERT_TRUE(WaitUntil([&] { return Bound("root.sys.pa.pair"); }));
  auto composite = FindNode("root.sys.pa.pair");
  EXPECT_EQ(composite->bound_driver(), "echo-pair");
  EXPECT_NE(FindNode("root.sys.pa")->host(), FindNode("root.sys.pb")->host());
  EXPECT_THAT(composite->protocols(), Contains("a/trellis.device.v1.Device"));
  EXPECT_THAT(composite->protocols(), Contains("b/trellis.device.v1.Device"));

  // Parent b's protocol, through the composite, is served by b's driver.
  manager::v1::BindRequest bind;
  bind.set_node_path("root.sys.pa.pair");
  bind.set_protocol("b/trellis.device.v1.Device");
  manager::v1::BindResponse bound;
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::Bind, bind, &bound).ok());
  auto device = device::v1::Device::NewStub(
      grpc::CreateChannel(bound.endpoint(), grpc::InsecureChannelCredentials()));
  auto context = WithToken(bound.token());
  device::v1::CommandRequest command;  // Minor 0: the presence check.
  device::v1::CommandResponse answer;
  EXPECT_TRUE(device->Command(context.get(), command, &answer).ok());

  // Removing b removes the composite first.
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto watch = stub().WatchEvents(&watch_context, {});
  watch->WaitForInitialMetadata();
  ASSERT_TRUE(Remove("root.sys.pb").ok());
  std::vector<std::string> removed;
  TopologyEvent event;
  while (removed.size() < 2 && watch->Read(&event)) {
    if (event.kind() == TopologyEvent::KIND_NODE_REMOVED) removed.push_back(event.node_path());
  }
  EXPECT_EQ(removed, (std::vector<std::string>{"root.sys.pa.pair", "root.sys.pb"}));
  watch_context.TryCancel();

  // Back with b; then a goes, and the composite (its child) with it.
  ASSERT_TRUE(Add("pb", "b").ok());
  ASSERT_TRUE(WaitUntil([&] { return Bound("root.sys.pa.pair"); }));
  ASSERT_TRUE(Remove("root.sys.pa").ok());
  EXPECT_FALSE(FindNode("root.sys.pa.pair").has_value());
  EXPECT_TRUE(Bound("root.sys.pb"));
}

TEST_F(CompositeTest, BadSpecsAreRefused) {
  manager::v1::AddCompositeSpecRequest add;
  *add.mutable_spec() = PairSpec("bad.name");
  EXPECT_EQ(Call(&manager::v1::DriverManager::Stub::AddCompositeSpec, add).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  *add.mutable_spec() = PairSpec();
  add.mutable_spec()->mutable_parents(1)->set_name("a");
  EXPECT_EQ(Call(&manager::v1::DriverManager::Stub::AddCompositeSpec, add).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  *add.mutable_spec() = PairSpec();
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::AddCompositeSpec, add).ok());
  EXPECT_EQ(Call(&manager::v1::DriverManager::Stub::AddCompositeSpec, add).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace trellis::testing
