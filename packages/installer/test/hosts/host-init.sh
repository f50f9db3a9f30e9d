#!/bin/sh
# PID 1 of a test host (see test-hosts.ts). Runs inside the host's own network namespace, in a new
# mount, UTS and PID namespace (unshare --propagation private, so nothing here reaches the
# machine's mounts). Args: HOSTNAME TOOLS_DIR|"" STATE_SIZE (tmpfs size, e.g. 512m).
#
# Layout: every mount inherited from the machine is made read-only (a per-mount flag, in this
# namespace only); then private writable copies go on top: /etc, /var/lib and /usr/local/bin as
# overlays of the machine's (TOOLS_DIR, if given, as the topmost lower layer of /usr/local/bin,
# which is first on root's PATH and in sudo's secure_path), and empty /root, /home, /tmp,
# /var/tmp, /var/log and /run, all on one tmpfs that disappears with the host. /proc/sys is
# read-only except net.*, which is the namespace's own.
set -eu
name=$1 tools=$2 size=$3 keep=${4:-}

hostname "$name"
mount -t proc proc /proc

while read -r _ _ _ _ mountpoint options _; do
  mountpoint=$(printf '%b' "$mountpoint")
  # /run/netns/*: namespace handles of every test on the machine; /run is replaced below anyway.
  case "$mountpoint" in /proc | /proc/* | /dev | /dev/* | /run/netns/*) continue ;; esac
  # remount,bind changes this mount's flags here only; without bind it would remount the
  # filesystem itself, for the whole machine. Mounts hidden under others fail: skip them.
  mount -o "remount,bind,$options,ro" "$mountpoint" 2>/dev/null || :
done </proc/self/mountinfo

state=/mnt
mount -t tmpfs -o "size=$size,mode=0755" seal-test-host "$state"
for layer in etc varlib localbin; do mkdir -p "$state/$layer/upper" "$state/$layer/work"; done
mkdir -p "$state/root" "$state/home" "$state/tmp" "$state/vartmp" "$state/varlog" "$state/run"
chmod 0700 "$state/root"
chmod 1777 "$state/tmp" "$state/vartmp"

[ -z "$keep" ] || { mkdir -p "$state/keep" && mount --bind "$keep" "$state/keep"; }
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$state/etc/upper,workdir=$state/etc/work" /etc
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$state/varlib/upper,workdir=$state/varlib/work" /var/lib
lower=/usr/local/bin
[ -z "$tools" ] || lower="$tools:/usr/local/bin"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$state/localbin/upper,workdir=$state/localbin/work" /usr/local/bin
mount --bind "$state/root" /root
mount --bind "$state/home" /home
mount --bind "$state/tmp" /tmp
mount --bind "$state/vartmp" /var/tmp
mount --bind "$state/varlog" /var/log
mount --bind "$state/run" /run
mkdir -p /run/sshd /run/lock /run/seal-test-host
[ -z "$keep" ] || { mkdir -p "$keep" && mount --bind "$state/keep" "$keep"; }
chmod 0755 /run/sshd

mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net

# The binds and overlays keep the tmpfs alive; /mnt shows the machine's (read-only) /mnt again.
umount -l "$state"

echo ready
set +e
trap 'exit 0' TERM INT
# As PID 1 we inherit every orphan; waiting on a child reaps them all (waitpid(-1)).
while :; do
  sleep 1 &
  wait $!
done
