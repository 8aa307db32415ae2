// device command, subscribe and allow. Each invocation binds the node's
// Device protocol, makes its calls with that one token (so per-client
// driver state is shared between them), and unbinds before exiting.
#include "tools/trellisctl/device_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/client/device_client.h"
#include "tools/client/duration.h"
#include "tools/trellisctl/bound_session.h"
#include "tools/trellisctl/bytes_format.h"
#include "tools/trellisctl/file_contents.h"
#include "tools/trellisctl/json_format.h"
#include "tools/trellisctl/table_format.h"

namespace trellis::tools {

namespace {

using client::DeviceClient;

using DeviceSession = BoundSession<DeviceClient>;

// A follow-up Command given as --then MINOR [ARG1 [ARG2]].
struct FollowUp {
  uint32_t minor = 0;
  uint64_t arg1 = 0;
  uint64_t arg2 = 0;
};

std::optional<FollowUp> ParseFollowUp(const std::vector<uint64_t>& values) {
  if (values.empty()) return std::nullopt;
  FollowUp follow_up{.minor = static_cast<uint32_t>(values[0])};
  if (values.size() > 1) follow_up.arg1 = values[1];
  if (values.size() > 2) follow_up.arg2 = values[2];
  return follow_up;
}

void AddFollowUpOption(CLI::App& command, std::vector<uint64_t>& values, const char* when) {
  command
      .add_option("--then", values,
                  std::string("Then run Command(MINOR, ARG1, ARG2) with the same token, ") + when)
      ->expected(1, 3)
      ->type_name("MINOR [ARG1 [ARG2]]");
}

struct CommandOptions {
  std::string node;
  uint32_t minor = 0;
  uint64_t arg1 = 0;
  uint64_t arg2 = 0;
};

int RunCommand(const GlobalOptions& globals, const CommandOptions& options) {
  std::string what = "device command " + options.node + " " + std::to_string(options.minor);
  auto session = DeviceSession::Open(globals, options.node);
  if (!session) return ReportError(what, session.error());
  auto value = (*session)->client().Command(options.minor, options.arg1, options.arg2);
  if (!value) return ReportError(what, value.error());
  Print(globals.json ? DumpJson(Json{{"value", *value}}, false) + "\n"
                     : std::to_string(*value) + "\n");
  return kExitOk;
}

// probe: Command(0) — the presence check, which changes nothing — on every
// bound node that serves Device, as a Tock app asks which drivers exist.
int RunProbe(const GlobalOptions& globals) {
  const std::string what = "device probe";
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  auto nodes = manager->ListNodes();
  if (!nodes) return ReportError(what, nodes.error());
  Table table({"NODE", "DRIVER", "ANSWER"});
  Json rows = Json::array();
  for (const auto& node : nodes->nodes()) {
    if (node.bound_driver().empty() ||
        std::ranges::find(node.protocols(), DeviceClient::kProtocol) == node.protocols().end()) {
      continue;
    }
    auto session = DeviceSession::Open(globals, node.path());
    auto value = session ? (*session)->client().Command(0) : Result<int64_t>(Fail(session.error()));
    Json row{
        {"node", node.path()}, {"driver", node.bound_driver()}, {"present", value.has_value()}};
    if (value) {
      row["value"] = *value;
    } else {
      row["error"] = value.error().ToString();
    }
    table.AddRow({node.path(), node.bound_driver(),
                  value ? "present (" + std::to_string(*value) + ")" : value.error().ToString()});
    rows.push_back(std::move(row));
  }
  Print(globals.json ? DumpJson(Json{{"drivers", rows}}) + "\n" : table.Render());
  return kExitOk;
}

struct SubscribeOptions {
  std::string node;
  uint32_t minor = 0;
  uint64_t count = 0;
  std::string timeout = "0";
  std::vector<uint64_t> then;
};

std::string UpcallText(const device::v1::Upcall& upcall) {
  return "upcall minor=" + std::to_string(upcall.minor_num()) +
         " arg0=" + std::to_string(upcall.arg0()) + " arg1=" + std::to_string(upcall.arg1()) +
         " arg2=" + std::to_string(upcall.arg2()) + "\n";
}

int RunSubscribe(const GlobalOptions& globals, const SubscribeOptions& options) {
  std::string what = "device subscribe " + options.node + " " + std::to_string(options.minor);
  auto timeout = client::ParseDuration(options.timeout);  // Checked by the validator already.
  if (!timeout) return ReportError(what, timeout.error());
  auto session = DeviceSession::Open(globals, options.node);
  if (!session) return ReportError(what, session.error());
  client::UpcallSubscription upcalls = (*session)->client().Subscribe(options.minor);
  if (auto then = ParseFollowUp(options.then)) {
    auto value = (*session)->client().Command(then->minor, then->arg1, then->arg2);
    if (!value) return ReportError(what + " (--then)", value.error());
  }

  // Without --timeout, wait in slices forever (until --count or Ctrl-C).
  using Clock = std::chrono::steady_clock;
  const bool bounded = timeout->count() > 0;
  const Clock::time_point deadline = Clock::now() + *timeout;
  uint64_t received = 0;
  while (options.count == 0 || received < options.count) {
    auto left = bounded
                    ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                    : std::chrono::milliseconds(std::chrono::hours(1));
    if (left.count() <= 0) break;
    auto upcall = upcalls.WaitNext(left);
    if (!upcall) {
      if (upcall.error().code() == ErrorCode::kDeadlineExceeded) continue;
      return ReportError(what, upcall.error());
    }
    ++received;
    Print(globals.json ? DumpJson(UpcallToJson(*upcall), false) + "\n" : UpcallText(*upcall));
  }
  if (options.count > 0 && received < options.count) {
    return ReportError(
        what, Error(ErrorCode::kDeadlineExceeded, "received " + std::to_string(received) + " of " +
                                                      std::to_string(options.count) +
                                                      " upcalls within " + options.timeout));
  }
  return kExitOk;
}

struct AllowOptions {
  std::string node;
  uint32_t minor = 0;
  bool read_only = false;
  std::string data;
  std::string file;
  std::vector<uint64_t> then;
};

int RunAllow(const GlobalOptions& globals, const AllowOptions& options) {
  std::string what = "device allow " + options.node + " " + std::to_string(options.minor);
  std::string buffer = options.data;
  if (!options.file.empty()) {
    auto contents = ReadWholeFile(options.file);
    if (!contents) return ReportError(what, contents.error());
    buffer = std::move(*contents);
  }
  auto session = DeviceSession::Open(globals, options.node);
  if (!session) return ReportError(what, session.error());
  auto allowed = (*session)->client().Allow(options.minor, options.read_only, std::move(buffer));
  if (!allowed) return ReportError(what, allowed.error());
  std::optional<int64_t> then_value;
  auto then = ParseFollowUp(options.then);
  if (then) {
    auto value = (*session)->client().Command(then->minor, then->arg1, then->arg2);
    if (!value) return ReportError(what + " (--then)", value.error());
    then_value = *value;
  }

  Json json;
  std::string text;
  if (allowed->previous_case() == device::v1::AllowResponse::kPreviousShm) {
    const auto& shm = allowed->previous_shm();
    json["previous"] = {
        {"shm",
         {{"region_id", shm.region_id()}, {"offset", shm.offset()}, {"length", shm.length()}}}};
    text = "previous buffer: shared memory region " + std::to_string(shm.region_id()) +
           ", offset " + std::to_string(shm.offset()) + ", " + std::to_string(shm.length()) +
           " bytes\n";
  } else {
    const std::string& previous = allowed->previous_buffer();
    json["previous"] = {
        {"size", previous.size()}, {"text", EscapeBytes(previous)}, {"hex", HexBytes(previous)}};
    text = "previous buffer: " + std::to_string(previous.size()) + " bytes\n";
    if (!previous.empty()) {
      text += "  text: \"" + EscapeBytes(previous) + "\"\n  hex:  " + HexBytes(previous) + "\n";
    }
  }
  if (then_value) {
    json["then"] = {{"minor", then->minor}, {"value", *then_value}};
    text += "command " + std::to_string(then->minor) + ": " + std::to_string(*then_value) + "\n";
  }
  Print(globals.json ? DumpJson(json) + "\n" : text);
  return kExitOk;
}

}  // namespace

void AddDeviceCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  CLI::App* device = app.add_subcommand(
      "device", "Call a node's trellis.device.v1.Device protocol (binds, calls, unbinds)");
  device->require_subcommand(1);

