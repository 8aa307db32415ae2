// JsonMutator: seeded random damage to JSON text (bit flips, inserted JSON
// punctuation, deleted and duplicated spans, truncation) for fuzz-style tests
// of the manifest parsers. Same seed, same sequence of mutations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace trellis::manager::testing {

class JsonMutator {
 public:
  explicit JsonMutator(uint32_t seed) : rng_(seed) {}

  // Returns `text` after one to four random mutations.
  std::string Mutate(std::string text) {
    int rounds = Uniform(1, 4);
    for (int i = 0; i < rounds; ++i) MutateOnce(text);
    return text;
  }

 private:
  static constexpr std::string_view kPunctuation =
      "{}[]:,\"\\ -0123456789.eE+tfnul'\n\t\x01\xff";

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
          char c = kPunctuation[static_cast<size_t>(
              Uniform(0, static_cast<int>(kPunctuation.size()) - 1))];
          text.insert(Position(text), 1, c);
        }
        break;
      }
      case 2:  // delete a span
        text.erase(Position(text), static_cast<size_t>(Uniform(1, 16)));
        break;
      case 3: {  // duplicate a span somewhere else
        std::string span = text.substr(Position(text), static_cast<size_t>(Uniform(1, 40)));
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

}  // namespace trellis::manager::testing
