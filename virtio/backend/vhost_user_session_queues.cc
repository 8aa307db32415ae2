// VhostUserSession: queue mechanics — starting a queue once its settings are
// complete, stopping it, processing kicks and pushing completions.
#include <sys/eventfd.h>

#include <utility>

#include "virtio/backend/vhost_user_session.h"
#include "virtio/features.h"

namespace trellis::virtio::backend {

int VhostUserSession::kick_fd(size_t index) const {
  const Vring& v = vrings_[index];
  return v.queue ? v.kick.get() : -1;
}

Result<void> VhostUserSession::TryStart(size_t index) {
  Vring& v = vrings_[index];
  const bool protocol = (features_ & kFeatureBit(vhost_user::kFeatureProtocolFeatures)) != 0;
  // Rings start enabled unless PROTOCOL_FEATURES was acked (spec, "Ring states").
  const bool enabled = v.enabled.value_or(!protocol);
  if (v.queue || v.num == 0 || !v.addr || !v.kick.valid() || !enabled || !memory_) return Ok();
  const std::string name = "queue " + std::to_string(index);
  const auto size = static_cast<uint16_t>(v.num);
  auto desc = memory_->GuestAddressOfUser(v.addr->desc, DescTableBytes(size));
  auto avail = memory_->GuestAddressOfUser(v.addr->avail, AvailRingBytes(size));
  auto used = memory_->GuestAddressOfUser(v.addr->used, UsedRingBytes(size));
  if (!desc || !avail || !used) {
    return Refuse(name + ": ring addresses outside the memory table");
  }
  auto queue = DeviceQueue::Create({.name = name_ + " " + name,
                                    .size = size,
                                    .desc_address = *desc,
                                    .avail_address = *avail,
                                    .used_address = *used,
                                    .event_idx = (features_ & kFeatureBit(VIRTIO_F_RING_EVENT_IDX)) != 0,
                                    .indirect = (features_ & kFeatureBit(VIRTIO_F_INDIRECT_DESC)) != 0,
                                    .avail_base = v.base},
                                   *memory_);
  if (!queue) return Refuse(queue.error().message());
  v.queue.emplace(std::move(*queue));
  v.pending_call = false;
  v.force_call = false;
  // Chains made available before the kick fd arrived get no kick of their own.
  ProcessRing(index);
  return Ok();
}

void VhostUserSession::StopQueue(size_t index) {
  Vring& v = vrings_[index];
  if (!v.queue) return;
  v.base = v.queue->next_avail_index();
  v.queue.reset();
  v.pending_call = false;
  v.force_call = false;
  device_.OnQueueStopped(index);
}

Result<void> VhostUserSession::Restart(size_t index) {
  StopQueue(index);
  return TryStart(index);
}

void VhostUserSession::OnKick(size_t index) {
  Vring& v = vrings_[index];
  if (!v.queue) return;
  eventfd_t count;
  (void)::eventfd_read(v.kick.get(), &count);  // Readable: does not block.
  ProcessRing(index);
}

void VhostUserSession::ProcessRing(size_t index) {
  Vring& v = vrings_[index];
  DeviceChain chain;
  while (v.queue && !stalled_) {
    v.queue->DisableNotifications();
    for (;;) {
      auto popped = v.queue->Pop(chain);
      if (!popped) {
        Log("queue " + std::to_string(index) +
            " stopped, the driver broke it: " + popped.error().message());
        StopQueue(index);
        return;
      }
      if (!*popped) break;
      device_.OnChain(*this, index, chain);
      // Completing may have stopped the queue (a refused push) or stalled us.
      if (!v.queue || stalled_) return;
    }
    if (v.queue->EnableNotifications()) return;
  }
}

void VhostUserSession::Complete(size_t queue, uint16_t head, uint32_t written) {
  if (queue >= vrings_.size() || !vrings_[queue].queue || stalled_) return;
  Vring& v = vrings_[queue];
  ++v.pushes;
  if (hostile_.misbehave != Misbehaviour::kNone && v.pushes == hostile_.misbehave_after) {
    Log("misbehaving on queue " + std::to_string(queue) + " push " + std::to_string(v.pushes) +
        ": " + std::string(MisbehaviourName(hostile_.misbehave)));
    v.queue->set_misbehaviour(hostile_.misbehave);
    v.force_call = true;
  }
  if (auto pushed = v.queue->Push(head, written); !pushed) {
    Log("queue " + std::to_string(queue) + " stopped: " + pushed.error().message());
    StopQueue(queue);
    return;
  }
  v.pending_call = true;
  ++completions_;
  if (hostile_.stall_after && completions_ >= *hostile_.stall_after) {
    stalled_ = true;
    Log("stalling after " + std::to_string(completions_) + " completions");
    FlushCalls();  // The completions so far still reach the driver.
  }
}

void VhostUserSession::FlushCalls() {
  for (Vring& v : vrings_) {
    if (!v.queue || !v.pending_call) continue;
    v.pending_call = false;
    const bool wanted = v.queue->NeedsCall();
    const bool forced = std::exchange(v.force_call, false);
    if ((wanted || forced) && v.call.valid()) {
      (void)::eventfd_write(v.call.get(), 1);
    }
  }
}

}  // namespace trellis::virtio::backend
