// Fuzz-style robustness test of ParseDriverManifest: seeded random mutations
// of a valid manifest must each either parse or fail with an error naming the
// file. A libFuzzer target can call the same function.
#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "manager/manifest/driver_manifest.h"
#include "manager/manifest/testing/json_mutator.h"
#include "manager/manifest/testing/temp_dir.h"

namespace trellis::manager {
namespace {

constexpr std::string_view kValidManifest = R"({
  "name": "virtio-blk",
  "binary": "libecho.so",
  "bind": {
    "accept": [{"key": "virtio.device_id", "values": [{"int_value": 2}, {"string_value": "x"}]}],
    "reject": [{"key": "trellis.test", "values": [{"bool_value": true}]}],
    "priority": 10,
    "fallback": false
  },
  "colocation_group": "storage",
  "max_restarts": 3,
  "power": {"managed_dispatchers": true, "suspend_timeout_ms": 500, "resume_timeout_ms": 20},
  "exposes": ["trellis.block.v1.Block", "trellis.device.v1.Device"],
  "access": {"uids": [0], "gids": [6]},
  "config": {"queue_depth": 64, "names": ["a", "b"], "nested": {"on": true, "off": null}}
})";

TEST(DriverManifestFuzzTest, ValidSeedParses) {
  testing::TempDir temp;
  temp.Write("libecho.so", "x");
  auto file = ParseDriverManifest(kValidManifest, temp.path() / "seed.json", temp.path());
  ASSERT_TRUE(file) << file.error().ToString();
}

TEST(DriverManifestFuzzTest, RandomMutationsNeverCrashAndErrorsNameTheFile) {
  testing::TempDir temp;
  temp.Write("libecho.so", "x");
  const std::filesystem::path source = temp.path() / "fuzzed.json";
  const std::string prefix = source.string() + ":";
  testing::JsonMutator mutator(/*seed=*/0x7e11150);
  int parsed = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string json = mutator.Mutate(std::string(kValidManifest));
    auto file = ParseDriverManifest(json, source, temp.path());
    if (file.has_value()) {
      ++parsed;
      continue;
    }
    EXPECT_EQ(file.error().code(), ErrorCode::kInvalidArgument) << "mutation " << i;
    EXPECT_TRUE(file.error().message().starts_with(prefix))
        << "mutation " << i << ": " << file.error().message();
  }
  // Some mutations (e.g. inside the free-form config) stay valid; most do not.
  EXPECT_LT(parsed, 1000);
  RecordProperty("parsed", parsed);
}

}  // namespace
}  // namespace trellis::manager
