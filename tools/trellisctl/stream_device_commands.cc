#include "tools/trellisctl/stream_device_commands.h"

#include <fstream>
#include <memory>
#include <string>

#include "tools/client/console_client.h"
#include "tools/client/duration.h"
#include "tools/client/entropy_client.h"
#include "tools/trellisctl/bound_session.h"
#include "tools/trellisctl/bytes_format.h"
#include "tools/trellisctl/file_contents.h"
#include "tools/trellisctl/json_format.h"

namespace trellis::tools {

namespace {

struct EntropyOptions {
  std::string node;
  size_t bytes = 32;
  std::string out;
};

int RunEntropyRead(const GlobalOptions& globals, const EntropyOptions& options) {
  const std::string what = "entropy read " + options.node;
  auto session = BoundSession<client::EntropyClient>::Open(globals, options.node);
  if (!session) return ReportError(what, session.error());
  auto bytes = (*session)->client().Read(options.bytes);
  if (!bytes) return ReportError(what, bytes.error());
  if (!options.out.empty()) {
    std::ofstream file(options.out, std::ios::binary | std::ios::trunc);
    if (!file.write(bytes->data(), static_cast<std::streamsize>(bytes->size()))) {
      return ReportError(what, Error::FromErrno(errno, "cannot write " + options.out));
    }
  }
  if (globals.json) {
    Json json = {{"node", options.node}, {"bytes", bytes->size()}};
    if (options.out.empty())
      json["hex"] = HexBytes(*bytes);
    else
      json["out"] = options.out;
    Print(DumpJson(json) + "\n");
  } else if (options.out.empty()) {
    Print(HexBytes(*bytes) + "\n");
  } else {
    Print(std::to_string(bytes->size()) + " random bytes from " + options.node + " in " +
          options.out + "\n");
  }
  return kExitOk;
}

struct ConsoleWriteOptions {
  std::string node;
  std::string text;
  std::string file;
};

int RunConsoleWrite(const GlobalOptions& globals, const ConsoleWriteOptions& options) {
  const std::string what = "console write " + options.node;
  std::string data = options.text;
  if (!options.file.empty()) {
    auto contents = ReadWholeFile(options.file);
    if (!contents) return ReportError(what, contents.error());
    data = std::move(*contents);
  }
  if (data.empty()) {
    return ReportError(what, Error(ErrorCode::kInvalidArgument, "nothing to write"));
  }
  auto session = BoundSession<client::ConsoleClient>::Open(globals, options.node);
  if (!session) return ReportError(what, session.error());
  if (auto written = (*session)->client().Write(data); !written) {
    return ReportError(what, written.error());
  }
  Print(globals.json ? DumpJson(Json{{"node", options.node}, {"written", data.size()}}) + "\n"
                     : "wrote " + std::to_string(data.size()) + " bytes to " + options.node + "\n");
  return kExitOk;
}

struct ConsoleReadOptions {
  std::string node;
  size_t bytes = 0;
  std::string timeout = "0";
};

int RunConsoleRead(const GlobalOptions& globals, const ConsoleReadOptions& options) {
  const std::string what = "console read " + options.node;
  auto timeout = client::ParseDuration(options.timeout);  // Checked by the validator already.
  if (!timeout) return ReportError(what, timeout.error());
  auto session = BoundSession<client::ConsoleClient>::Open(globals, options.node);
  if (!session) return ReportError(what, session.error());
  size_t got = 0;
  auto read = (*session)->client().Read(
      [&](std::string_view chunk) {
        if (options.bytes > 0) chunk = chunk.substr(0, options.bytes - got);
        got += chunk.size();
        Print(globals.json
                  ? DumpJson(Json{{"text", EscapeBytes(chunk)}, {"hex", HexBytes(chunk)}}, false) +
                        "\n"
                  : std::string(chunk));
        return options.bytes == 0 || got < options.bytes;
      },
      *timeout, options.bytes);
  // Following the console until --timeout is success; wanting --bytes and
  // not getting them is not.
  if (!read && !(read.error().code() == ErrorCode::kDeadlineExceeded && options.bytes == 0)) {
    return ReportError(what, read.error());
  }
  return kExitOk;
}

}  // namespace

void AddStreamDeviceCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  CLI::App* entropy = app.add_subcommand(
      "entropy", "Call a node's trellis.entropy.v1.Entropy protocol (binds, reads, unbinds)");
  entropy->require_subcommand(1);
  {
    auto options = std::make_shared<EntropyOptions>();
    CLI::App* read = entropy->add_subcommand("read", "Read random bytes; print them in hex");
    read->add_option("NODE", options->node, "Node path, e.g. root.sys.rng")->required();
    read->add_option("--bytes", options->bytes, "How many bytes")
        ->check(CLI::Range(size_t{1}, size_t{64} << 20))
        ->capture_default_str();
    read->add_option("--out", options->out, "Write the bytes to this file instead");
    read->callback([&globals, &run, options] {
      run = [&globals, options] { return RunEntropyRead(globals, *options); };
    });
  }

  CLI::App* console = app.add_subcommand(
      "console", "Call a node's trellis.console.v1.Console protocol (binds, calls, unbinds)");
  console->require_subcommand(1);
  {
    auto options = std::make_shared<ConsoleWriteOptions>();
    CLI::App* write = console->add_subcommand("write", "Write TEXT (or a file) to the console");
    write->add_option("NODE", options->node, "Node path, e.g. root.sys.console")->required();
    CLI::Option* text = write->add_option("TEXT", options->text, "What to write");
    CLI::Option* file = write->add_option("--file", options->file, "Write this file's contents")
                            ->check(CLI::ExistingFile);
    text->excludes(file);
    write->callback([&globals, &run, options] {
      run = [&globals, options] { return RunConsoleWrite(globals, *options); };
    });
  }
  {
    auto options = std::make_shared<ConsoleReadOptions>();
    CLI::App* read = console->add_subcommand(
        "read", "Print the console's input as it arrives (JSON: one object per chunk)");
    read->add_option("NODE", options->node, "Node path, e.g. root.sys.console")->required();
    read->add_option("--bytes", options->bytes, "Stop after N bytes (0: no limit)")
        ->capture_default_str();
    read->add_option("--timeout", options->timeout,
                     "Stop after this long (5s, 250ms; 0: never); fails if --bytes did not "
                     "arrive by then")
        ->check(client::DurationValidator())
        ->type_name("DURATION")
        ->capture_default_str();
    read->callback([&globals, &run, options] {
      run = [&globals, options] { return RunConsoleRead(globals, *options); };
    });
  }
}

}  // namespace trellis::tools
