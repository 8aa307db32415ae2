#include "drivers/gpt/table_reader.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace trellis::gpt {

namespace {

// More rounds than a GPT needs: a parser asking again and again for data
// it has been given is a bug, not a reason to loop.
constexpr int kMaxRounds = 8;

// Largest single read when the device sets no limit of its own.
constexpr uint64_t kDefaultTransfer = 1 << 20;

struct Range {
  uint64_t offset = 0;  // bytes
  uint64_t length = 0;
};

class Reader : public std::enable_shared_from_this<Reader> {
 public:
  Reader(BlockProtocol& disk, std::move_only_function<void(Result<Table>)> done)
      : disk_(disk), info_(disk.Info()), done_(std::move(done)) {}

  void Round() {
    if (++rounds_ > kMaxRounds) {
      Finish(Fail(ErrorCode::kInternal, "the GPT parser kept asking for more data"));
      return;
    }
    missing_.reset();
    auto table = ParseGpt(info_.block_size, info_.block_count,
                          [this](uint64_t offset, std::span<std::byte> out) {
                            return ReadCached(offset, out);
                          });
    if (!missing_) {
      Finish(std::move(table));
      return;
    }
    // Whole blocks around the range the parser wanted.
    uint64_t bs = info_.block_size;
    uint64_t first = missing_->offset / bs;
    uint64_t last = (missing_->offset + missing_->length + bs - 1) / bs;  // exclusive
    auto chunk = std::make_shared<std::vector<std::byte>>((last - first) * bs);
    ReadBlocks(first, chunk, 0);
  }

 private:
  // Serves the parser from the cache; records what is missing otherwise.
  Result<void> ReadCached(uint64_t offset, std::span<std::byte> out) {
    auto it = cache_.upper_bound(offset);
    if (it != cache_.begin()) {
      --it;
      const auto& [start, bytes] = *it;
      if (offset >= start && offset + out.size() <= start + bytes.size()) {
        std::memcpy(out.data(), bytes.data() + (offset - start), out.size());
        return Ok();
      }
    }
    missing_ = Range{offset, out.size()};
    return Fail(ErrorCode::kUnavailable, "not read yet");
  }

  // Reads `chunk` (blocks from `first`), from byte `done` on, in transfers
  // the device accepts; then caches it and parses again.
  void ReadBlocks(uint64_t first, std::shared_ptr<std::vector<std::byte>> chunk, size_t done) {
    if (done == chunk->size()) {
      cache_[first * info_.block_size] = std::move(*chunk);
      Round();
      return;
    }
    uint64_t max = info_.max_transfer_size != 0 ? info_.max_transfer_size : kDefaultTransfer;
    max = std::max<uint64_t>(max - max % info_.block_size, info_.block_size);
    uint64_t bytes = std::min<uint64_t>(chunk->size() - done, max);
    BlockRequest request{.op = BlockOp::kRead,
                         .offset_blocks = first + done / info_.block_size,
                         .length_blocks = bytes / info_.block_size,
                         .data = std::span<std::byte>(chunk->data() + done, bytes)};
    disk_.Submit(request, [self = shared_from_this(), first, chunk, done,
                           bytes](Result<void> result) mutable {
      if (!result) {
        self->Finish(Fail(result.error().WithContext(
            "reading blocks " + std::to_string(first + done / self->info_.block_size) + ".." +
            std::to_string(first + (done + bytes) / self->info_.block_size - 1) + " of the disk")));
        return;
      }
      self->ReadBlocks(first, std::move(chunk), done + bytes);
    });
  }

  void Finish(Result<Table> table) {
    auto done = std::move(done_);
    if (done) done(std::move(table));
  }

  BlockProtocol& disk_;
  const BlockInfo info_;
  std::move_only_function<void(Result<Table>)> done_;
  std::map<uint64_t, std::vector<std::byte>> cache_;  // By byte offset.
  std::optional<Range> missing_;
  int rounds_ = 0;
};

}  // namespace

void ReadGptTable(BlockProtocol& disk, std::move_only_function<void(Result<Table>)> done) {
  std::make_shared<Reader>(disk, std::move(done))->Round();
}

}  // namespace trellis::gpt
