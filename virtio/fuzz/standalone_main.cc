// A main() for fuzz targets built without libFuzzer (GCC, or a clang without
// its runtime): replays the files named on the command line, or, with none,
// runs a fixed number of pseudo-random inputs from a fixed seed, so that a
// sanitizer build can still exercise the target. Not coverage-guided.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream file(argv[i], std::ios::binary);
      if (!file) {
        std::fprintf(stderr, "cannot read %s\n", argv[i]);
        return 1;
      }
      std::vector<uint8_t> input((std::istreambuf_iterator<char>(file)),
                                 std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("replayed %d inputs\n", argc - 1);
    return 0;
  }
  const char* runs_env = std::getenv("FUZZ_RUNS");
  const long runs = runs_env != nullptr ? std::atol(runs_env) : 20000;
  std::mt19937_64 rng(0x7e11157);
  std::vector<uint8_t> input;
  for (long r = 0; r < runs; ++r) {
    input.resize(rng() % 512);
    for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("ran %ld pseudo-random inputs\n", runs);
  return 0;
}
