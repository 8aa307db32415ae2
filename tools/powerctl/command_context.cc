// ConnectPower, ReportError and Print.
#include "tools/powerctl/command_context.h"

#include "tools/client/client.h"
#include "tools/client/duration.h"
#include "tools/powerctl/power_json.h"

namespace trellis::powerctl {

std::optional<std::chrono::milliseconds> CallTimeout(const GlobalOptions& globals) {
  auto timeout = client::ParseDuration(globals.timeout);  // Checked by the validator already.
  if (!timeout || timeout->count() == 0) return std::nullopt;
  return *timeout;
}

Result<PowerClient> ConnectPower(const GlobalOptions& globals) {
  std::string endpoint = globals.endpoint;
  if (endpoint.empty()) {
    TRELLIS_ASSIGN_OR_RETURN(endpoint, client::DefaultManagerEndpoint());
  }
  PowerClient::Options options;
  options.call_timeout = CallTimeout(globals);
  // With no deadline on calls, still give up connecting after the usual wait.
  options.connect_timeout = options.call_timeout.value_or(std::chrono::seconds(10));
  return PowerClient::Connect(std::move(endpoint), options);
}

int ReportError(const Io& io, const GlobalOptions& globals, const Error& error) {
  if (globals.json) Print(io, DumpJson(ErrorToJson(error), false) + "\n");
  io.err << "powerctl: " << error.message() << "\n" << std::flush;
  return kExitError;
}

void Warn(const Io& io, std::string_view text) {
  io.err << "powerctl: warning: " << text << "\n" << std::flush;
}

void Print(const Io& io, std::string_view text) { io.out << text << std::flush; }

}  // namespace trellis::powerctl
