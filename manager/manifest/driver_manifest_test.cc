#include "manager/manifest/driver_manifest.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "manager/manifest/testing/temp_dir.h"

namespace trellis::manager {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class DriverManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    dir_ = fs::canonical(temp_.path()) / "drivers";
    temp_.Write("drivers/libecho.so", "not really a shared object");
    source_ = dir_ / "echo.json";
  }

  // A manifest with a valid name and binary, followed by `extra` fields.
  static std::string Manifest(std::string_view extra = "") {
    std::string json = R"({"name": "echo", "binary": "libecho.so")";
    if (!extra.empty()) json += ", " + std::string(extra);
    return json + "}";
  }

  Result<DriverManifestFile> Parse(std::string_view json) {
    return ParseDriverManifest(json, source_, dir_);
  }

  // The error message of parsing `json`, with the "<source>: " prefix
  // checked and removed.
  std::string Error(std::string_view json) {
    auto result = Parse(json);
    if (result.has_value()) return "<valid>";
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
    std::string prefix = source_.string() + ": ";
    const std::string& message = result.error().message();
    if (!message.starts_with(prefix)) return "<no file prefix> " + message;
    return message.substr(prefix.size());
  }

  TempDir temp_;
  fs::path dir_;
  fs::path source_;
};

TEST_F(DriverManifestTest, ParsesFullManifest) {
  auto file = Parse(R"({
    "name": "virtio-blk",
    "binary": "libecho.so",
    "bind": {
      "accept": [{"key": "virtio.device_id", "values": [{"int_value": 2}]}],
      "reject": [{"key": "trellis.test"}],
      "priority": 10
    },
    "host_restart_on_crash": true,
    "max_restarts": 3,
    "power": {"managed_dispatchers": true, "suspend_timeout_ms": 500},
    "exposes": ["trellis.block.v1.Block", "trellis.device.v1.Device"],
    "access": {"gids": [6]},
    "config": {"queue_depth": 64}
  })");
  ASSERT_TRUE(file) << file.error().ToString();
  EXPECT_EQ(file->manifest.name(), "virtio-blk");
  EXPECT_EQ(file->manifest.bind().priority(), 10);
  EXPECT_EQ(file->manifest.max_restarts(), 3u);
  EXPECT_EQ(file->source, source_);
  EXPECT_EQ(file->directory, dir_);
  EXPECT_EQ(file->binary_path, dir_ / "libecho.so");
  EXPECT_TRUE(file->binary_path.is_absolute());
}

TEST_F(DriverManifestTest, LoadReadsFileAndResolvesAgainstItsDirectory) {
  temp_.Write("drivers/echo.json", Manifest());
  auto file = LoadDriverManifest(source_);
  ASSERT_TRUE(file) << file.error().ToString();
  EXPECT_EQ(file->source, source_);
  EXPECT_EQ(file->directory, dir_);
  EXPECT_EQ(file->binary_path, dir_ / "libecho.so");
}

TEST_F(DriverManifestTest, LoadOfMissingFileIsNotFound) {
  auto file = LoadDriverManifest(dir_ / "missing.json");
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(file.error().message().starts_with((dir_ / "missing.json").string() + ": "));
}

TEST_F(DriverManifestTest, NameIsRequired) {
  EXPECT_EQ(Error(R"({"binary": "libecho.so"})"), "field 'name': must not be empty");
}

