#!/bin/sh
# Run inside a test host (nsenter) once its namespaces are up: host keys, users, passwords,
# authorized keys, then sshd. Inputs are files the harness wrote into /run/seal-test-host:
# key-types (one per line), users (one per line), passwords (chpasswd input), authorized_keys.
set -eu
cd /run/seal-test-host
rm -f /etc/ssh/ssh_host_*
while read -r type; do
  # 2048-bit RSA: as good for a test and several times faster to make than the 3072 default.
  if [ "$type" = rsa ]; then set -- -b 2048; else set --; fi
  ssh-keygen -q -t "$type" "$@" -N '' -C "root@$(hostname)" -f "/etc/ssh/ssh_host_${type}_key"
done <key-types
while read -r user; do
  useradd --create-home --shell /bin/sh "$user"
done <users
chpasswd <passwords
rm -f passwords
for user in root $(cat users); do
  home=$(getent passwd "$user" | cut -d: -f6)
  mkdir -p "$home/.ssh"
  cp authorized_keys "$home/.ssh/authorized_keys"
  chown -R "$user:" "$home/.ssh"
  chmod 0700 "$home/.ssh"
  chmod 0600 "$home/.ssh/authorized_keys"
done
/usr/sbin/sshd -t -f /etc/ssh/sshd_config
exec /usr/sbin/sshd -f /etc/ssh/sshd_config -E /var/log/sshd.log
