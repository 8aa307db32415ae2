// UnaryFinisher: finishes a callback-API unary call exactly once. Dropped
// without Finish (say, inside a task a stopping dispatcher discarded), it
// finishes the call with UNAVAILABLE, so a client never waits forever.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>

namespace trellis::rpc {

class UnaryFinisher {
 public:
  UnaryFinisher(grpc::ServerUnaryReactor* reactor, std::string if_dropped)
      : reactor_(reactor), if_dropped_(std::move(if_dropped)) {}
  UnaryFinisher(UnaryFinisher&& other) noexcept
      : reactor_(std::exchange(other.reactor_, nullptr)), if_dropped_(std::move(other.if_dropped_)) {}
  UnaryFinisher& operator=(UnaryFinisher&&) = delete;
  ~UnaryFinisher() {
    if (reactor_ != nullptr) reactor_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, if_dropped_));
  }

  void Finish(const grpc::Status& status) {
    if (auto* reactor = std::exchange(reactor_, nullptr)) reactor->Finish(status);
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
  std::string if_dropped_;
};

}  // namespace trellis::rpc
