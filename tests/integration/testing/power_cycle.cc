#include "tests/integration/testing/power_cycle.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>

#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::testing {

int SuspendAndResume(const std::string& manager_endpoint, int cycles) {
  auto power = power::v1::Power::NewStub(
      grpc::CreateChannel(manager_endpoint, grpc::InsecureChannelCredentials()));
  int completed = 0;
  for (int i = 0; i < cycles; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    power::v1::SuspendRequest request;
    power::v1::SuspendResponse response;
    auto done = std::async(std::launch::async,
                           [&] { return power->Suspend(&context, request, &response); });
    // Resume as soon as it is suspended (or the suspend already ended).
    for (;;) {
      grpc::ClientContext status_context;
      power::v1::StatusResponse status;
      if (!power->Status(&status_context, {}, &status).ok()) break;
      if (status.state() == power::v1::SYSTEM_STATE_SUSPENDED) break;
      if (done.wait_for(std::chrono::milliseconds(1)) == std::future_status::ready) break;
    }
    grpc::ClientContext resume_context;
    power::v1::ResumeResponse resumed;
    (void)power->Resume(&resume_context, {}, &resumed);
    grpc::Status status = done.get();
    if (status.ok() && response.outcome() == power::v1::SuspendResponse::OUTCOME_RESUMED) {
      ++completed;
    }
  }
  return completed;
}

}  // namespace trellis::testing
