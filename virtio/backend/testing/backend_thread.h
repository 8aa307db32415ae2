// BackendThread: a VhostUserBackend served on a std::thread, for in-process
// tests, listening in a fresh temporary directory and capturing its log
// lines (WaitForLog waits for one with a deadline).
//
//   auto backend = BackendThread::Start(std::make_unique<RngDevice>());
//   auto driver = TestDriver::Connect({.socket_path = (*backend)->socket_path()});
//
// The destructor stops the loop (VhostUserBackend::Stop), joins the thread
// and removes the directory. The log is read from the test thread under a
// mutex; everything else of the backend stays on its thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "virtio/backend/vhost_user_backend.h"

namespace trellis::virtio::backend::testing {

class BackendThread {
 public:
  static Result<std::unique_ptr<BackendThread>> Start(std::unique_ptr<BackendDevice> device,
                                                      BackendOptions options = {}) {
    std::unique_ptr<BackendThread> t(new BackendThread());
    std::string dir = "/tmp/trellis-vhb-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) return FailErrno(errno, "mkdtemp");
    t->dir_ = dir;
    options.socket_path = dir + "/backend.sock";
    options.log = [raw = t.get()](const std::string& line) { raw->Append(line); };
    TRELLIS_ASSIGN_OR_RETURN(t->backend_, VhostUserBackend::Listen(std::move(device), options));
    t->thread_ = std::thread([raw = t.get()] {
      auto ran = raw->backend_->Run();
      raw->Append(ran ? "run returned" : "run failed: " + ran.error().message());
    });
    return t;
  }

  ~BackendThread() {
    if (backend_) backend_->Stop();
    if (thread_.joinable()) thread_.join();
    backend_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  const std::string& socket_path() const { return backend_->socket_path(); }
  uint64_t connections() const { return backend_->connections(); }

  std::string Log() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const std::string& line : lines_) out += line + "\n";
    return out;
  }

  // Waits until a log line contains `text`; false at the deadline.
  bool WaitForLog(const std::string& text, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const std::string& line : lines_) {
        if (line.find(text) != std::string::npos) return true;
      }
      return false;
    });
  }

 private:
  BackendThread() = default;
  void Append(const std::string& line) {
    {
      std::lock_guard lock(mu_);
      lines_.push_back(line);
    }
    cv_.notify_all();
  }

  std::string dir_;
  std::unique_ptr<VhostUserBackend> backend_;
  std::thread thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace trellis::virtio::backend::testing
