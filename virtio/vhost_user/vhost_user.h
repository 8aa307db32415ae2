// The vhost-user frontend: Trellis as the driver side of a vhost-user device
// whose backend runs in another process (qemu-storage-daemon, or our own).
//
//   message.h       the wire format: requests, header, payloads; strict
//                   decoding of the backend's (untrusted) replies
//   connection.h    the Unix socket: whole messages, SCM_RIGHTS fds,
//                   deadlines
//   frontend.h      VhostUserFrontend: typed, blocking control-path calls
//                   (features, memory table, vring setup and teardown)
//   guest_memory.h  GuestMemory: the memfd shared with the backend, identity
//                   device addresses, a bump allocator for rings and buffers
//   testing/storage_daemon.h
//                   qemu-storage-daemon as a child process, for tests
//
// The data path is not here: rings live in GuestMemory, and notifications
// are the kick/call eventfds handed over with SetVringKick/SetVringCall.
#pragma once

#include "virtio/vhost_user/connection.h"
#include "virtio/vhost_user/frontend.h"
#include "virtio/vhost_user/guest_memory.h"
#include "virtio/vhost_user/message.h"
