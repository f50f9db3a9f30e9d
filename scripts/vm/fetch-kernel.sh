#!/usr/bin/env bash
# Fetches the Debian kernel that the real-kernel test suite boots under qemu, into .cache/vm/.
#
# Why a Debian kernel: the machines this project is built on run a kernel without IPVS and without
# module support, so IPVS can only be exercised inside a VM. The generic flavour is used because it
# ships the 9p modules the VM needs to mount the host's root (the cloud flavour has no 9p).
#
# Idempotent: a kernel that is already unpacked is kept; nothing is downloaded at test time.
# Offline re-runs keep working with whatever kernel is cached.
#
# Environment:
#   LVSCARE_VM_KERNEL_PACKAGE  use this exact package (e.g. linux-image-6.1.0-56-amd64) instead of
#                              resolving it from the linux-image-amd64 metapackage.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache_dir="$repo_root/.cache/vm"
manifest="$cache_dir/kernel.json"

log() { printf 'fetch-kernel: %s\n' "$*" >&2; }
die() { printf 'fetch-kernel: error: %s\n' "$*" >&2; exit 1; }

for tool in apt-cache apt-get dpkg dpkg-deb depmod; do
  command -v "$tool" >/dev/null || die "'$tool' not found; this script needs a Debian system (packages apt, dpkg, kmod)"
done

# The metapackage's dependency names the current ABI; older ABIs rotate out of the archive, so a
# hard-coded version would break within months.
resolve_package() {
  if [[ -n "${LVSCARE_VM_KERNEL_PACKAGE:-}" ]]; then
    [[ "$LVSCARE_VM_KERNEL_PACKAGE" =~ ^linux-image-[0-9][0-9a-z.+-]*-amd64$ ]] ||
      die "LVSCARE_VM_KERNEL_PACKAGE='$LVSCARE_VM_KERNEL_PACKAGE' is not a generic amd64 kernel package name"
    printf '%s\n' "$LVSCARE_VM_KERNEL_PACKAGE"
    return
  fi
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][0-9a-z.+-]*-amd64\)$/\1/p' | head -n 1
}

cached_package() {
  [[ -f "$manifest" ]] && sed -n 's/^ *"package": "\(.*\)",\{0,1\}$/\1/p' "$manifest" | head -n 1
}

package=$(resolve_package || true)
if [[ -z "$package" ]]; then
  if [[ -n "$(cached_package)" ]]; then
    log "cannot resolve linux-image-amd64 (no apt lists?); keeping the cached $(cached_package)"
    exit 0
  fi
  die "cannot resolve the kernel package from linux-image-amd64; run 'apt-get update' first"
fi

if [[ "$(cached_package)" == "$package" ]]; then
  release=${package#linux-image-}
  if [[ -f "$cache_dir/$package/boot/vmlinuz-$release" ]]; then
    log "$package already cached in $cache_dir/$package"
    exit 0
  fi
fi

release=${package#linux-image-}
mkdir -p "$cache_dir"
work=$(mktemp -d "$cache_dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "downloading $package"
# apt's download sandbox user cannot write into root's work tree; root downloads directly.
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$package") ||
  die "apt-get download $package failed (is Debian's archive reachable? try 'apt-get update')"
deb=$(find "$work" -maxdepth 1 -name "${package}_*.deb" | head -n 1)
[[ -n "$deb" ]] || die "apt-get download produced no .deb for $package"
version=$(dpkg-deb -f "$deb" Version)

log "unpacking $package $version"
dpkg -x "$deb" "$work/root"

# Debian 12 ships modules under /lib, later releases under /usr/lib; accept both and normalise.
modules_dir=""
for candidate in "$work/root/lib/modules/$release" "$work/root/usr/lib/modules/$release"; do
  [[ -d "$candidate" ]] && modules_dir=$candidate && break
done
[[ -n "$modules_dir" ]] || die "$package has no modules directory for $release"
if [[ "$modules_dir" != "$work/root/lib/modules/$release" ]]; then
  mkdir -p "$work/root/lib/modules"
  mv "$modules_dir" "$work/root/lib/modules/$release"
fi
[[ -f "$work/root/boot/vmlinuz-$release" ]] || die "$package has no boot/vmlinuz-$release"

# The VM mounts the host's root over 9p; a kernel flavour without 9p cannot boot the suite.
if ! find "$work/root/lib/modules/$release" -name '9p.ko*' | grep -q .; then
  die "$package has no 9p module; use the generic amd64 flavour, not cloud"
fi

# The .deb carries no modules.dep; modprobe in the guest needs it.
depmod -b "$work/root" "$release"

rm -rf "${cache_dir:?}/$package"
mv "$work/root" "$cache_dir/$package"

# Written last and atomically: its presence means a complete kernel tree.
cat >"$work/kernel.json" <<JSON
{
  "package": "$package",
  "version": "$version",
  "release": "$release",
  "root": "$package",
  "vmlinuz": "$package/boot/vmlinuz-$release",
  "modules": "$package/lib/modules/$release"
}
JSON
sync "$work/kernel.json"
mv "$work/kernel.json" "$manifest"

# Drop kernels of ABIs that rotated out, so the cache does not grow with every Debian point release.
for old in "$cache_dir"/linux-image-*; do
  [[ -d "$old" && "$(basename "$old")" != "$package" ]] && rm -rf "$old"
done
log "cached $package $version in $cache_dir/$package"
