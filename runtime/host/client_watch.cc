#include "runtime/host/client_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace trellis::host {

Result<std::unique_ptr<ClientWatch>> ClientWatch::Start(OnExit on_exit) {
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return FailErrno(errno, "eventfd for the client watch");
  std::unique_ptr<ClientWatch> watch(new ClientWatch(std::move(on_exit), std::move(wake)));
  watch->thread_ = std::thread([raw = watch.get()] { raw->Run(); });
  return watch;
}

ClientWatch::~ClientWatch() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  (void)::eventfd_write(wake_.get(), 1);
  thread_.join();
}

void ClientWatch::Watch(uint64_t client_id, pid_t pid) {
  if (pid <= 0) return;
  {
    MutexLock lock(mu_);
    if (!clients_.insert(client_id).second) return;
    auto it = processes_.find(pid);
    if (it == processes_.end()) {
      UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      if (!pidfd.valid()) {
        // ESRCH: already gone; anything else: we cannot tell, so do not guess.
        if (errno != ESRCH) return;
      }
      it = processes_.emplace(pid, Process{.pidfd = std::move(pidfd)}).first;
    }
    it->second.clients.insert(client_id);
  }
  (void)::eventfd_write(wake_.get(), 1);
}

void ClientWatch::Run() {
  std::vector<pollfd> fds;
  std::vector<pid_t> pids;
  for (;;) {
    std::vector<uint64_t> exited;
    {
      MutexLock lock(mu_);
      if (stop_) return;
      fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
      pids.assign(1, 0);
      for (auto it = processes_.begin(); it != processes_.end();) {
        if (!it->second.pidfd.valid()) {  // Gone before we could watch it.
          exited.insert(exited.end(), it->second.clients.begin(), it->second.clients.end());
          for (uint64_t c : it->second.clients) clients_.erase(c);
          it = processes_.erase(it);
          continue;
        }
        fds.push_back({it->second.pidfd.get(), POLLIN, 0});
        pids.push_back(it->first);
        ++it;
      }
    }
    for (uint64_t client : exited) on_exit_(client);
    if (!exited.empty()) continue;
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) {
      eventfd_t count;
      (void)::eventfd_read(wake_.get(), &count);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      MutexLock lock(mu_);
      auto it = processes_.find(pids[i]);
      if (it == processes_.end()) continue;
      exited.insert(exited.end(), it->second.clients.begin(), it->second.clients.end());
      for (uint64_t c : it->second.clients) clients_.erase(c);
      processes_.erase(it);
    }
    for (uint64_t client : exited) on_exit_(client);
  }
}

}  // namespace trellis::host
