// block info, read, write and bench. Each invocation binds the node's Block
// protocol, reads the device's geometry, does its work with that one token,
// and unbinds before exiting. Ranges are checked against the geometry
// before any transfer, and split into transfers the device accepts.
#include "tools/trellisctl/block_commands.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "tools/client/block_client.h"
#include "tools/client/duration.h"
#include "tools/trellisctl/block_bench.h"
#include "tools/trellisctl/block_format.h"
#include "tools/trellisctl/bound_session.h"
#include "tools/trellisctl/bytes_format.h"
#include "tools/trellisctl/file_contents.h"
#include "tools/trellisctl/json_format.h"
#include "tools/trellisctl/size_format.h"

namespace trellis::tools {

namespace {

using client::BlockClient;
using BlockSession = BoundSession<BlockClient>;

// A bound Block device and its geometry.
struct BlockDevice {
  std::unique_ptr<BlockSession> session;
  block::v1::BlockInfo info;

  BlockClient& client() { return session->client(); }
};

Result<BlockDevice> OpenDevice(const GlobalOptions& globals, const std::string& node) {
  TRELLIS_ASSIGN_OR_RETURN(auto session, BlockSession::Open(globals, node));
  TRELLIS_ASSIGN_OR_RETURN(auto info, session->client().GetInfo());
  return BlockDevice{std::move(session), std::move(info)};
}

// "8 blocks (4.0 KiB)".
std::string BlocksText(uint64_t blocks, uint32_t block_size) {
  return std::to_string(blocks) + (blocks == 1 ? " block (" : " blocks (") +
         HumanSize(blocks * block_size) + ")";
}

int RunInfo(const GlobalOptions& globals, const std::string& node) {
  auto device = OpenDevice(globals, node);
  if (!device) return ReportError("block info " + node, device.error());
  Print(globals.json ? DumpJson(BlockInfoToJson(node, device->info)) + "\n"
                     : FormatBlockInfo(node, device->info));
  return kExitOk;
}

struct ReadOptions {
  std::string node;
  uint64_t offset = 0;
  uint64_t count = 0;
  std::string out;
};

int RunRead(const GlobalOptions& globals, const ReadOptions& options) {
  const std::string what = "block read " + options.node;
  auto device = OpenDevice(globals, options.node);
  if (!device) return ReportError(what, device.error());
  const uint32_t block_size = device->info.block_size();
  std::ofstream file;
  if (!options.out.empty()) {
    file.open(options.out, std::ios::binary | std::ios::trunc);
    if (!file) return ReportError(what, Error::FromErrno(errno, "cannot open " + options.out));
  }
  std::string hex;  // For --json without --out.
  uint64_t address = options.offset * block_size;
  auto sink = [&](std::string_view bytes) -> Result<void> {
    if (file.is_open()) {
      if (!file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
        return FailErrno(errno, "cannot write " + options.out);
      }
    } else if (globals.json) {
      hex += HexBytes(bytes);
    } else {
      Print(HexDump(bytes, address));
    }
    address += bytes.size();
    return Ok();
  };
  auto read = device->client().ReadRange(device->info, options.offset, options.count, sink);
  if (!read) return ReportError(what, read.error());
  if (file.is_open() && !file.flush()) {
    return ReportError(what, Error::FromErrno(errno, "cannot write " + options.out));
  }

  if (globals.json) {
    Json json = {{"node", options.node},
                 {"offset_blocks", options.offset},
                 {"blocks", options.count},
                 {"bytes", options.count * block_size}};
    if (file.is_open()) {
      json["file"] = options.out;
    } else {
      json["hex"] = hex;
    }
    Print(DumpJson(json) + "\n");
  } else if (file.is_open()) {
    Print("read " + BlocksText(options.count, block_size) + " from block " +
          std::to_string(options.offset) + " of " + options.node + " into " + options.out + "\n");
  }
  return kExitOk;
}

struct WriteOptions {
  std::string node;
  uint64_t offset = 0;
  std::string in;
  uint32_t pattern = 0;
  uint64_t count = 1;  // With --pattern.
};

int RunWrite(const GlobalOptions& globals, const WriteOptions& options) {
  const std::string what = "block write " + options.node;
  std::string data;  // From --in.
  if (!options.in.empty()) {
    auto contents = ReadWholeFile(options.in);
    if (!contents) return ReportError(what, contents.error());
    data = std::move(*contents);
  }
  auto device = OpenDevice(globals, options.node);
  if (!device) return ReportError(what, device.error());
  const uint32_t block_size = device->info.block_size();
  uint64_t count = options.count;
  BlockClient::WriteSource source = [&options](uint64_t, uint32_t bytes) {
    return std::string(bytes, static_cast<char>(options.pattern));
  };
  if (!options.in.empty()) {
    if (data.empty() || data.size() % block_size != 0) {
      return ReportError(what, Error(ErrorCode::kInvalidArgument,
                                     options.in + " holds " + std::to_string(data.size()) +
                                         " bytes, not a whole number of the device's " +
                                         std::to_string(block_size) + "-byte blocks"));
    }
    count = data.size() / block_size;
    source = [&data](uint64_t position, uint32_t bytes) { return data.substr(position, bytes); };
  }
  auto written = device->client().WriteRange(device->info, options.offset, count, source);
  if (!written) return ReportError(what, written.error());
  auto flushed = device->client().Flush();
  if (!flushed) return ReportError(what + " (flush)", flushed.error());

  if (globals.json) {
    Print(DumpJson(Json{{"node", options.node},
                        {"offset_blocks", options.offset},
                        {"blocks", count},
                        {"bytes", count * block_size}}) +
          "\n");
  } else {
    Print("wrote " + BlocksText(count, block_size) + " at block " + std::to_string(options.offset) +
          " of " + options.node + "\n");
  }
  return kExitOk;
}

struct BenchCommandOptions {
  std::string node;
  BenchOptions bench;
  std::string time = "5s";
};

int RunBench(const GlobalOptions& globals, const BenchCommandOptions& options) {
  const std::string what = "block bench " + options.node;
  BenchOptions bench = options.bench;
  auto time = client::ParseDuration(options.time);  // Checked by the validator already.
  if (!time) return ReportError(what, time.error());
  bench.time = *time;
  if (bench.ops == 0 && bench.time.count() == 0) {
    return ReportError(what, Error(ErrorCode::kInvalidArgument, "--time 0 runs no requests"));
  }
  bench.progress = isatty(STDERR_FILENO) == 1;
  auto device = OpenDevice(globals, options.node);
  if (!device) return ReportError(what, device.error());
  auto outcome = RunBlockBench(device->client(), device->info, options.node, bench);
  if (!outcome) return ReportError(what, outcome.error());
  const BenchReport& report = outcome->report;
  Print(globals.json ? DumpJson(BenchReportToJson(report)) + "\n" : FormatBenchReport(report));
  if (outcome->first_error) {
    const Error& first = *outcome->first_error;
    return ReportError(what,
                       Error(first.code(), std::to_string(report.errors) + " of " +
                                               std::to_string(report.ops + report.errors) +
                                               " requests failed; the first: " + first.message()));
  }
  return kExitOk;
}

CLI::Option* AddNode(CLI::App& command, std::string& node) {
  return command.add_option("NODE", node, "Node path, e.g. root.sys.disk0.block.p2")->required();
}

void AddInfoCommand(CLI::App& block, const GlobalOptions& globals, Runner& run) {
  auto node = std::make_shared<std::string>();
  CLI::App* info = block.add_subcommand(
      "info", "Show the device's block size and count, size, read-only flag and transfer limits");
  AddNode(*info, *node);
  info->callback(
      [&globals, &run, node] { run = [&globals, node] { return RunInfo(globals, *node); }; });
}

void AddReadCommand(CLI::App& block, const GlobalOptions& globals, Runner& run) {
  auto options = std::make_shared<ReadOptions>();
  CLI::App* read = block.add_subcommand(
      "read", "Read blocks: print a hex dump (JSON: the bytes in hex), or write them to a file");
  AddNode(*read, options->node);
  read->add_option("--offset", options->offset, "First block")->required()->type_name("BLOCKS");
  read->add_option("--count", options->count, "Blocks to read")
      ->required()
      ->check(CLI::PositiveNumber)
      ->type_name("BLOCKS");
  read->add_option("--out", options->out, "Write the raw bytes to FILE instead")->type_name("FILE");
  read->callback([&globals, &run, options] {
    run = [&globals, options] { return RunRead(globals, *options); };
  });
}

void AddWriteCommand(CLI::App& block, const GlobalOptions& globals, Runner& run) {
  auto options = std::make_shared<WriteOptions>();
  CLI::App* write = block.add_subcommand(
      "write", "Write whole blocks from a file or of one repeated byte, then flush");
  AddNode(*write, options->node);
  write->add_option("--offset", options->offset, "First block")->required()->type_name("BLOCKS");
  CLI::Option_group* source = write->add_option_group("data", "What to write (one of)");
  CLI::Option* in =
      source
          ->add_option("--in", options->in, "Write the contents of FILE (a whole number of blocks)")
          ->check(CLI::ExistingFile)
          ->type_name("FILE");
  source->add_option("--pattern", options->pattern, "Write this byte (0..255, e.g. 0xa5)")
      ->check(CLI::Range(0, 255))
      ->type_name("BYTE");
  source->require_option(1);
  write->add_option("--count", options->count, "Blocks to write with --pattern")
      ->check(CLI::PositiveNumber)
      ->excludes(in)
      ->type_name("BLOCKS")
      ->capture_default_str();
  write->callback([&globals, &run, options] {
    run = [&globals, options] { return RunWrite(globals, *options); };
  });
}

// A CLI11 transform from the words in `values` to their enum; any other
// word is a usage error: "'erase' is not one of mixed, read, write".
template <typename Enum>
CLI::Validator OneOf(const std::map<std::string, Enum>& values) {
  std::string words;
  for (const auto& [word, value] : values) words += (words.empty() ? "" : ", ") + word;
  CLI::Validator checked = CLI::CheckedTransformer(values);
  return CLI::Validator(
      [checked, words](std::string& text) {
        std::string given = text;
        return checked(text).empty() ? std::string() : "'" + given + "' is not one of " + words;
      },
      "");
}

void AddBenchCommand(CLI::App& block, const GlobalOptions& globals, Runner& run) {
  auto options = std::make_shared<BenchCommandOptions>();
  BenchOptions& bench = options->bench;
  CLI::App* command = block.add_subcommand(
      "bench",
      "Measure IOPS, throughput and latency with DEPTH requests in flight on one Block.Stream "
      "(progress on stderr when it is a terminal)");
  AddNode(*command, options->node);
  command
      ->add_option("--pattern", bench.pattern,
                   "rand: offsets spread over the device; seq: one after another")
      ->transform(OneOf(std::map<std::string, BenchPattern>{{"rand", BenchPattern::kRandom},
                                                            {"seq", BenchPattern::kSequential}}))
      ->type_name("rand|seq")
      ->default_str("rand");
  command
      ->add_option("--op", bench.op,
                   "read, write (writes the text \"trellis bench \" repeated) or mixed (half "
                   "each)")
      ->transform(OneOf(std::map<std::string, BenchOp>{
          {"read", BenchOp::kRead}, {"write", BenchOp::kWrite}, {"mixed", BenchOp::kMixed}}))
      ->type_name("read|write|mixed")
      ->default_str("read");
  command->add_option("--size", bench.size, "Bytes per request, a multiple of the block size")
      ->check(CLI::PositiveNumber)
      ->type_name("BYTES")
      ->capture_default_str();
  command->add_option("--depth", bench.depth, "Requests kept in flight (1..1024)")
      ->check(CLI::Range(1, 1024))
      ->type_name("N")
      ->capture_default_str();
  CLI::Option* ops = command->add_option("--ops", bench.ops, "Send N requests, then stop")
                         ->check(CLI::PositiveNumber)
                         ->type_name("N");
  command->add_option("--time", options->time, "Send requests for this long (unless --ops)")
      ->check(client::DurationValidator())
      ->excludes(ops)
      ->type_name("DURATION")
      ->capture_default_str();
  command->callback([&globals, &run, options] {
    run = [&globals, options] { return RunBench(globals, *options); };
  });
}

}  // namespace

void AddBlockCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  CLI::App* block = app.add_subcommand(
      "block", "Use a node's trellis.block.v1.Block protocol (binds, works, unbinds)");
  block->require_subcommand(1);
  AddInfoCommand(*block, globals, run);
  AddReadCommand(*block, globals, run);
  AddWriteCommand(*block, globals, run);
  AddBenchCommand(*block, globals, run);
}

}  // namespace trellis::tools
