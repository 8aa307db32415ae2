// gpt: binds to a Block node (trellis.protocol = trellis.block.v1.Block),
// reads its GUID partition table through the Block protocol the parent
// offers, and adds one child Block node per partition:
//
//   p<N>                    N = entry index + 1, as sgdisk and Linux number
//     trellis.protocol      "trellis.block.v1.Block"
//     block.partition       true (so gpt does not bind to its own children)
//     gpt.index             N
//     gpt.name              the partition name (UTF-8)
//     gpt.type_guid         e.g. "0fc63daf-8483-4772-8e79-3d69d8477de4"
//     gpt.unique_guid
//     gpt.first_lba, gpt.last_lba
//
// A disk without a GPT gets no children (and a log line); a GPT that is
// damaged in both copies or lies about its partitions fails Start with the
// parser's reason, before any child is added.
//
// Power: SystemSuspend holds new requests (the dispatcher is suspended);
// requests already passed to the disk complete there — the disk's driver
// suspends after this one and drains them — and their answers go out on
// resume. Stop waits for them.
#include <memory>
#include <vector>

#include "drivers/gpt/partition_block.h"
#include "drivers/gpt/table_reader.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/driver_export.h"

namespace trellis::drivers {

class GptDriver final : public Driver {
 public:
  explicit GptDriver(DriverContext context) : Driver(context) {}

  void Start(StartCompleter completer) override {
    context().Connect<BlockProtocol>(
        [this, completer = std::move(completer)](
            Result<std::unique_ptr<BlockClient>> disk) mutable {
          if (!disk) {
            completer(Fail(disk.error().WithContext("connecting to the disk's Block protocol")));
            return;
          }
          disk_ = std::move(*disk);
          gpt::ReadGptTable(*disk_, [this, completer = std::move(completer)](
                                        Result<gpt::Table> table) mutable {
            OnTable(std::move(table), std::move(completer));
          });
        });
  }

  void Stop(StopCompleter completer) override {
    // The manager has removed the partition nodes (children first); answer
    // once what they passed to the disk has come back.
    WhenIdle(0, [this, completer = std::move(completer)]() mutable {
      partitions_.clear();
      disk_.reset();
      completer();
    });
  }

  void SystemSuspend(SuspendCompleter completer) override { completer(Ok()); }

  void SystemResume(std::optional<WakeLease>, ResumeCompleter completer) override {
    completer(Ok());
  }

 private:
  void OnTable(Result<gpt::Table> table, StartCompleter completer) {
    if (!table) {
      if (table.error().code() == ErrorCode::kNotFound) {
        context().LogInfo("no partition table: " + table.error().message());
        completer(Ok());
        return;
      }
      completer(Fail(table.error().WithContext("the disk's partition table")));
      return;
    }
    if (table->used_backup) {
      context().LogWarning("the primary GPT is damaged; using the backup at the disk's end");
    }
    for (auto& partition : table->partitions) {
      partitions_.push_back(std::make_unique<gpt::PartitionBlock>(*disk_, std::move(partition)));
    }
    AddChildren(0, std::move(completer));
  }

  // Adds the partitions' nodes one after another, then completes Start.
  void AddChildren(size_t next, StartCompleter completer) {
    if (next == partitions_.size()) {
      completer(Ok());
      return;
    }
    gpt::PartitionBlock& block = *partitions_[next];
    const gpt::Partition& p = block.partition();
    ChildArgs child{
        .name = "p" + std::to_string(p.index + 1),
        .properties = {
            {"trellis.protocol", std::string(BlockProtocol::kName)},
            {"block.partition", true},
            {"gpt.index", uint64_t{p.index + 1}},
            {"gpt.name", p.name},
            {"gpt.type_guid", p.type_guid.ToString()},
            {"gpt.unique_guid", p.unique_guid.ToString()},
            {"gpt.first_lba", p.first_lba},
            {"gpt.last_lba", p.last_lba},
        }};
    child.Offer<BlockProtocol>(block);
    context().AddChild(std::move(child), [this, next, completer = std::move(completer)](
                                             Result<std::string> added) mutable {
      if (!added) {
        completer(Fail(added.error().WithContext("adding partition node")));
        return;
      }
      AddChildren(next + 1, std::move(completer));
    });
  }

  // Runs `idle` once no partition from `from` on has a request in flight.
  void WhenIdle(size_t from, std::move_only_function<void()> idle) {
    if (from == partitions_.size()) {
      idle();
      return;
    }
    partitions_[from]->WhenIdle([this, from, idle = std::move(idle)]() mutable {
      WhenIdle(from + 1, std::move(idle));
    });
  }

  std::unique_ptr<BlockClient> disk_;
  std::vector<std::unique_ptr<gpt::PartitionBlock>> partitions_;
};

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::GptDriver);
