// The manager's optional TCP listener: mutual TLS only. Certificates are
// made per test with openssl (a CA, the server's, a client's, and a
// client's from another CA). A client without a certificate, or with one
// the CA did not sign, never gets a call through; a good one reads, may
// change the power state only if its common name is a power subject, and
// never binds nodes.
#include <gmock/gmock.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>

#include "tests/integration/testing/manager_fixture.h"
#include "tools/trellisctl/testing/subprocess.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tools::testing::RunCommand;

std::string Slurp(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

class TlsTest : public ManagerFixture {
 protected:
  void SetUp() override {
    certs_ = dir_.path() / "certs";
    fs::create_directories(certs_);
    std::ofstream(certs_ / "server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    MakeCa("ca");
    MakeCa("rogue-ca");
    MakeCert("server", "localhost", "ca", "server.ext");
    MakeCert("ops", "remote-ops", "ca");
    MakeCert("viewer", "remote-viewer", "ca");
    MakeCert("rogue", "remote-ops", "rogue-ca");
  }

  void Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    auto result = RunCommand(args);
    ASSERT_TRUE(result.has_value()) << result.error().ToString();
    ASSERT_EQ(result->exit_code, 0) << result->err;
  }
  void MakeCa(const std::string& name) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=" + name, "-keyout",
             (certs_ / (name + ".key")).string(), "-out", (certs_ / (name + ".pem")).string()});
  }
  void MakeCert(const std::string& name, const std::string& cn, const std::string& ca,
                const std::string& ext = "") {
    std::string key = (certs_ / (name + ".key")).string();
    std::string csr = (certs_ / (name + ".csr")).string();
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", "/CN=" + cn, "-keyout", key, "-out", csr});
    std::vector<std::string> sign = {"x509", "-req", "-in", csr, "-CA",
                                     (certs_ / (ca + ".pem")).string(), "-CAkey",
                                     (certs_ / (ca + ".key")).string(), "-CAcreateserial",
                                     "-days", "1", "-out", (certs_ / (name + ".pem")).string()};
    if (!ext.empty()) {
      sign.push_back("-extfile");
      sign.push_back((certs_ / ext).string());
    }
    Openssl(sign);
  }

  void StartWithTls(std::vector<std::string> power_subjects) {
    StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}},
                 [&](manager::ManagerOptions& options) {
                   options.tls = manager::ManagerOptions::Tls{
                       .address = "127.0.0.1:0",
                       .cert_pem = Slurp(certs_ / "server.pem"),
                       .key_pem = Slurp(certs_ / "server.key"),
                       .client_ca_pem = Slurp(certs_ / "ca.pem"),
                       .power_subjects = power_subjects};
                 });
    ASSERT_GT(manager_->tls_port(), 0);
  }

  // A channel to the TLS listener presenting `client`'s certificate (none
  // if empty); it trusts the server's CA.
  std::shared_ptr<grpc::Channel> Channel(const std::string& client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Slurp(certs_ / "ca.pem");
    if (!client.empty()) {
      ssl.pem_private_key = Slurp(certs_ / (client + ".key"));
      ssl.pem_cert_chain = Slurp(certs_ / (client + ".pem"));
    }
    // An address, not a name: no DNS resolver (c-ares leaks a few bytes per
    // lookup, which LeakSanitizer reports); the certificate is checked
    // against "localhost" all the same.
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel("ipv4:127.0.0.1:" + std::to_string(manager_->tls_port()),
                                     grpc::SslCredentials(ssl), args);
  }

  static grpc::Status Status(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    power::v1::StatusResponse response;
    return power::v1::Power::NewStub(channel)->Status(&context, {}, &response);
  }

  static grpc::Status Suspend(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    power::v1::SuspendRequest request;
    // Every driver suspended and resumed, without sleeping.
    request.set_test(power::v1::SuspendRequest::TEST_MODE_DRIVERS);
    power::v1::SuspendResponse response;
    return power::v1::Power::NewStub(channel)->Suspend(&context, request, &response);
  }

  fs::path certs_;
};

TEST_F(TlsTest, WithoutACertificateOrWithOneFromAnotherCaNothingGetsThrough) {
  StartWithTls({"remote-ops"});
  grpc::Status none = Status(Channel(""));
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAVAILABLE) << none.error_message();
  grpc::Status rogue = Status(Channel("rogue"));
  EXPECT_EQ(rogue.error_code(), grpc::StatusCode::UNAVAILABLE) << rogue.error_message();
  // Neither reached a handler: the same call with a good certificate does.
  EXPECT_TRUE(Status(Channel("viewer")).ok());
}

TEST_F(TlsTest, TheCertificatesNameDecidesWhatARemoteClientMayDo) {
  StartWithTls({"remote-ops"});
  auto viewer = Channel("viewer");
  EXPECT_TRUE(Status(viewer).ok());
  grpc::Status refused = Suspend(viewer);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("certificate 'remote-viewer' may not suspend"));

  auto ops = Channel("ops");
  grpc::Status suspended = Suspend(ops);
  EXPECT_TRUE(suspended.ok()) << suspended.error_message();

  grpc::ClientContext context;
  manager::v1::BindRequest bind;
  bind.set_node_path("root.sys.echo");
  bind.set_protocol("trellis.device.v1.Device");
  manager::v1::BindResponse response;
  grpc::Status bound = manager::v1::DriverManager::NewStub(ops)->Bind(&context, bind, &response);
  EXPECT_EQ(bound.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(bound.error_message(), HasSubstr("remote clients cannot"));
}

}  // namespace
}  // namespace trellis::testing
