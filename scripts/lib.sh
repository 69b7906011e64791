# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, then configure/build.
# Sourced, not run.

MSGR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the build and the tests use.  Kept in one list so the two commands agree.
MSGR_PACKAGES=(
  build-essential cmake pkg-config python3
  clang libclang-rt-14-dev llvm-14
  tshark libwireshark-dev wireshark-dev libglib2.0-dev libpcap-dev
  libssl-dev iproute2 nftables iperf3 socat python3-scapy
  libzmq3-dev libnng-dev linux-perf
  gcc-arm-none-eabi
)

msgr_log() { printf '\n=== %s\n' "$*"; }

msgr_install_missing() {
  local missing=() p
  for p in "${MSGR_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    msgr_log "all ${#MSGR_PACKAGES[@]} Debian packages present"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "WARNING: not root, cannot install missing packages: ${missing[*]}" >&2
    echo "WARNING: the parts that need them will be skipped or fail." >&2
    return 0
  fi
  msgr_log "installing: ${missing[*]}"
  # tshark asks whether non-root users may capture; answer before apt does.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

# msgr_build DIR [cmake args...]
msgr_build() {
  local dir=$1; shift
  cmake -S "$MSGR_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}
