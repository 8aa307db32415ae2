#include "virtio/backend/testing/backend_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace trellis::virtio::backend::testing {

namespace {

constexpr int kPollIntervalMs = 5;

Result<std::string> MakeDir() {
  std::string base = "/tmp";
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') {
    if (std::string(tmp).size() < 60) base = tmp;  // Room for the socket name.
  }
  std::string pattern = base + "/trellis-vhb-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return FailErrno(errno, "mkdtemp " + pattern);
  return pattern;
}

}  // namespace

std::string BackendProcess::DefaultBinary() {
#ifdef TRELLIS_VHOST_BACKEND_BINARY
  return TRELLIS_VHOST_BACKEND_BINARY;
#else
  return "";
#endif
}

bool BackendProcess::Available(const std::string& binary) {
  return !binary.empty() && ::access(binary.c_str(), X_OK) == 0;
}

Result<std::unique_ptr<BackendProcess>> BackendProcess::Start(BackendProcessOptions options) {
  if (options.binary.empty()) options.binary = DefaultBinary();
  if (!Available(options.binary)) return Fail(ErrorCode::kFailedPrecondition, kMissing);
  std::unique_ptr<BackendProcess> process(new BackendProcess(std::move(options)));
  TRELLIS_ASSIGN_OR_RETURN(process->dir_, MakeDir());
  process->socket_path_ = process->dir_ + "/backend.sock";
  process->log_path_ = process->dir_ + "/backend.log";
  TRELLIS_TRY(process->Spawn());
  TRELLIS_TRY(
      process->WaitForLog("listening on " + process->socket_path_, process->options_.start_timeout),
      "starting trellis-vhost-backend");
  return process;
}

Result<void> BackendProcess::Spawn() {
  std::vector<std::string> args = {options_.binary, "--device", options_.device, "--socket",
                                   socket_path_};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log = ::open(log_path_.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return FailErrno(errno, "creating " + log_path_);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) {
    int err = errno;
    ::close(log);
    return FailErrno(err, "opening /dev/null");
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Child: async-signal-safe calls only; dies with the test process.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int err = errno;
  ::close(log);
  ::close(null);
  if (pid < 0) return FailErrno(err, "fork for trellis-vhost-backend");
  pid_ = pid;
  return Ok();
}

bool BackendProcess::Reaped() {
  if (pid_ < 0) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    pid_ = -1;
    return true;
  }
  return false;
}

bool BackendProcess::Running() { return !Reaped(); }

std::string BackendProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<void> BackendProcess::WaitForLog(const std::string& text,
                                        std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (Log().find(text) != std::string::npos) return Ok();
    if (const_cast<BackendProcess*>(this)->Reaped()) {
      return Fail(ErrorCode::kUnavailable,
                  "trellis-vhost-backend exited (" + std::to_string(exit_status_.value_or(-1)) +
                      ") without logging '" + text + "'; its output: " + Log());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Fail(ErrorCode::kDeadlineExceeded, "trellis-vhost-backend did not log '" + text +
                                                    "' within " + std::to_string(timeout.count()) +
                                                    " ms; its output: " + Log());
    }
    ::poll(nullptr, 0, kPollIntervalMs);
  }
}

Result<void> BackendProcess::Signal(int signal, const char* what) {
  if (pid_ < 0) return Fail(ErrorCode::kFailedPrecondition, "trellis-vhost-backend is not running");
  if (::kill(pid_, signal) != 0) return FailErrno(errno, what);
  return Ok();
}

Result<void> BackendProcess::Kill() {
  TRELLIS_TRY(Signal(SIGKILL, "kill trellis-vhost-backend"));
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_status_ = 128 + SIGKILL;
  pid_ = -1;
  return Ok();
}

Result<void> BackendProcess::Pause() { return Signal(SIGSTOP, "SIGSTOP trellis-vhost-backend"); }

Result<void> BackendProcess::Continue() { return Signal(SIGCONT, "SIGCONT trellis-vhost-backend"); }

Result<int> BackendProcess::Terminate(std::chrono::milliseconds timeout) {
  (void)Signal(SIGCONT, "SIGCONT");
  TRELLIS_TRY(Signal(SIGTERM, "SIGTERM trellis-vhost-backend"));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Reaped()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      TRELLIS_TRY(Kill());
      return Fail(ErrorCode::kDeadlineExceeded,
                  "trellis-vhost-backend ignored SIGTERM; killed. Its output: " + Log());
    }
    ::poll(nullptr, 0, kPollIntervalMs);
  }
  return *exit_status_;
}

BackendProcess::~BackendProcess() {
  if (pid_ >= 0) (void)Terminate();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace trellis::virtio::backend::testing
