#include "virtio/vhost_user/testing/storage_daemon.h"

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
#include <vector>

#include "virtio/vhost_user/internal/format.h"

namespace trellis::vhost_user::testing {

using internal::Format;

namespace {

namespace fs = std::filesystem;

// Between checks for the socket or the child's exit.
constexpr int kPollIntervalMs = 10;
constexpr std::chrono::seconds kStopGrace{5};

// A private directory for the image and socket: $TMPDIR if the socket path
// fits sockaddr_un and has no ',' (QEMU's option separator), else /tmp.
Result<std::string> MakeDir() {
  std::string base = "/tmp";
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') {
    std::string t = tmp;
    if (t.size() < 60 && t.find(',') == std::string::npos) base = t;
  }
  std::string pattern = base + "/trellis-qsd-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return FailErrno(errno, "mkdtemp " + pattern);
  return pattern;
}

Result<void> WriteImage(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return FailErrno(errno, "creating image " + path);
  std::vector<std::byte> chunk(1 << 16);
  for (uint64_t offset = 0; offset < size; offset += chunk.size()) {
    size_t n = std::min<uint64_t>(chunk.size(), size - offset);
    for (size_t i = 0; i < n; ++i) chunk[i] = StorageDaemon::PatternByte(offset + i);
    if (::pwrite(fd, chunk.data(), n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n)) {
      int err = errno;
      ::close(fd);
      return FailErrno(err, "writing image " + path);
    }
  }
  ::close(fd);
  return Ok();
}

// Whether /proc/net/unix lists `path` as a listening socket (flag
// __SO_ACCEPTCON, 0x10000, in the Flags column).
bool Listening(const std::string& path) {
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);  // Column names.
  while (std::getline(in, line)) {
    if (line.size() <= path.size() ||
        line.compare(line.size() - path.size(), path.size(), path) != 0 ||
        line[line.size() - path.size() - 1] != ' ') {
      continue;
    }
    std::istringstream fields(line);
    std::string num, refcount, protocol, flags;
    fields >> num >> refcount >> protocol >> flags;
    if ((std::strtoul(flags.c_str(), nullptr, 16) & 0x10000) != 0) return true;
  }
  return false;
}

}  // namespace

bool StorageDaemon::Available(const std::string& binary) {
  return ::access(binary.c_str(), X_OK) == 0;
}

std::byte StorageDaemon::PatternByte(uint64_t offset) {
  // Differs between neighbouring bytes and between sectors.
  return static_cast<std::byte>((offset * 7 + (offset >> 9) * 13 + 1) & 0xff);
}

Result<std::unique_ptr<StorageDaemon>> StorageDaemon::Start(StorageDaemonOptions options) {
  if (!Available(options.binary)) {
    return Fail(ErrorCode::kFailedPrecondition,
                options.binary + " is not installed or not executable");
  }
  if (options.image_size == 0 || options.image_size % 512 != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                Format("image size {} is not a positive multiple of 512", options.image_size));
  }
  if (!options.image.empty()) {
    std::error_code ec;
    uint64_t size = fs::file_size(options.image, ec);
    if (ec) return FailErrno(ec.value(), "image " + options.image);
    options.image_size = size;
  }
  std::unique_ptr<StorageDaemon> daemon(new StorageDaemon(std::move(options)));
  TRELLIS_ASSIGN_OR_RETURN(daemon->dir_, MakeDir());
  daemon->socket_path_ = daemon->dir_ + "/vhost-user-blk.sock";
  daemon->log_path_ = daemon->dir_ + "/daemon.log";
  if (daemon->options_.image.empty()) {
    daemon->image_path_ = daemon->dir_ + "/disk.img";
    TRELLIS_TRY(WriteImage(daemon->image_path_, daemon->options_.image_size));
  } else {
    daemon->image_path_ = daemon->options_.image;
  }
  TRELLIS_TRY(daemon->Spawn());
  TRELLIS_TRY(daemon->WaitListening(), "starting qemu-storage-daemon");
  return daemon;
}

Result<void> StorageDaemon::Spawn() {
  std::vector<std::string> args = {
      options_.binary,
      "--blockdev",
      "driver=file,node-name=disk0,filename=" + image_path_ + options_.blockdev_options,
      "--export",
      "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=" + socket_path_ +
          ",writable=" + (options_.writable ? "on" : "off"),
  };
  if (options_.iothread_poll_ns) {  // The object first: the export names it.
    args.back() += ",iothread=iot0";
    args.insert(args.begin() + 1, {"--object", "iothread,id=iot0,poll-max-ns=" +
                                                   std::to_string(*options_.iothread_poll_ns)});
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log = ::open(log_path_.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return FailErrno(errno, "creating " + log_path_);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0) {
    int err = errno;
    ::close(log);
    return FailErrno(err, "opening /dev/null");
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Child: async-signal-safe calls only. Dies with the test process (if
    // the thread that started it exits first, too).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int err = errno;
  ::close(log);
  ::close(null);
  if (pid < 0) return FailErrno(err, "fork for qemu-storage-daemon");
  pid_ = pid;
  return Ok();
}

bool StorageDaemon::Reaped(int* status) {
  if (pid_ < 0) return true;
  pid_t r = ::waitpid(pid_, status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return true;
  }
  return false;
}

Result<void> StorageDaemon::WaitListening() {
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  for (;;) {
    int status = 0;
    if (Reaped(&status)) {
      return Fail(ErrorCode::kUnavailable,
                  Format("qemu-storage-daemon exited ({}) before listening on {}; its "
                         "output: {}",
                         WIFEXITED(status) ? Format("status {}", WEXITSTATUS(status))
                                           : Format("signal {}", WTERMSIG(status)),
                         socket_path_, Log()));
    }
    if (Listening(socket_path_)) return Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Fail(ErrorCode::kDeadlineExceeded,
                  Format("qemu-storage-daemon not listening on {} after {} ms; its output: {}",
                         socket_path_, options_.start_timeout.count(), Log()));
    }
    ::poll(nullptr, 0, kPollIntervalMs);
  }
}

std::string StorageDaemon::Log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<std::string> StorageDaemon::ReadImage(uint64_t offset, size_t length) const {
  int fd = ::open(image_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FailErrno(errno, "opening image " + image_path_);
  std::string data(length, '\0');
  ssize_t n = ::pread(fd, data.data(), length, static_cast<off_t>(offset));
  int err = errno;
  ::close(fd);
  if (n < 0) return FailErrno(err, "reading image " + image_path_);
  data.resize(static_cast<size_t>(n));
  return data;
}

Result<void> StorageDaemon::Kill() {
  if (pid_ < 0) return Fail(ErrorCode::kFailedPrecondition, "qemu-storage-daemon is not running");
  if (::kill(pid_, SIGKILL) != 0) return FailErrno(errno, "kill qemu-storage-daemon");
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return Ok();
}

Result<void> StorageDaemon::Restart() {
  if (pid_ >= 0) TRELLIS_TRY(Kill());
  ::unlink(socket_path_.c_str());
  TRELLIS_TRY(Spawn());
  return WaitListening();
}

void StorageDaemon::Stop() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  int status;
  while (!Reaped(&status)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      (void)Kill();
      return;
    }
    ::poll(nullptr, 0, kPollIntervalMs);
  }
}

StorageDaemon::~StorageDaemon() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace trellis::vhost_user::testing
