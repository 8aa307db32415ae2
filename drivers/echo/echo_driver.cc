#include "drivers/echo/echo_driver.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "runtime/driver/driver_export.h"

namespace trellis::drivers {

namespace {

uint64_t IntProperty(const NodeProperties& props, std::string_view key, uint64_t fallback) {
  const PropertyValue* v = FindProperty(props, key);
  if (v == nullptr || !std::holds_alternative<uint64_t>(*v)) return fallback;
  return std::get<uint64_t>(*v);
}

bool BoolProperty(const NodeProperties& props, std::string_view key) {
  const PropertyValue* v = FindProperty(props, key);
  return v != nullptr && std::holds_alternative<bool>(*v) && std::get<bool>(*v);
}

}  // namespace

void EchoDriver::Start(StartCompleter completer) {
  const NodeProperties& props = context().start_args().properties;
  if (BoolProperty(props, "echo.crash_on_start")) std::abort();
  if (BoolProperty(props, "echo.fail_start")) {
    completer(Fail(ErrorCode::kInternal, "echo.fail_start is set"));
    return;
  }
  if (auto served = context().Serve<DeviceProtocol>(*this); !served) {
    completer(Fail(served.error()));
    return;
  }
  uint64_t depth = IntProperty(props, "echo.depth", 0);
  uint64_t children = IntProperty(props, "echo.children", 1);
  context().LogInfo("started: depth " + std::to_string(depth) + ", " + std::to_string(children) +
                    " children per level");
  AddChildren(depth, children, std::move(completer));
}

// Adds `count` children one after another, then completes Start: a driver is
// started only once its children exist (DFv2 enumerates before replying).
void EchoDriver::AddChildren(uint64_t depth, uint64_t count, StartCompleter completer) {
  if (depth == 0 || count == 0) {
    completer(Ok());
    return;
  }
  struct State {
    uint64_t depth, count, next = 0;
    StartCompleter completer;
  };
  auto state = std::make_shared<State>(State{depth, count, 0, std::move(completer)});
  auto add_next = std::make_shared<std::function<void()>>();
  *add_next = [this, state, add_next] {
    if (state->next == state->count) {
      state->completer(Ok());
      *add_next = nullptr;  // Break the self-reference.
      return;
    }
    uint64_t index = state->next++;
    ChildArgs child{.name = "echo" + std::to_string(index),
                    .properties = {{"trellis.compatible", std::string("trellis,echo")},
                                   {"echo.depth", state->depth - 1},
                                   {"echo.children", state->count}}};
    context().AddChild(std::move(child), [state, add_next](Result<std::string> added) {
      if (!added) {
        state->completer(Fail(std::move(added).error().WithContext("while adding children")));
        *add_next = nullptr;
        return;
      }
      (*add_next)();
    });
  };
  (*add_next)();
}

void EchoDriver::Stop(StopCompleter completer) {
  *alive_ = false;
  upcalls_.clear();
  completer();
}

Result<int64_t> EchoDriver::Command(const Caller& caller, uint32_t minor, uint64_t arg1,
                                    uint64_t arg2) {
  if (minor != 0 && minor != 4 && minor != 7 && minor != 9) ++state_changes_;
  switch (minor) {
    case 0:
      return 0;
    case 1:
      return static_cast<int64_t>(arg1 + arg2);
    case 2: {
      auto key = std::make_pair(caller.client_id, 2u);
      uint64_t client = caller.client_id;
      auto posted = context().dispatcher().PostAfter(std::chrono::milliseconds(arg1),
                                                     [this, alive = alive_, key, client, arg2] {
                                                       if (!*alive) return;
                                                       uint64_t n = ++jobs_done_[client];
                                                       auto it = upcalls_.find(key);
                                                       if (it != upcalls_.end())
                                                         (void)it->second.Schedule(arg2, n);
                                                     });
      if (!posted) return Fail(posted.error());
      return 0;
    }
    case 3: {
      auto it = allowed_.find({caller.client_id, 3u, true});
      return it == allowed_.end() ? 0 : static_cast<int64_t>(it->second.size());
    }
    case 4:
      return static_cast<int64_t>(
          std::ranges::count_if(allowed_, [](const auto& entry) { return !entry.second.empty(); }));
    case 5: {
      TRELLIS_ASSIGN_OR_RETURN(std::span<std::byte> word, Word(caller, arg1));
      int64_t value;
      std::memcpy(&value, word.data(), sizeof(value));  // Once: the client may be writing.
      return value;
    }
    case 6: {
      TRELLIS_ASSIGN_OR_RETURN(std::span<std::byte> word, Word(caller, arg1));
      std::memcpy(word.data(), &arg2, sizeof(arg2));
      return 0;
    }
    case 7:
      return static_cast<int64_t>(state_changes_);
    case 9:
      return static_cast<int64_t>(
          std::ranges::count_if(upcalls_, [](const auto& entry) { return entry.second.active(); }));
    case 8: {
      auto it = allowed_.find({caller.client_id, 3u, true});
      if (it == allowed_.end() || it->second.empty()) {
        return Fail(ErrorCode::kFailedPrecondition, "allow a read-only buffer on minor 3 first");
      }
      auto* byte = const_cast<std::byte*>(it->second.bytes().data());
      *reinterpret_cast<volatile std::byte*>(byte) = std::byte{1};
      return 0;
    }
    case 98:
      // Blocks the dispatcher, as a hung driver would (crash tests).
      std::this_thread::sleep_for(std::chrono::milliseconds(arg1));
      return 0;
    case 99:
      std::abort();
    default:
      return Fail(ErrorCode::kUnimplemented, "echo has no command " + std::to_string(minor));
  }
}

Result<void> EchoDriver::Subscribe(const Caller& caller, uint32_t minor, Upcall upcall) {
  ++state_changes_;
  if (minor != 2 && minor < 1000) {
    return Fail(ErrorCode::kUnimplemented,
                "echo delivers upcalls on minor 2 only, not " + std::to_string(minor));
  }
  upcalls_[{caller.client_id, minor}] = std::move(upcall);
  return Ok();
}

Result<EchoDriver::AllowResult> EchoDriver::Allow(const Caller& caller, uint32_t minor,
                                                  bool read_only, AllowedBuffer buffer) {
  ++state_changes_;
  auto& slot = allowed_[{caller.client_id, minor, read_only}];
  AllowResult result{.previous = std::move(slot)};
  slot = std::move(buffer);
  return result;
}

Result<std::span<std::byte>> EchoDriver::Word(const Caller& caller, uint64_t offset) {
  auto it = allowed_.find({caller.client_id, 5u, false});
  if (it == allowed_.end() || it->second.empty()) {
    return Fail(ErrorCode::kFailedPrecondition, "allow a read-write buffer on minor 5 first");
  }
  std::span<std::byte> bytes = it->second.writable();
  if (offset > bytes.size() || bytes.size() - offset < sizeof(uint64_t)) {
    return Fail(ErrorCode::kOutOfRange, "offset " + std::to_string(offset) + " + 8 is past the " +
                                            std::to_string(bytes.size()) + "-byte buffer");
  }
  return bytes.subspan(offset, sizeof(uint64_t));
}

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::EchoDriver);
