// The manager's optional TCP listener for remote clients: mutual TLS only
// (a client certificate is required and verified against the configured
// CA), identity from the certificate's common name.
#include <grpcpp/security/server_credentials.h>

#include "manager/driver_manager_service.h"
#include "manager/manager.h"
#include "manager/power_service.h"
#include "runtime/rpc/server_limits.h"

namespace trellis::manager {

Result<void> Manager::StartTlsListener() {
  if (!options_.tls) return Ok();
  const ManagerOptions::Tls& tls = *options_.tls;
  if (tls.cert_pem.empty() || tls.key_pem.empty() || tls.client_ca_pem.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "the TLS listener needs a certificate, its key and the clients' CA");
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = tls.client_ca_pem;
  ssl.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
  tls_manager_service_ = std::make_unique<DriverManagerService>(this);
  tls_power_service_ = std::make_unique<PowerService>(this);
  grpc::ServerBuilder builder;
  rpc::ApplyServerLimits(builder, "manager-tls");
  builder.AddListeningPort(tls.address, grpc::SslServerCredentials(ssl), &tls_port_);
  builder.RegisterService(tls_manager_service_.get());
  builder.RegisterService(tls_power_service_.get());
  tls_server_ = builder.BuildAndStart();
  if (tls_server_ == nullptr || tls_port_ == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "cannot listen with TLS on " + tls.address +
                    " (is the address free, and do the certificate and key match?)");
  }
  std::fprintf(stderr, "trellis-manager: TLS listener on port %d (client certificates required)\n",
               tls_port_);
  return Ok();
}

std::optional<std::string> Manager::TlsSubject(const grpc::CallbackServerContext* context) {
  auto auth = context->auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return std::nullopt;
  auto names = auth->FindPropertyValues("x509_common_name");
  if (names.empty()) return std::nullopt;
  return std::string(names.front().data(), names.front().size());
}

}  // namespace trellis::manager
