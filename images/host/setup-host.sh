#!/bin/bash
# The image build's own tools (make images runs this; make test does not need them).
set -euo pipefail
packages="mkosi debootstrap systemd-container systemd-boot dosfstools mtools squashfs-tools
	e2fsprogs qemu-system-x86 qemu-utils ovmf fusefat unzip gpg
	gcc pkg-config python3-dev libsdl2-dev libsdl2-image-dev libsdl2-mixer-dev libsdl2-ttf-dev
	libfreetype-dev libportmidi-dev"
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
	sudo=$([ "$(id -u)" = 0 ] || echo sudo)
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi
if ! grep -qw vfat /proc/filesystems && ! modprobe -q vfat 2>/dev/null && [ ! -e /sbin/mount.vfat ]; then
	echo "kernel without vfat: installing the fusefat mount helper as /sbin/mount.vfat"
	sudo=$([ "$(id -u)" = 0 ] || echo sudo)
	$sudo install -m 0755 "$(dirname "$0")/mount.vfat" /sbin/mount.vfat
fi
