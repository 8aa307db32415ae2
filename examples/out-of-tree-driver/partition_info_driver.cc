// partition-info: an example driver built out of tree against the installed
// Trellis SDK (find_package(Trellis), trellis_add_driver). It binds to GPT
// partitions named "boot" and answers Device commands about them:
//   minor 0: present (0);  minor 1: size in blocks;  minor 2: partition index.
#include <variant>

#include "runtime/driver/device_protocol.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/driver_export.h"

namespace example {

using namespace trellis;

class PartitionInfoDriver final : public Driver, public DeviceProtocol {
 public:
  explicit PartitionInfoDriver(DriverContext context) : Driver(context) {}

  void Start(StartCompleter completer) override {
    const NodeProperties& props = context().start_args().properties;
    first_ = Int(props, "gpt.first_lba");
    last_ = Int(props, "gpt.last_lba");
    index_ = Int(props, "gpt.index");
    if (last_ < first_) {
      completer(Fail(ErrorCode::kInvalidArgument, "gpt.last_lba is before gpt.first_lba"));
      return;
    }
    auto served = context().Serve<DeviceProtocol>(*this);
    completer(served ? Ok() : Fail(served.error()));
  }

  Result<int64_t> Command(const Caller&, uint32_t minor, uint64_t, uint64_t) override {
    switch (minor) {
      case 0:
        return 0;
      case 1:
        return static_cast<int64_t>(last_ - first_ + 1);
      case 2:
        return static_cast<int64_t>(index_);
      default:
        return Fail(ErrorCode::kUnimplemented, "partition-info has minors 0, 1 and 2");
    }
  }

 private:
  static uint64_t Int(const NodeProperties& props, std::string_view key) {
    const PropertyValue* v = FindProperty(props, key);
    return v != nullptr && std::holds_alternative<uint64_t>(*v) ? std::get<uint64_t>(*v) : 0;
  }

  uint64_t first_ = 0;
  uint64_t last_ = 0;
  uint64_t index_ = 0;
};

}  // namespace example

TRELLIS_DRIVER_EXPORT(example::PartitionInfoDriver);
