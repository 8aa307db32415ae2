// StorageDaemon: a real vhost-user-blk backend for tests — qemu-storage-daemon
// run as a child process, exporting a fresh raw image in a temporary
// directory:
//
//   qemu-storage-daemon
//     --blockdev driver=file,node-name=disk0,filename=DIR/disk.img
//     --export type=vhost-user-blk,id=exp0,node-name=disk0,
//              addr.type=unix,addr.path=DIR/vhost-user-blk.sock,writable=on
//
//   if (!StorageDaemon::Available()) GTEST_SKIP() << StorageDaemon::kMissing;
//   auto daemon = StorageDaemon::Start({.image_size = 16 << 20});
//   auto frontend = VhostUserFrontend::Connect(daemon.value()->socket_path());
//
// The image holds a known pattern (PatternByte) so reads can be checked.
// Start returns once the export socket is listening (seen in
// /proc/net/unix), polling with a bounded retry loop; it fails with the
// daemon's own output if the daemon exits or the socket does not appear.
//
// The daemon serves one vhost-user connection at a time; the next one waits
// in the listen queue until the first closes.
//
// The destructor stops the daemon (SIGTERM, then SIGKILL after a bounded
// wait), reaps it and removes the directory. Kill() is the crash case.
// One thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "runtime/error.h"

namespace trellis::vhost_user::testing {

struct StorageDaemonOptions {
  // Image size in bytes; a multiple of 512.
  uint64_t image_size = 16 << 20;
  // An existing image to export instead of a fresh patterned one (then
  // image_size is the file's size).
  std::string image;
  // Appended to the --blockdev option: ",cache.direct=on,aio=io_uring".
  std::string blockdev_options;
  bool writable = true;
  // Serve the export from an iothread that busy-polls for up to this many
  // nanoseconds before sleeping (--object iothread,poll-max-ns=N); unset:
  // the main loop, no polling.
  std::optional<uint64_t> iothread_poll_ns;
  // How long Start waits for the socket.
  std::chrono::milliseconds start_timeout{15000};
  // Where the binary lives.
  std::string binary = "/usr/bin/qemu-storage-daemon";
};

class StorageDaemon {
 public:
  static constexpr const char* kDefaultBinary = "/usr/bin/qemu-storage-daemon";
  static constexpr const char* kMissing =
      "/usr/bin/qemu-storage-daemon is not installed (Debian package qemu-system-common)";

  // Whether the binary exists and is executable.
  static bool Available(const std::string& binary = kDefaultBinary);

  // The byte the image holds at `offset`.
  static std::byte PatternByte(uint64_t offset);

  // Creates the directory and image, starts the daemon and waits for its
  // socket. Errors: kFailedPrecondition if the binary is missing;
  // kUnavailable (with the daemon's output) if it exits early;
  // kDeadlineExceeded if the socket is not listening by start_timeout.
  static Result<std::unique_ptr<StorageDaemon>> Start(StorageDaemonOptions options = {});

  ~StorageDaemon();
  StorageDaemon(const StorageDaemon&) = delete;
  StorageDaemon& operator=(const StorageDaemon&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  const std::string& image_path() const { return image_path_; }
  uint64_t image_size() const { return options_.image_size; }
  pid_t pid() const { return pid_; }

  // Reads `length` bytes of the image file at `offset` (what the daemon
  // wrote through its page cache).
  Result<std::string> ReadImage(uint64_t offset, size_t length) const;
  // The daemon's stdout and stderr so far.
  std::string Log() const;

  // SIGKILL and reap: the backend dies mid-session.
  Result<void> Kill();
  // Starts the daemon again on the same image and socket path (after Kill),
  // and waits for its socket.
  Result<void> Restart();

 private:
  explicit StorageDaemon(StorageDaemonOptions options) : options_(std::move(options)) {}
  Result<void> Spawn();
  Result<void> WaitListening();
  // Reaps the child if it has exited; true when it is gone.
  bool Reaped(int* status);
  void Stop();

  StorageDaemonOptions options_;
  std::string dir_;
  std::string image_path_;
  std::string socket_path_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace trellis::vhost_user::testing