TEST_F(DriverManifestTest, NameMustMatchPattern) {
  const std::string reason =
      " is not a valid name: use 1 to 63 characters from [a-z0-9._-], starting with a "
      "lower-case letter or digit";
  EXPECT_EQ(Error(R"({"name": "Echo", "binary": "libecho.so"})"), "field 'name': 'Echo'" + reason);
  EXPECT_EQ(Error(R"({"name": "-echo", "binary": "libecho.so"})"),
            "field 'name': '-echo'" + reason);
  EXPECT_EQ(Error(R"({"name": "a b", "binary": "libecho.so"})"), "field 'name': 'a b'" + reason);
  std::string long_name(64, 'a');
  EXPECT_EQ(Error(R"({"name": ")" + long_name + R"(", "binary": "libecho.so"})"),
            "field 'name': '" + long_name + "'" + reason);
  EXPECT_EQ(Error(R"({"name": ")" + std::string(63, 'a') + R"(", "binary": "libecho.so"})"),
            "<valid>");
  EXPECT_EQ(Error(R"({"name": "0echo.v2_x-y", "binary": "libecho.so"})"), "<valid>");
}

TEST_F(DriverManifestTest, BinaryIsRequired) {
  EXPECT_EQ(Error(R"({"name": "echo"})"), "field 'binary': must not be empty");
}

TEST_F(DriverManifestTest, AbsoluteBinaryIsRejected) {
  EXPECT_EQ(Error(R"({"name": "echo", "binary": "/usr/lib/libecho.so"})"),
            "field 'binary': '/usr/lib/libecho.so' is an absolute path; give it relative to the "
            "manifest's directory");
}

TEST_F(DriverManifestTest, BinaryEscapingDirectoryIsRejected) {
  temp_.Write("x.so", "outside");
  EXPECT_EQ(Error(R"({"name": "echo", "binary": "../x.so"})"),
            "field 'binary': '../x.so' escapes the driver directory " + dir_.string());
  EXPECT_EQ(Error(R"({"name": "echo", "binary": "sub/../../x.so"})"),
            "field 'binary': 'sub/../../x.so' escapes the driver directory " + dir_.string());
}

TEST_F(DriverManifestTest, SymlinkEscapingDirectoryIsRejected) {
  fs::path outside = temp_.Write("outside.so", "outside");
  fs::create_symlink(outside, dir_ / "libsneaky.so");
  EXPECT_EQ(Error(R"({"name": "echo", "binary": "libsneaky.so"})"),
            "field 'binary': 'libsneaky.so' escapes the driver directory " + dir_.string());
}

TEST_F(DriverManifestTest, SymlinkInsideDirectoryResolvesToTarget) {
  temp_.Write("drivers/lib/libecho.so.1", "real");
  fs::create_symlink("lib/libecho.so.1", dir_ / "libalias.so");
  auto file = Parse(R"({"name": "echo", "binary": "libalias.so"})");
  ASSERT_TRUE(file) << file.error().ToString();
  EXPECT_EQ(file->binary_path, dir_ / "lib" / "libecho.so.1");
}

TEST_F(DriverManifestTest, MissingBinaryIsRejected) {
  EXPECT_EQ(Error(R"({"name": "echo", "binary": "libmissing.so"})"),
            "field 'binary': 'libmissing.so' not found in " + dir_.string());
}

TEST_F(DriverManifestTest, BinaryThatIsADirectoryIsRejected) {
  fs::create_directory(dir_ / "sub");
  EXPECT_EQ(Error(R"({"name": "echo", "binary": "sub"})"),
            "field 'binary': 'sub' in " + dir_.string() + " is not a regular file");
}

TEST_F(DriverManifestTest, BindKeyMustNotBeEmpty) {
  EXPECT_EQ(Error(Manifest(R"("bind": {"accept": [{"key": "a"}, {"key": ""}]})")),
            "field 'bind.accept[1].key': must not be empty");
  EXPECT_EQ(Error(Manifest(R"("bind": {"reject": [{"values": [{"int_value": 1}]}]})")),
            "field 'bind.reject[0].key': must not be empty");
}

TEST_F(DriverManifestTest, BindValueMustHaveAValue) {
  EXPECT_EQ(Error(Manifest(
                R"("bind": {"accept": [{"key": "a"}, {"key": "b", "values": [{}]}]})")),
            "field 'bind.accept[1].values[0]': no value set");
}

