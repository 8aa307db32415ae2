# Shared by scripts/run, scripts/test and scripts/fuzz: install missing
# Debian packages, configure once, build incrementally. Source it; do not
# run it.

TRELLIS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Every package the build, the tests and the benchmarks use. Debian 12 only.
TRELLIS_PACKAGES=(
  g++ cmake ninja-build pkg-config ccache
  lld  # links in a third of the time of ld.bfd (used when present)
  liburing-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev
  gdisk  # sgdisk: GPT test images, and the default board's disk
  fio    # block_bench: the io_uring baseline
  openssl  # certificates for the TLS listener tests
  python3-grpcio python3-protobuf  # examples/python, run by the suite
  qemu-system-common  # qemu-storage-daemon: the vhost-user-blk backend of the virtio tests
)

trellis_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# trellis_install_deps [PACKAGE...]: installs whatever of TRELLIS_PACKAGES and
# the extra PACKAGEs is missing; a no-op when all are there.
trellis_install_deps() {
  local missing=()
  local pkg
  for pkg in "${TRELLIS_PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  trellis_log "installing ${#missing[@]} missing packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# trellis_configure DIR SANITIZER: configures DIR unless it already is. The
# array TRELLIS_CONFIGURE_ARGS, if set, is added to the cmake command line
# (scripts/fuzz: the compiler and the fuzzing options).
trellis_configure() {
  local dir=$1 sanitize=$2
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    trellis_log "configuring $dir${sanitize:+ (sanitize=$sanitize)}"
    # Sanitizer builds: -O1 (the usual setting for them, and much quicker to
    # compile) and no benchmarks, which mean nothing under a sanitizer.
    # -g1 everywhere: line tables are all that stack traces, sanitizer
    # reports and perf need, at a fraction of full debug info's compile and
    # link time.
    local extra=()
    if [ -n "$sanitize" ]; then
      extra=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DTRELLIS_BUILD_BENCHMARKS=OFF)
    else
      extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
    fi
    # TRELLIS_INTEGRATION_TESTS=0 leaves the integration tests out of a new
    # build directory (CI's TSan suite does not run them).
    if [ "${TRELLIS_INTEGRATION_TESTS:-1}" = 0 ]; then
      extra+=(-DTRELLIS_BUILD_INTEGRATION_TESTS=OFF)
    fi
    cmake -S "$TRELLIS_ROOT" -B "$dir" -G Ninja "${extra[@]}" \
      ${TRELLIS_CONFIGURE_ARGS[@]+"${TRELLIS_CONFIGURE_ARGS[@]}"} \
      -DTRELLIS_SANITIZE="$sanitize" >"$dir.configure.log" 2>&1 || {
        cat "$dir.configure.log" >&2
        return 1
      }
  fi
}

# trellis_build DIR SANITIZER [TARGET...]: configures DIR on first use (see
# trellis_configure), then builds incrementally (a second run with no
# changes builds nothing).
trellis_build() {
  local dir=$1 sanitize=$2
  shift 2
  trellis_configure "$dir" "$sanitize"
  trellis_log "building $dir"
  cmake --build "$dir" -- ${TRELLIS_JOBS:+-j "$TRELLIS_JOBS"} "$@"
}

# trellis_make_disk IMAGE: creates IMAGE, unless it exists, as a 64 MiB sparse
# file with a GPT of two partitions (1: "boot", 8 MiB EFI system; 2: "data",
# the rest, Linux filesystem): the default board's disk.
trellis_make_disk() {
  local image=$1
  [ -e "$image" ] && return 0
  local sgdisk
  sgdisk=$(command -v sgdisk || echo /usr/sbin/sgdisk)
  trellis_log "creating $image: 64 MiB sparse disk, GPT with partitions boot and data"
  rm -f "$image.new"
  truncate -s 64M "$image.new"
  "$sgdisk" -n 1:2048:+8M -t 1:ef00 -c 1:boot -n 2:0:0 -t 2:8300 -c 2:data "$image.new" >/dev/null
  mv "$image.new" "$image"
}
