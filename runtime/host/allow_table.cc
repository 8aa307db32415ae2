#include "runtime/host/allow_table.h"

#include <cstdio>
#include <vector>

namespace trellis::host {

void AllowTable::Swap(std::shared_ptr<DriverInstance> instance, const std::string& node_path,
                      const Caller& caller, uint32_t minor, bool read_only, AllowedBuffer buffer,
                      Done done) {
  // Runs on the driver's dispatcher; dropped unrun (the driver stopped), it
  // answers UNAVAILABLE and forgets the slot if it was taking it back.
  struct Task {
    AllowTable* table;
    std::shared_ptr<DriverInstance> instance;
    Key key;
    Caller caller;
    AllowedBuffer buffer;
    Done done;
    bool ran = false;

    void operator()() {
      ran = true;
      auto& [client, node, minor, read_only] = key;
      auto* protocol =
          static_cast<DeviceProtocol*>(instance->FindProtocol(node, DeviceProtocol::kName));
      if (protocol == nullptr) {
        done(Fail(ErrorCode::kUnavailable, "the driver no longer serves Device"));
        return;
      }
      uint64_t expected = 0;
      {
        MutexLock lock(table->mu_);
        if (auto it = table->slots_.find(key); it != table->slots_.end()) expected = it->second.id;
      }
      const uint64_t lent = buffer.empty() ? 0 : buffer.id();
      auto result = protocol->Allow(caller, minor, read_only, std::move(buffer));
      if (!result) {
        done(std::move(result));
        return;
      }
      {
        MutexLock lock(table->mu_);
        if (lent == 0) {
          table->slots_.erase(key);
        } else {
          table->slots_[key] = Slot{.id = lent, .instance = instance, .caller = caller};
        }
      }
      const uint64_t returned = result->previous.empty() ? 0 : result->previous.id();
      if (returned != expected) {
        std::fprintf(stderr,
                     "trellis-host: %s: Allow on minor %u handed back buffer %llu, not the %llu "
                     "it was lent\n",
                     node.c_str(), minor, static_cast<unsigned long long>(returned),
                     static_cast<unsigned long long>(expected));
        done(Fail(ErrorCode::kInternal,
                  "the driver handed back a different buffer than the one this slot held"));
        return;
      }
      done(std::move(result));
    }

    ~Task() {
      if (ran || !done) return;
      if (buffer.empty()) {
        MutexLock lock(table->mu_);
        table->slots_.erase(key);
      }
      done(Fail(ErrorCode::kUnavailable, "the driver stopped"));
    }
  };
  std::unique_ptr<Task> task(new Task{.table = this,
                                      .instance = instance,
                                      .key = Key{caller.client_id, node_path, minor, read_only},
                                      .caller = caller,
                                      .buffer = std::move(buffer),
                                      .done = std::move(done)});
  (void)instance->dispatcher().Post([task = std::move(task)] { (*task)(); });
}

void AllowTable::Release(uint64_t client_id, const std::optional<std::string>& node_path) {
  std::vector<std::pair<Key, Slot>> mine;
  {
    MutexLock lock(mu_);
    for (const auto& [key, slot] : slots_) {
      if (std::get<0>(key) != client_id) continue;
      if (node_path && std::get<1>(key) != *node_path) continue;
      mine.emplace_back(key, slot);
    }
  }
  for (auto& [key, slot] : mine) {
    auto instance = slot.instance.lock();
    if (!instance) {
      MutexLock lock(mu_);
      slots_.erase(key);
      continue;
    }
    Swap(std::move(instance), std::get<1>(key), slot.caller, std::get<2>(key), std::get<3>(key),
         AllowedBuffer(), [](Result<DeviceProtocol::AllowResult>) {});
  }
}

size_t AllowTable::size() const {
  MutexLock lock(mu_);
  return slots_.size();
}

}  // namespace trellis::host
