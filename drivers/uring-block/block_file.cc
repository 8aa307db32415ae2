#include "drivers/uring-block/block_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstring>

#include "runtime/reactor.h"

namespace trellis::uring_block {

namespace {

constexpr uint32_t kAlignment = 4096;
// EAGAIN answers one request may get before it fails with EAGAIN.
constexpr unsigned kMaxAgain = 16;

Result<void> CheckOptions(const BlockFileOptions& o) {
  if (o.path.empty()) return Fail(ErrorCode::kInvalidArgument, "path: empty");
  if (o.block_size != 0 &&
      (o.block_size < 512 || o.block_size > 65536 || !std::has_single_bit(o.block_size))) {
    return Fail(ErrorCode::kInvalidArgument,
                "block_size: " + std::to_string(o.block_size) +
                    " is not a power of two between 512 and 65536");
  }
  if (o.queue_depth == 0 || o.queue_depth > 1024) {
    return Fail(ErrorCode::kInvalidArgument,
                "queue_depth: " + std::to_string(o.queue_depth) + " is not in 1..1024");
  }
  if (o.max_transfer == 0 || o.max_transfer % kAlignment != 0 || o.max_transfer > (64u << 20)) {
    return Fail(ErrorCode::kInvalidArgument,
                "max_transfer: " + std::to_string(o.max_transfer) +
                    " is not a multiple of 4096 up to 64 MiB");
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<BlockFile>> BlockFile::Open(Reactor& reactor, UnownedDispatcher dispatcher,
                                                   BlockFileOptions options) {
  TRELLIS_TRY(CheckOptions(options));
  std::unique_ptr<BlockFile> file(new BlockFile(reactor, std::move(dispatcher), std::move(options)));
  TRELLIS_TRY(file->Init(), file->options_.path);
  return file;
}

Result<void> BlockFile::Init() {
  int flags = (options_.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (options_.direct) flags |= O_DIRECT;
  fd_ = ::open(options_.path.c_str(), flags);
  if (fd_ < 0) {
    if (errno == EINVAL && options_.direct) {
      return Fail(ErrorCode::kInvalidArgument,
                  "O_DIRECT is not supported by the file system holding it");
    }
    return FailErrno(errno, "open");
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return FailErrno(errno, "fstat");
  uint64_t bytes = 0;
  uint32_t logical = 512;
  if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd_, BLKGETSIZE64, &bytes) != 0) return FailErrno(errno, "ioctl(BLKGETSIZE64)");
    int sector = 0;
    if (::ioctl(fd_, BLKSSZGET, &sector) == 0 && sector > 0) logical = static_cast<uint32_t>(sector);
  } else if (S_ISREG(st.st_mode)) {
    bytes = static_cast<uint64_t>(st.st_size);
    if (options_.direct) logical = kAlignment;
  } else {
    return Fail(ErrorCode::kInvalidArgument, "not a regular file or a block device");
  }
  uint32_t block_size = options_.block_size != 0 ? options_.block_size : logical;
  if (block_size < logical) {
    return Fail(ErrorCode::kInvalidArgument,
                "block_size " + std::to_string(block_size) + " is below the device's " +
                    std::to_string(logical) + "-byte logical block");
  }
  if (options_.max_transfer < block_size) options_.max_transfer = block_size;
  info_ = BlockInfo{.block_size = block_size,
                    .block_count = bytes / block_size,
                    .read_only = options_.read_only,
                    .optimal_transfer_size = std::max<uint32_t>(block_size, kAlignment),
                    .max_transfer_size = options_.max_transfer - options_.max_transfer % block_size};

  shared_ = std::make_shared<Shared>();
  shared_->self = this;
  shared_->memory = IoBuffer::Allocate(size_t{options_.queue_depth} * options_.max_transfer, kAlignment);
  slots_.resize(options_.queue_depth);
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].bounce = shared_->memory.span().subspan(i * options_.max_transfer, options_.max_transfer);
    free_.push_back(slots_.size() - 1 - i);  // Lowest slot first.
  }
  // Registration is an optimisation: without free table slots (or on an
  // old kernel) the same operations run with a plain fd and buffer.
  if (auto slot = reactor_.fixed().RegisterFile(fd_)) fixed_file_ = std::move(*slot);
  if (auto slot = reactor_.fixed().RegisterBuffer(shared_->memory.span())) {
    fixed_buffer_ = std::move(*slot);
  }
  return Ok();
}

BlockFile::~BlockFile() {
  // Operations still in the kernel complete into `shared_` (which they keep
  // alive) and find no BlockFile; their requests' callers are told now.
  if (shared_) shared_->self = nullptr;
  for (Slot& slot : slots_) {
    slot.op.Detach();
    if (slot.done) std::exchange(slot.done, nullptr)(Fail(ErrorCode::kAborted, "the device closed"));
  }
  for (Pending& pending : queue_) pending.done(Fail(ErrorCode::kAborted, "the device closed"));
  fixed_file_.Reset();
  fixed_buffer_.Reset();
  if (fd_ >= 0) ::close(fd_);
}

void BlockFile::Submit(const BlockRequest& request, BlockDone done) {
  if (auto valid = ValidateBlockRequest(info_, request); !valid) {
    done(std::move(valid));
    return;
  }
  if (quiesced_ || free_.empty() || !queue_.empty()) {
    ++stats_.queued;
    queue_.push_back({request, std::move(done)});
    return;
  }
  size_t slot = free_.back();
  free_.pop_back();
  Start(slot, request, std::move(done));
}

void BlockFile::Start(size_t index, BlockRequest request, BlockDone done) {
  Slot& slot = slots_[index];
  slot.request = request;
  slot.done = std::move(done);
  slot.done_bytes = 0;
  slot.again = 0;
  if (request.op == BlockOp::kWrite) {
    std::memcpy(slot.bounce.data(), request.data.data(), request.data.size());
  }
  Issue(index);
}

void BlockFile::Issue(size_t index) {
  Slot& slot = slots_[index];
  const BlockRequest& r = slot.request;
  uint64_t offset = r.offset_blocks * info_.block_size;
  io_uring_sqe sqe{};
  int fd = fixed_file_ ? static_cast<int>(fixed_file_.index()) : fd_;
  switch (r.op) {
    case BlockOp::kRead:
    case BlockOp::kWrite: {
      std::byte* buffer = slot.bounce.data() + slot.done_bytes;
      auto length = static_cast<unsigned>(r.data.size() - slot.done_bytes);
      uint64_t at = offset + slot.done_bytes;
      bool read = r.op == BlockOp::kRead;
      if (fixed_buffer_) {
        if (read) {
          io_uring_prep_read_fixed(&sqe, fd, buffer, length, at, static_cast<int>(fixed_buffer_.index()));
        } else {
          io_uring_prep_write_fixed(&sqe, fd, buffer, length, at, static_cast<int>(fixed_buffer_.index()));
        }
      } else if (read) {
        io_uring_prep_read(&sqe, fd, buffer, length, at);
      } else {
        io_uring_prep_write(&sqe, fd, buffer, length, at);
      }
      if (!read && r.fua) sqe.rw_flags = RWF_DSYNC;
      break;
    }
    case BlockOp::kFlush:
      io_uring_prep_fsync(&sqe, fd, IORING_FSYNC_DATASYNC);
      break;
    case BlockOp::kDiscard:
    case BlockOp::kWriteZeroes: {
      int mode = FALLOC_FL_KEEP_SIZE |
                 (r.op == BlockOp::kDiscard ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
      io_uring_prep_fallocate(&sqe, fd, mode, offset, r.length_blocks * info_.block_size);
      break;
    }
  }
  if (fixed_file_) sqe.flags |= IOSQE_FIXED_FILE;
  auto op = reactor_.Submit(
      sqe,
      [shared = shared_, index](Completion completion) {
        if (shared->self != nullptr) shared->self->OnComplete(index, completion.result);
      },
      SubmitOptions{.dispatcher = dispatcher_, .system = true});
  if (!op) {
    Finish(index, Fail(op.error()));
    return;
  }
  slot.op = std::move(*op);
}

void BlockFile::OnComplete(size_t index, int32_t result) {
  Slot& slot = slots_[index];
  slot.op.Detach();  // Completed: nothing left to cancel.
  const BlockRequest& r = slot.request;
  std::string what(BlockOpName(r.op));
  // The kernel may answer EAGAIN when it could not start the I/O now (a
  // device short of tags, a file that asked for NOWAIT): try again, a
  // bounded number of times, then give the caller the retryable error.
  if (result == -EAGAIN && slot.again < kMaxAgain) {
    ++slot.again;
    ++stats_.retried;
    Issue(index);
    return;
  }
  if (result < 0) {
    Finish(index, FailErrno(-result, what + " at block " + std::to_string(r.offset_blocks)));
    return;
  }
  if (r.op == BlockOp::kRead || r.op == BlockOp::kWrite) {
    if (result == 0) {
      // The file shrank under us, or the device stopped making progress.
      Finish(index, FailErrno(EIO, what + " at block " + std::to_string(r.offset_blocks) +
                                       " made no progress (file shorter than the device?)"));
      return;
    }
    slot.done_bytes += static_cast<uint64_t>(result);
    if (slot.done_bytes < r.data.size()) {
      ++stats_.resubmitted;
      Issue(index);
      return;
    }
    if (r.op == BlockOp::kRead) std::memcpy(r.data.data(), slot.bounce.data(), r.data.size());
  }
  Finish(index, Ok());
}

void BlockFile::Finish(size_t index, Result<void> result) {
  Slot& slot = slots_[index];
  ++stats_.completed;
  if (!result) ++stats_.errors;
  BlockDone done = std::exchange(slot.done, nullptr);
  free_.push_back(index);
  StartQueued();
  if (quiesced_ && in_flight() == 0 && drained_) std::exchange(drained_, nullptr)();
  done(std::move(result));
}

void BlockFile::StartQueued() {
  while (!quiesced_ && !free_.empty() && !queue_.empty()) {
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    size_t slot = free_.back();
    free_.pop_back();
    Start(slot, pending.request, std::move(pending.done));
  }
}

void BlockFile::Quiesce(std::move_only_function<void()> drained) {
  quiesced_ = true;
  if (in_flight() == 0) {
    if (drained) drained();
    return;
  }
  drained_ = std::move(drained);
}

void BlockFile::Unquiesce() {
  quiesced_ = false;
  drained_ = nullptr;
  StartQueued();
}

}  // namespace trellis::uring_block