TEST_F(DriverManifestTest, DuplicateBindKeyIsRejected) {
  EXPECT_EQ(Error(Manifest(R"("bind": {"accept": [{"key": "x"}, {"key": "x"}]})")),
            "field 'bind.accept[1].key': duplicate key 'x'");
  EXPECT_EQ(Error(Manifest(R"("bind": {"reject": [{"key": "y"}, {"key": "z"}, {"key": "y"}]})")),
            "field 'bind.reject[2].key': duplicate key 'y'");
}

TEST_F(DriverManifestTest, SameKeyInAcceptAndRejectIsAllowed) {
  EXPECT_EQ(Error(Manifest(R"("bind": {"accept": [{"key": "x"}],
                                       "reject": [{"key": "x", "values": [{"int_value": 3}]}]})")),
            "<valid>");
}

TEST_F(DriverManifestTest, BindPriorityMustBeWithinRange) {
  EXPECT_EQ(Error(Manifest(R"("bind": {"priority": 1001})")),
            "field 'bind.priority': must be between -1000 and 1000, got 1001");
  EXPECT_EQ(Error(Manifest(R"("bind": {"priority": -1001})")),
            "field 'bind.priority': must be between -1000 and 1000, got -1001");
  EXPECT_EQ(Error(Manifest(R"("bind": {"priority": 1000})")), "<valid>");
  EXPECT_EQ(Error(Manifest(R"("bind": {"priority": -1000})")), "<valid>");
}

TEST_F(DriverManifestTest, ColocationGroupMustMatchPattern) {
  EXPECT_EQ(Error(Manifest(R"("colocation_group": "Storage")")),
            "field 'colocation_group': 'Storage' is not a valid name: use 1 to 63 characters "
            "from [a-z0-9._-], starting with a lower-case letter or digit");
  EXPECT_EQ(Error(Manifest(R"("colocation_group": "storage")")), "<valid>");
}

TEST_F(DriverManifestTest, ColocatedDriversMayAskForHostRestart) {
  // A crash takes the whole group down; each node restarts under its own
  // driver's policy (as DFv2 restarts a colocated host's drivers).
  EXPECT_EQ(Error(Manifest(R"("colocation_group": "g", "host_restart_on_crash": true)")),
            "<valid>");
}

TEST_F(DriverManifestTest, MaxRestartsIsAtMost100) {
  EXPECT_EQ(Error(Manifest(R"("max_restarts": 101)")),
            "field 'max_restarts': must be at most 100, got 101");
  EXPECT_EQ(Error(Manifest(R"("max_restarts": 100)")), "<valid>");
  EXPECT_EQ(Error(Manifest(R"("max_restarts": 0)")), "<valid>");
}

TEST_F(DriverManifestTest, PowerTimeoutsMustBeWithinRange) {
  EXPECT_EQ(Error(Manifest(
                R"("power": {"managed_dispatchers": true, "suspend_timeout_ms": 70000})")),
            "field 'power.suspend_timeout_ms': must be between 1 and 60000 ms, got 70000");
  EXPECT_EQ(Error(Manifest(
                R"("power": {"managed_dispatchers": true, "resume_timeout_ms": 60001})")),
            "field 'power.resume_timeout_ms': must be between 1 and 60000 ms, got 60001");
  EXPECT_EQ(Error(Manifest(R"("power": {"managed_dispatchers": true,
                                        "suspend_timeout_ms": 60000, "resume_timeout_ms": 1})")),
            "<valid>");
}

TEST_F(DriverManifestTest, StopTimeoutMustBeWithinRange) {
  EXPECT_EQ(Error(Manifest(R"("stop_timeout_ms": 250)")), "<valid>");
  EXPECT_EQ(Error(Manifest(R"("stop_timeout_ms": 60001)")),
            "field 'stop_timeout_ms': must be between 1 and 60000 ms, got 60001");
}

