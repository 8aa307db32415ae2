// ConnectManager, ReportError and Print.
#include "tools/trellisctl/command_context.h"

#include <cstdio>

namespace trellis::tools {

Result<client::ManagerClient> ConnectManager(const GlobalOptions& globals) {
  std::string endpoint = globals.endpoint;
  if (endpoint.empty()) {
    TRELLIS_ASSIGN_OR_RETURN(endpoint, client::DefaultManagerEndpoint());
  }
  return client::ManagerClient::Connect(std::move(endpoint));
}

int ReportError(std::string_view what, const Error& error) {
  std::string line = "trellisctl: " + std::string(what) + ": " + error.ToString() + "\n";
  std::fflush(stdout);
  std::fwrite(line.data(), 1, line.size(), stderr);
  return kExitFailure;
}

void Print(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace trellis::tools
