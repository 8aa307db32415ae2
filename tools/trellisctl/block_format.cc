// FormatBlockInfo, FormatBenchReport and their JSON.
#include "tools/trellisctl/block_format.h"

#include <cstdio>
#include <optional>

#include "tools/trellisctl/size_format.h"

namespace trellis::tools {

namespace {

// The device's size in bytes, unless it overflows.
std::optional<uint64_t> SizeBytes(const block::v1::BlockInfo& info) {
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(info.block_count(), uint64_t{info.block_size()}, &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

// "128.0 KiB (131072 bytes)"; "512 bytes" when the human form says the same.
std::string SizeText(uint64_t bytes) {
  std::string exact = std::to_string(bytes) + " bytes";
  return bytes < 1024 ? exact : HumanSize(bytes) + " (" + exact + ")";
}

std::string TransferText(uint32_t bytes, const char* if_zero) {
  return bytes == 0 ? std::string(if_zero) : SizeText(bytes);
}

std::string Fixed(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

double Micros(uint64_t ns) { return static_cast<double>(ns) / 1000; }

// Nanoseconds as microseconds with one decimal.
std::string MicrosText(uint64_t ns) { return Fixed(Micros(ns), 1); }

}  // namespace

std::string FormatBlockInfo(const std::string& node, const block::v1::BlockInfo& info) {
  std::optional<uint64_t> size = SizeBytes(info);
  std::string out;
  out += "node:              " + node + "\n";
  out += "block size:        " + std::to_string(info.block_size()) + " bytes\n";
  out += "block count:       " + std::to_string(info.block_count()) + "\n";
  out += "size:              " + (size ? SizeText(*size) : "more than 16.0 EiB") + "\n";
  out += "read-only:         " + std::string(info.read_only() ? "yes" : "no") + "\n";
  out += "optimal transfer:  " + TransferText(info.optimal_transfer_size(), "no preference") + "\n";
  out += "max transfer:      " + TransferText(info.max_transfer_size(), "no limit") + "\n";
  return out;
}

Json BlockInfoToJson(const std::string& node, const block::v1::BlockInfo& info) {
  std::optional<uint64_t> size = SizeBytes(info);
  return Json{
      {"node", node},
      {"block_size", info.block_size()},
      {"block_count", info.block_count()},
      {"size_bytes", size ? Json(*size) : Json(nullptr)},
      {"read_only", info.read_only()},
      {"optimal_transfer_size", info.optimal_transfer_size()},
      {"max_transfer_size", info.max_transfer_size()},
  };
}

double Iops(const BenchReport& report) {
  return report.seconds > 0 ? static_cast<double>(report.ops) / report.seconds : 0;
}

double MegabytesPerSecond(const BenchReport& report) { return Iops(report) * report.size / 1e6; }

std::string FormatBenchReport(const BenchReport& report) {
  const LatencySummary& latency = report.latency;
  std::string out = report.node + ": " + report.pattern + " " + report.op + ", " +
                    std::to_string(report.size) + "-byte requests, depth " +
                    std::to_string(report.depth) + "\n";
  out += "ops:      " + std::to_string(report.ops) + " in " + Fixed(report.seconds, 2) + " s, " +
         std::to_string(report.errors) + (report.errors == 1 ? " error" : " errors") + "\n";
  out += "IOPS:     " + Fixed(Iops(report), 0) + "\n";
  out += "MB/s:     " + Fixed(MegabytesPerSecond(report), 1) + "\n";
  out += "latency:  p50 " + MicrosText(latency.p50) + " us, p90 " + MicrosText(latency.p90) +
         " us, p99 " + MicrosText(latency.p99) + " us, p99.9 " + MicrosText(latency.p999) +
         " us, max " + MicrosText(latency.max) + " us\n";
  return out;
}

Json BenchReportToJson(const BenchReport& report) {
  const LatencySummary& latency = report.latency;
  return Json{
      {"node", report.node},
      {"pattern", report.pattern},
      {"op", report.op},
      {"size", report.size},
      {"depth", report.depth},
      {"ops", report.ops},
      {"errors", report.errors},
      {"seconds", report.seconds},
      {"iops", Iops(report)},
      {"mb_per_s", MegabytesPerSecond(report)},
      {"latency_us",
       {{"p50", Micros(latency.p50)},
        {"p90", Micros(latency.p90)},
        {"p99", Micros(latency.p99)},
        {"p99.9", Micros(latency.p999)},
        {"max", Micros(latency.max)}}},
  };
}

}  // namespace trellis::tools