TEST_F(DriverManifestTest, LatencyTargetsAreCheckedAgainstTheirTimeouts) {
  EXPECT_EQ(Error(Manifest(R"("power": {"managed_dispatchers": true, "suspend_target_ms": 5,
                                        "resume_target_ms": 10})")),
            "<valid>");
  EXPECT_EQ(Error(Manifest(R"("power": {"managed_dispatchers": true, "suspend_timeout_ms": 50,
                                        "suspend_target_ms": 51})")),
            "field 'power.suspend_target_ms': target 51 ms is past power.suspend_timeout_ms "
            "(50 ms)");
  EXPECT_EQ(Error(Manifest(R"("power": {"managed_dispatchers": true, "resume_target_ms": 60001})")),
            "field 'power.resume_target_ms': must be between 1 and 60000 ms, got 60001");
  EXPECT_EQ(Error(Manifest(R"("power": {"resume_target_ms": 5})")),
            "field 'power.resume_target_ms': power.resume_target_ms is set but "
            "power.managed_dispatchers is false");
}

TEST_F(DriverManifestTest, PowerTimeoutNeedsManagedDispatchers) {
  EXPECT_EQ(Error(Manifest(R"("power": {"suspend_timeout_ms": 500})")),
            "field 'power.suspend_timeout_ms': power.suspend_timeout_ms is set but "
            "power.managed_dispatchers is false");
  EXPECT_EQ(Error(Manifest(R"("power": {"resume_timeout_ms": 500})")),
            "field 'power.resume_timeout_ms': power.resume_timeout_ms is set but "
            "power.managed_dispatchers is false");
  EXPECT_EQ(Error(Manifest(R"("power": {"wake_capable": true})")), "<valid>");
}

TEST_F(DriverManifestTest, ExposesMustBeDottedProtocolNames) {
  for (std::string_view bad : {"block", "Trellis.block", "trellis..Block", "trellis.Block.",
                               "1trellis.Block", "trellis.Blo-ck", ".trellis", "trellis-x.Y"}) {
    EXPECT_EQ(Error(Manifest(R"("exposes": ["trellis.ok.V1", ")" + std::string(bad) + R"("])")),
              "field 'exposes[1]': '" + std::string(bad) +
                  "' is not a dotted protocol name like 'trellis.block.v1.Block'");
  }
  EXPECT_EQ(Error(Manifest(R"("exposes": ["a.B", "trellis_x.block.v1.Block_2"])")), "<valid>");
}

TEST_F(DriverManifestTest, DuplicateExposedProtocolIsRejected) {
  EXPECT_EQ(Error(Manifest(R"("exposes": ["trellis.a.A", "trellis.b.B", "trellis.a.A"])")),
            "field 'exposes[2]': duplicate protocol 'trellis.a.A'");
}

TEST_F(DriverManifestTest, UnprintableTextInErrorsIsEscaped) {
  EXPECT_EQ(Error(R"({"name": "bad\nname", "binary": "libecho.so"})"),
            "field 'name': 'bad\\x0aname' is not a valid name: use 1 to 63 characters from "
            "[a-z0-9._-], starting with a lower-case letter or digit");
}

TEST_F(DriverManifestTest, ValidateWorksWithoutAFile) {
  manifest::v1::DriverManifest manifest;
  manifest.set_name("echo");
  manifest.set_binary("libecho.so");
  EXPECT_TRUE(ValidateDriverManifest(manifest, "inline", dir_));
  manifest.set_max_restarts(500);
  auto result = ValidateDriverManifest(manifest, "inline", dir_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "inline: field 'max_restarts': must be at most 100, got 500");
}

TEST_F(DriverManifestTest, FirstViolationInFieldOrderIsReported) {
  EXPECT_EQ(Error(R"({"name": "Bad", "binary": "/abs", "max_restarts": 101})"),
            "field 'name': 'Bad' is not a valid name: use 1 to 63 characters from [a-z0-9._-], "
            "starting with a lower-case letter or digit");
}

}  // namespace
}  // namespace trellis::manager
