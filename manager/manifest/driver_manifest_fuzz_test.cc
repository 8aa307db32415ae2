// Fuzz-style robustness test of ParseDriverManifest: seeded random mutations
// of a valid manifest must each either parse or fail with an error naming the
// file. A libFuzzer target can call the same function.
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "manager/manifest/driver_manifest.h"
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

constexpr std::string_view kPunctuation = "{}[]:,\"\\ -0123456789.eE+tfnul'\n\t\x01\xff";

class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}

  std::string Mutate(std::string text) {
    int rounds = Uniform(1, 4);
    for (int i = 0; i < rounds; ++i) MutateOnce(text);
    return text;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  size_t Position(const std::string& text) {
    return text.empty() ? 0 : static_cast<size_t>(Uniform(0, static_cast<int>(text.size()) - 1));
  }

  void MutateOnce(std::string& text) {
    switch (Uniform(0, 4)) {
      case 0:  // flip one bit of one byte
        if (!text.empty()) text[Position(text)] ^= static_cast<char>(1 << Uniform(0, 7));
        break;
      case 1: {  // insert JSON punctuation
        int count = Uniform(1, 3);
        for (int i = 0; i < count; ++i) {
          char c = kPunctuation[static_cast<size_t>(Uniform(0, static_cast<int>(kPunctuation.size()) - 1))];
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(Position(text)), c);
        }
        break;
      }
      case 2: {  // delete a span
        size_t at = Position(text);
        text.erase(at, static_cast<size_t>(Uniform(1, 16)));
        break;
      }
      case 3: {  // duplicate a span somewhere else
        size_t from = Position(text);
        std::string span = text.substr(from, static_cast<size_t>(Uniform(1, 40)));
        text.insert(Position(text), span);
        break;
      }
      case 4:  // truncate
        text.resize(Position(text));
        break;
    }
  }

  std::mt19937 rng_;
};

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
  Mutator mutator(/*seed=*/0x7e11150);
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
