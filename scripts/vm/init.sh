#!/bin/busybox sh
# /init of the kernel-suite VM (busybox-static initramfs built by test/harness/initramfs.ts).
#
# Loads the virtio and 9p modules, mounts the host's root read-only over 9p under a tmpfs overlay,
# runs guest-setup.sh and then the job inside a chroot of it (so the guest uses the host's Node,
# npm packages and Debian tools unchanged, and its writes stay in RAM), and powers off.
#
# Channels to the host (virtio serial ports, so kernel messages on ttyS0 never mix in):
#   lvscare.stdout / lvscare.stderr  the job's output
#   lvscare.control                  "ready UPTIME", then "exit CODE" or "failed REASON"
# Kernel command line: lvscare_job=FILE lvscare_repo=DIR lvscare_modules=DIR (absolute host paths).

/bin/busybox mkdir -p /proc /sys /dev /lower /rw /newroot /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

control_fd_open=no
# Phase marks on the serial console: they say where a slow or stuck boot spent its time.
mark() { echo "lvscare-vm: $* (uptime $(cut -d' ' -f1 /proc/uptime))" >/dev/console; }
fail() {
  echo "lvscare-vm: $*" >/dev/console
  [ "$control_fd_open" = yes ] && echo "failed $*" >&3
  poweroff -f
}

param() {
  for word in $(cat /proc/cmdline); do
    case "$word" in "$1="*) echo "${word#*=}" ;; esac
  done
}

mark "initramfs"
while read -r module; do
  insmod "/modules/$module" || fail "insmod $module"
done </modules/order

# The ports appear once virtio_console has probed; name them like udev would.
mkdir -p /dev/virtio-ports
tries=0
while [ "$(ls /sys/class/virtio-ports 2>/dev/null | wc -l)" -lt 3 ]; do
  tries=$((tries + 1))
  [ "$tries" -gt 300 ] && fail "virtio serial ports did not appear"
  sleep 0.1
done
for port in /sys/class/virtio-ports/*; do
  ln -sf "/dev/${port##*/}" "/dev/virtio-ports/$(cat "$port/name")"
done
exec 3>/dev/virtio-ports/lvscare.control || fail "cannot open the control port"
control_fd_open=yes

mark "boot modules loaded, serial ports up"
job=$(param lvscare_job)
repo=$(param lvscare_repo)
modules=$(param lvscare_modules)
[ -n "$job" ] && [ -n "$repo" ] && [ -n "$modules" ] || fail "kernel command line lacks lvscare_job/lvscare_repo/lvscare_modules"

mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount overlay"
# /tmp is left to the overlay on purpose: writable, in RAM, and still showing the host's /tmp, where
# the job file and a CI clone of the repository may live.
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t tmpfs -o mode=0755 run /newroot/run || fail "mount /run"
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null
hostname lvscare-vm

mark "host root mounted"
chroot /newroot /bin/sh "$repo/scripts/vm/guest-setup.sh" "$modules" </dev/null >/dev/virtio-ports/lvscare.stderr 2>&1 ||
  fail "guest-setup.sh failed (its output is on the job's stderr)"

mark "guest setup done"
echo "ready $(cut -d' ' -f1 /proc/uptime)" >&3
chroot /newroot /bin/sh "$job" </dev/null >/dev/virtio-ports/lvscare.stdout 2>/dev/virtio-ports/lvscare.stderr
status=$?
mark "job exited with status $status"
echo "exit $status" >&3
exec 3>&-
poweroff -f
