#!/bin/sh
# Runs inside the kernel-suite VM, in the chroot of the host's root, before the job.
# Usage: guest-setup.sh MODULES_DIR   (the cached kernel's lib/modules/RELEASE, an absolute path)
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

modules_dir=$1
release=$(uname -r)
list="$(dirname "$0")/kernel-modules.txt"

# The host has no modules for this kernel; mount the cached ones at /lib/modules/RELEASE so the
# host's own modprobe (kmod) resolves dependencies with the depmod'ed tree. A bind mount, not a
# symlink: a container given /lib/modules (the lvscare static pod's hostPath) must see the tree,
# not a link to a path that exists only outside it.
mkdir -p "/lib/modules/$release"
mount --bind "$modules_dir" "/lib/modules/$release"

modules=$(sed -e 's/#.*//' "$list")
# One modprobe for all: under TCG every extra process costs about a tenth of a second.
# shellcheck disable=SC2086
if ! modprobe -a $modules; then
  missing=""
  for module in $modules; do
    [ -d "/sys/module/$module" ] || missing="$missing $module"
  done
  echo "guest-setup: modprobe failed; not loaded:$missing" >&2
  exit 1
fi

ip link set lo up
