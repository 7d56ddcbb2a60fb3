#!/bin/bash
# The rootfs route's disk image, built without mounting anything (no FAT, no loop devices):
#   images/assemble-disk.sh ROOTDIR OUT_PREFIX LABEL
# ROOTDIR is the OS tree mkosi built (Format=directory). Writes
#   OUT_PREFIX.raw      GPT disk: one root partition (squashfs, zstd, type root-x86-64, PARTLABEL
#                       LABEL) and free space behind it for systemd-repart's data partition
#   OUT_PREFIX.root.raw the same squashfs on its own (what systemd-sysupdate installs)
#   OUT_PREFIX.vmlinuz, OUT_PREFIX.initrd, OUT_PREFIX.cmdline   for direct kernel boot
#                       (QEMU -kernel/-initrd/-append: no ESP, no boot loader)
set -euo pipefail
root=${1:?usage: assemble-disk.sh ROOTDIR OUT_PREFIX LABEL}
prefix=${2:?}
label=${3:?}

# The kernel and the dracut initrd: mkosi lays them beside the tree (ROOTDIR.vmlinuz,
# ROOTDIR.initrd) when the recipe is Bootable. The command line is the recipe's
# (/etc/kernel/cmdline) with the root named by its partition label, mounted read-only.
for part in vmlinuz initrd; do
	[ -f "$root.$part" ] || { echo "no $root.$part: is the recipe Bootable=yes?" >&2; exit 1; }
	install -m 0644 "$root.$part" "$prefix.$part"
done
cmdline=$(sed -e 's/\(^\| \)rw\( \|$\)/ /g' -e 's/  */ /g' -e 's/^ //; s/ $//' "$root/etc/kernel/cmdline")
printf 'root=PARTLABEL=%s rootfstype=squashfs ro %s\n' "$label" "$cmdline" >"$prefix.cmdline"

# The root: the whole tree but /boot's copies of the kernel (the modules stay in /usr/lib).
rm -f "$prefix.root.raw"
mksquashfs "$root" "$prefix.root.raw" -comp zstd -noappend -quiet -no-progress \
	-e boot -wildcards -e 'var/cache/apt/*' >/dev/null

# GPT: 1 MiB in front, the root partition (size rounded up to 1 MiB), 1 MiB behind for the
# backup header. repart later finds the disk grown and adds the data partition behind root.
mib=$((1024 * 1024))
size=$(stat -c %s "$prefix.root.raw")
root_mib=$(((size + mib - 1) / mib))
rm -f "$prefix.raw"
truncate -s $(((root_mib + 2) * mib)) "$prefix.raw"
sfdisk -q "$prefix.raw" <<EOF
label: gpt
start=2048, size=$((root_mib * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="$label", attrs=GUID:60
EOF
dd if="$prefix.root.raw" of="$prefix.raw" bs=1M seek=1 conv=notrunc,fsync status=none
