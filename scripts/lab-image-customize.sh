#!/usr/bin/env bash
# Runs inside the lab image's root file system (chroot or docker build).
# Makes a container look like a small VM for the roles under test.
# Usage: customize.sh CODENAME (bullseye, bookworm, trixie: the release the file system holds).
set -euo pipefail
release=${1:?usage: customize.sh CODENAME}

# One-line sources on every release (trixie also reads them; its deb822 default is not written by debootstrap).
cat >/etc/apt/sources.list <<SOURCES
deb http://deb.debian.org/debian $release main
deb http://deb.debian.org/debian $release-updates main
deb http://deb.debian.org/debian-security $release-security main
SOURCES

# Docker mounts /proc/sys read-only; a VM has it writable, and the agent role
# must be able to switch IP forwarding. Remount it early at boot.
cat >/etc/systemd/system/lab-proc-sys-rw.service <<'UNIT'
[Unit]
Description=Make /proc/sys writable (lab container stands in for a VM)
DefaultDependencies=no
Before=sysinit.target systemd-sysctl.service
ConditionPathIsReadWrite=!/proc/sys/net

[Service]
Type=oneshot
ExecStart=/bin/mount -o remount,rw /proc/sys

[Install]
WantedBy=sysinit.target
UNIT
mkdir -p /etc/systemd/system/sysinit.target.wants
ln -sf /etc/systemd/system/lab-proc-sys-rw.service /etc/systemd/system/sysinit.target.wants/lab-proc-sys-rw.service

# Nothing in the background may hold the dpkg lock or wake up during tests.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
            man-db.timer getty.target console-getty.service systemd-firstboot.service; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done

: >/etc/machine-id
rm -f /etc/hostname
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/lib/apt/periodic/update-success-stamp
# Like a VM image that was never updated: the package lists are empty and old.
touch -d @0 /var/lib/apt/lists
