// uring-block: a regular file or a block device as a Block node.
//
// Serves Block on its node, and offers it on a child node "block"
// (trellis.protocol = trellis.block.v1.Block) for drivers such as gpt.
//
// Node properties (from the board or a parent driver):
//   block.path         string, required: the file or device
//   block.block_size   int, default 0 (the device's; 512, 4096 with direct)
//   block.direct       bool: O_DIRECT
//   block.read_only    bool
//   block.queue_depth  int, default 32: operations in the kernel at once
//   block.max_transfer int, default 131072: largest transfer in bytes
//
// Power: SystemSuspend stops starting requests and completes once those in
// the kernel have finished; requests that arrive meanwhile queue (on the
// suspended dispatcher, then in BlockFile) and run after SystemResume.
#include "drivers/uring-block/block_file.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/driver_export.h"

namespace trellis::drivers {

class UringBlockDriver final : public Driver {
 public:
  explicit UringBlockDriver(DriverContext context) : Driver(context) {}

  void Start(StartCompleter completer) override {
    auto options = Options(context().start_args().properties);
    if (!options) {
      completer(Fail(options.error()));
      return;
    }
    auto file = uring_block::BlockFile::Open(context().reactor(), context().dispatcher(),
                                             std::move(*options));
    if (!file) {
      completer(Fail(file.error()));
      return;
    }
    file_ = std::move(*file);
    if (auto served = context().Serve<BlockProtocol>(*file_); !served) {
      completer(std::move(served));
      return;
    }
    // The disk as a child Block node too, for drivers that bind to Block
    // nodes (gpt): they reach this driver's BlockFile through the offer.
    ChildArgs child{.name = "block",
                    .properties = {{"trellis.protocol", std::string(BlockProtocol::kName)}}};
    child.Offer<BlockProtocol>(*file_);
    context().AddChild(std::move(child), [completer = std::move(completer)](
                                             Result<std::string> added) mutable {
      completer(added ? Ok() : Result<void>(Fail(added.error().WithContext("adding node 'block'"))));
    });
  }

  void Stop(StopCompleter completer) override {
    // Requests already in the kernel finish first; the file closes after.
    file_->Quiesce([this, completer = std::move(completer)]() mutable {
      file_.reset();
      completer();
    });
  }

  void SystemSuspend(SuspendCompleter completer) override {
    file_->Quiesce([completer = std::move(completer)]() mutable { completer(Ok()); });
  }

  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    file_->Unquiesce();
    completer(Ok());
  }

 private:
  static Result<uring_block::BlockFileOptions> Options(const NodeProperties& props) {
    uring_block::BlockFileOptions o;
    TRELLIS_ASSIGN_OR_RETURN(o.path, PropertyOr<std::string>(props, "block.path", ""));
    if (o.path.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "the node has no 'block.path' property");
    }
    TRELLIS_ASSIGN_OR_RETURN(uint64_t block_size, PropertyOr<uint64_t>(props, "block.block_size", 0));
    TRELLIS_ASSIGN_OR_RETURN(o.direct, PropertyOr<bool>(props, "block.direct", false));
    TRELLIS_ASSIGN_OR_RETURN(o.read_only, PropertyOr<bool>(props, "block.read_only", false));
    TRELLIS_ASSIGN_OR_RETURN(uint64_t depth, PropertyOr<uint64_t>(props, "block.queue_depth", 32));
    TRELLIS_ASSIGN_OR_RETURN(uint64_t max, PropertyOr<uint64_t>(props, "block.max_transfer", 128 * 1024));
    // Out-of-range values are named by BlockFile's own checks.
    o.block_size = static_cast<uint32_t>(std::min<uint64_t>(block_size, UINT32_MAX));
    o.queue_depth = static_cast<uint32_t>(std::min<uint64_t>(depth, UINT32_MAX));
    o.max_transfer = static_cast<uint32_t>(std::min<uint64_t>(max, UINT32_MAX));
    return o;
  }

  std::unique_ptr<uring_block::BlockFile> file_;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::UringBlockDriver);
