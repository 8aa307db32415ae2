# Every third-party dependency comes from Debian 12 packages; scripts/deps
# installs them. protobuf and gRPC are found with pkg-config.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(PROTOBUF REQUIRED IMPORTED_TARGET protobuf)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET liburing)

find_program(PROTOC protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

if(TRELLIS_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TRELLIS_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
