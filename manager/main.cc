// trellis-manager: the driver manager.
//
//   trellis-manager --board manifests/boards/default.json [--runtime-dir DIR]
//                   [--driver-dir DIR ...] [--host-binary PATH] [--hosts-in-threads]
//                   [--suspend-hal simulated|linux-sysfs[:PATH]] [--power-group GROUP]
//                   [--max-connections N] [--max-connections-per-process N]
//                   [--tls-listen HOST:PORT --tls-cert PEM --tls-key PEM --tls-client-ca PEM
//                    [--tls-power-subject CN ...]]
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "manager/manager.h"

namespace {

std::filesystem::path DefaultRuntimeDir() {
  if (const char* dir = std::getenv("TRELLIS_RUNTIME_DIR"); dir && *dir) return dir;
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR"); dir && *dir) {
    return std::filesystem::path(dir) / "trellis";
  }
  return "/tmp/trellis-" + std::to_string(getuid());
}

// trellis-host sits next to this binary.
std::string DefaultHostBinary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "trellis-host" : (self.parent_path() / "trellis-host").string();
}

// A group name or number; nullopt (with `error` set) if there is no such group.
std::optional<gid_t> ParseGroup(const std::string& text, std::string* error) {
  gid_t gid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), gid);
  if (ec == std::errc() && end == text.data() + text.size()) return gid;
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(text.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    *error = "--power-group: no group named '" + text + "'";
    return std::nullopt;
  }
  return found->gr_gid;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trellis-manager: binds drivers to device nodes and supervises driver hosts"};
  trellis::manager::ManagerOptions options;
  std::string board;
  std::string runtime_dir = DefaultRuntimeDir().string();
  std::vector<std::string> driver_dirs;
  std::string host_binary = DefaultHostBinary();
  bool hosts_in_threads = false;
  app.add_option("--board", board, "Board file (root nodes, suspend HAL, driver dirs)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--runtime-dir", runtime_dir,
                 "Directory for manager.sock and host sockets (default: $TRELLIS_RUNTIME_DIR, "
                 "$XDG_RUNTIME_DIR/trellis or /tmp/trellis-$UID)");
  app.add_option("--driver-dir", driver_dirs, "Extra directory of driver manifests (repeatable)");
  app.add_option("--host-binary", host_binary, "trellis-host executable");
  app.add_flag("--hosts-in-threads", hosts_in_threads,
               "Run driver hosts as threads of the manager (testing only)");
  app.add_option("--threads", options.threads, "Worker threads")->check(CLI::Range(1, 64));
  app.add_option("--suspend-hal", options.suspend_hal,
                 "Suspend HAL, overriding the board: simulated, linux-sysfs or "
                 "linux-sysfs:<state file>");
  std::string power_group;
  app.add_option("--power-group", power_group,
                 "Group (name or number) whose members may suspend, resume and hold wake "
                 "leases, besides root and the manager's user");
  app.add_option("--max-connections", options.connections.max_connections,
                 "Client connections open at once, beyond which new ones are closed")
      ->check(CLI::Range(1, 65536));
  app.add_option("--max-connections-per-process", options.connections.max_connections_per_process,
                 "Client connections one process may hold open")
      ->check(CLI::Range(1, 65536));
  std::string tls_listen, tls_cert, tls_key, tls_client_ca;
  std::vector<std::string> tls_power_subjects;
  auto* tls_opt = app.add_option("--tls-listen", tls_listen,
                                 "Also listen on TCP HOST:PORT for remote clients, with mutual TLS "
                                 "only (off by default)");
  app.add_option("--tls-cert", tls_cert, "The TLS listener's certificate (PEM)")
      ->check(CLI::ExistingFile)
      ->needs(tls_opt);
  app.add_option("--tls-key", tls_key, "The certificate's private key (PEM)")
      ->check(CLI::ExistingFile)
      ->needs(tls_opt);
  app.add_option("--tls-client-ca", tls_client_ca,
                 "CA certificate (PEM) that every client certificate must be signed by")
      ->check(CLI::ExistingFile)
      ->needs(tls_opt);
  app.add_option("--tls-power-subject", tls_power_subjects,
                 "Client certificate common name allowed to change the power state (repeatable)")
      ->needs(tls_opt);
  CLI11_PARSE(app, argc, argv);
  if (!tls_listen.empty()) {
    if (tls_cert.empty() || tls_key.empty() || tls_client_ca.empty()) {
      std::fprintf(stderr,
                   "trellis-manager: --tls-listen needs --tls-cert, --tls-key and "
                   "--tls-client-ca (client certificates are always required)\n");
      return 2;
    }
    auto read = [](const std::string& path) {
      std::ifstream in(path);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    options.tls = trellis::manager::ManagerOptions::Tls{
        .address = tls_listen,
        .cert_pem = read(tls_cert),
        .key_pem = read(tls_key),
        .client_ca_pem = read(tls_client_ca),
        .power_subjects = tls_power_subjects};
  }
  if (!power_group.empty()) {
    std::string error;
    options.power_group = ParseGroup(power_group, &error);
    if (!options.power_group) {
      std::fprintf(stderr, "trellis-manager: %s\n", error.c_str());
      return 2;
    }
  }

  options.board = board;
  options.runtime_dir = runtime_dir;
  for (auto& dir : driver_dirs) options.extra_driver_dirs.emplace_back(dir);
  options.host_binary = hosts_in_threads ? "" : host_binary;

  // Ctrl-C / SIGTERM are taken by sigwait below; block them before any
  // thread exists.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto manager = trellis::manager::Manager::Start(options);
  if (!manager) {
    std::fprintf(stderr, "trellis-manager: %s\n", manager.error().ToString().c_str());
    return 1;
  }
  bool idle = (*manager)->WaitForIdle(std::chrono::seconds(30));
  std::fprintf(stderr, "trellis-manager: %s on %s (%zu manifest(s) skipped); Ctrl-C stops\n",
               idle ? "ready" : "still binding", (*manager)->endpoint().c_str(),
               (*manager)->load_errors().size());
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "trellis-manager: stopping (signal %d)\n", signal);
  manager->reset();
  std::fprintf(stderr, "trellis-manager: stopped\n");
  return 0;
}
