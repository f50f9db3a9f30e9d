#!/bin/sh
# The lvscare image's root filesystem, without the executable: Debian 12 with only what the daemon
# runs besides itself. Used by both image builds: `npm run image` (release/image.ts, offline apart
# from Debian's archive) and images/lvscare/Containerfile (Docker, Podman, Buildah).
#
#   rootfs.sh TARGET [DEBIAN_ARCH]      (as root; needs mmdebstrap and dpkg-deb)
#
# What is in it, and why:
# - libc6, libstdc++6 (and libgcc-s1 through them): what the Node executable links against;
# - kmod: `modprobe ip_vs` on kernels that do not load IPVS by themselves (with /lib/modules mounted);
# - nftables, iptables: link mode's masquerade rules (iptables only where nft cannot work).
# `mmdebstrap --variant=extract` unpacks these packages and their dependencies without running any
# maintainer script: no shell, no dpkg, no apt in the image. What those scripts would have done and
# the daemon needs is done here: the iptables alternatives (Debian's default, the nft backend).
# A dpkg status file lists the packages so image scanners see their versions. SOURCE_DATE_EPOCH,
# when set, makes mmdebstrap's own files reproducible.
set -eu

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: rootfs.sh TARGET [DEBIAN_ARCH]" >&2
  exit 2
fi
target=$1
arch=${2:-amd64}
packages=libc6,libstdc++6,kmod,nftables,iptables

mmdebstrap --quiet --variant=extract --architectures="$arch" --include="$packages" \
  --skip=cleanup/apt/cache bookworm "$target"

# The packages' control fields as dpkg's status database (sorted by file name = package name).
status=$(mktemp)
for deb in "$target"/var/cache/apt/archives/*.deb; do
  dpkg-deb --field "$deb" | awk 'NR == 1 { print; print "Status: install ok installed"; next } { print }'
  echo
done >"$status"

cd "$target"
# What the container runtime provides (/dev, resolv.conf, hostname) and what only apt and dpkg use.
rm -rf dev etc/resolv.conf etc/hostname etc/apt var/lib/apt var/cache/apt var/lib/dpkg var/log/*
mkdir -p dev var/lib/dpkg
mv "$status" var/lib/dpkg/status
chmod 0644 var/lib/dpkg/status
# Documentation, except each package's copyright file (its licence travels with its binaries).
find usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete
find usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf usr/share/man usr/share/info usr/share/lintian usr/share/gdb usr/share/gcc usr/share/locale

# update-alternatives, as iptables' postinst would run it: the nft backend.
for tool in iptables ip6tables; do
  ln -sfn "$tool-nft" "usr/sbin/$tool"
  ln -sfn "$tool-nft-restore" "usr/sbin/$tool-restore"
  ln -sfn "$tool-nft-save" "usr/sbin/$tool-save"
done
chmod 1777 tmp