  {
    auto options = std::make_shared<CommandOptions>();
    CLI::App* command =
        device->add_subcommand("command", "Run Command(MINOR, ARG1, ARG2); print the value");
    command->add_option("NODE", options->node, "Node path, e.g. root.sys.echo")->required();
    command->add_option("MINOR", options->minor, "Command number")->required();
    command->add_option("ARG1", options->arg1, "First argument")->capture_default_str();
    command->add_option("ARG2", options->arg2, "Second argument")->capture_default_str();
    command->callback([&globals, &run, options] {
      run = [&globals, options] { return RunCommand(globals, *options); };
    });
  }
  {
    CLI::App* probe = device->add_subcommand(
        "probe", "Send minor 0 (the presence check) to every Device node; list who answers");
    probe->callback([&globals, &run] { run = [&globals] { return RunProbe(globals); }; });
  }
  {
    auto options = std::make_shared<SubscribeOptions>();
    CLI::App* subscribe = device->add_subcommand(
        "subscribe", "Print upcalls on MINOR as they arrive (JSON: one object per line)");
    subscribe->add_option("NODE", options->node, "Node path, e.g. root.sys.echo")->required();
    subscribe->add_option("MINOR", options->minor, "Upcall number")->required();
    subscribe->add_option("--count", options->count, "Stop after N upcalls (0: no limit)")
        ->capture_default_str();
    subscribe
        ->add_option("--timeout", options->timeout,
                     "Stop after this long (5s, 250ms; 0: never); fails if --count "
                     "upcalls did not arrive by then")
        ->check(client::DurationValidator())
        ->type_name("DURATION")
        ->capture_default_str();
    AddFollowUpOption(*subscribe, options->then,
                      "right after subscribing (for upcalls a command causes, e.g. echo's "
                      "--then 2 100 7; give the driver a delay so the subscription is in place)");
    subscribe->callback([&globals, &run, options] {
      run = [&globals, options] { return RunSubscribe(globals, *options); };
    });
  }
  {
    auto options = std::make_shared<AllowOptions>();
    CLI::App* allow = device->add_subcommand(
        "allow", "Lend the driver a buffer on MINOR; print the buffer it replaces");
    allow->add_option("NODE", options->node, "Node path, e.g. root.sys.echo")->required();
    allow->add_option("MINOR", options->minor, "Allow number")->required();
    allow->add_flag("--read-only", options->read_only, "Use the read-only slot");
    CLI::Option* data =
        allow->add_option("--data", options->data, "Buffer contents (none: un-allow the slot)");
    CLI::Option* file = allow->add_option("--file", options->file, "Read the buffer from a file")
                            ->check(CLI::ExistingFile);
    data->excludes(file);
    AddFollowUpOption(*allow, options->then,
                      "after allowing (e.g. echo's --then 3 reports the read-only buffer's size)");
    allow->callback([&globals, &run, options] {
      run = [&globals, options] { return RunAllow(globals, *options); };
    });
  }
}

}  // namespace trellis::tools
