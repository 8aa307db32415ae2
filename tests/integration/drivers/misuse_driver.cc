// misuse: a test driver that misuses the node API on purpose during Start
// and reports each call's status code through its Device protocol, so the
// integration tests see the manager's answers as a real driver does.
//
// Command minor 10+i returns the gRPC status code of attempt i:
//   0 AddChild with an empty name          (expect INVALID_ARGUMENT)
//   1 AddChild "twin" (first, succeeds)    (expect OK)
//   2 AddChild "twin" again                (expect ALREADY_EXISTS)
//   3 AddChild with duplicate property keys(expect INVALID_ARGUMENT)
//   4 AddChild "bad.name"                  (expect INVALID_ARGUMENT)
//   5 RemoveChild of a node it did not add (expect NOT_FOUND)
//
// With node property misuse.mode it misbehaves differently instead:
//   "recurse" adds a child "again" with exactly its own properties, so the
//             same driver would bind below itself forever (a bind cycle);
//   "grow"    adds a child "deeper" with misuse.level + 1, without end
//             (runaway depth); Start fails once the manager refuses.
#include <memory>
#include <vector>

#include "runtime/driver/device_protocol.h"
#include "runtime/driver/driver_export.h"

namespace trellis::testing {

class MisuseDriver final : public Driver, public DeviceProtocol {
 public:
  explicit MisuseDriver(DriverContext context) : Driver(context) {}

  void Start(StartCompleter completer) override {
    if (auto served = context().Serve<DeviceProtocol>(*this); !served) {
      completer(Fail(served.error()));
      return;
    }
    completer_ = std::move(completer);
    const NodeProperties& props = context().start_args().properties;
    const PropertyValue* mode = FindProperty(props, "misuse.mode");
    if (mode != nullptr && *mode == PropertyValue(std::string("recurse"))) {
      context().AddChild({.name = "again", .properties = props},
                         [this](Result<std::string>) { completer_(Ok()); });
      return;
    }
    if (mode != nullptr && *mode == PropertyValue(std::string("grow"))) {
      NodeProperties deeper = props;
      for (auto& p : deeper) {
        if (p.key == "misuse.level") p.value = std::get<uint64_t>(p.value) + 1;
      }
      context().AddChild({.name = "deeper", .properties = std::move(deeper)},
                         [this](Result<std::string> added) {
                           completer_(added ? Ok() : Result<void>(Fail(added.error())));
                         });
      return;
    }
    Next();
  }

  Result<int64_t> Command(const Caller&, uint32_t minor, uint64_t, uint64_t) override {
    if (minor == 0) return 0;
    if (minor >= 10 && minor - 10 < codes_.size()) return codes_[minor - 10];
    return Fail(ErrorCode::kUnimplemented, "no such attempt");
  }

 private:
  void Record(const Result<std::string>& r) { codes_.push_back(r ? 0 : static_cast<int64_t>(r.error().code())); }

  void Next() {
    std::vector<ChildArgs> attempts = {
        {.name = ""},
        {.name = "twin"},
        {.name = "twin"},
        {.name = "dup", .properties = {{"k", uint64_t{1}}, {"k", uint64_t{2}}}},
        {.name = "bad.name"},
    };
    size_t i = codes_.size();
    if (i < attempts.size()) {
      context().AddChild(std::move(attempts[i]), [this](Result<std::string> r) {
        Record(r);
        Next();
      });
      return;
    }
    if (i == attempts.size()) {
      context().RemoveChild("never-added", [this](Result<void> r) {
        codes_.push_back(r ? 0 : static_cast<int64_t>(r.error().code()));
        completer_(Ok());
      });
    }
  }

  StartCompleter completer_;
  std::vector<int64_t> codes_;
};

}  // namespace trellis::testing

TRELLIS_DRIVER_EXPORT(trellis::testing::MisuseDriver);
