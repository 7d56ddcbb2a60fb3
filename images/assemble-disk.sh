#!/bin/bash
# An image's disk and update artefacts from the OS tree mkosi built (Format=directory), without
# mounting anything (no FAT, no loop devices: mtools writes the ESP as a file):
#   images/assemble-disk.sh ROOTDIR OUT_PREFIX LABEL [rootfs|disk]
# LABEL is imaging-<role>_<version>: the root partition's label, IMAGE_ID_IMAGE_VERSION.
# Both kinds write
#   OUT_PREFIX.root.raw the squashfs root (zstd) on its own: what an update installs
#   OUT_PREFIX.vmlinuz, OUT_PREFIX.initrd, OUT_PREFIX.cmdline   the kernel, the dracut initrd
#                       and the command line (root=PARTLABEL=LABEL)
#   OUT_PREFIX.raw      the GPT disk; free space behind it for systemd-repart's data partition
# rootfs (default): the disk is the root partition alone; QEMU boots the kernel directly.
# disk: the disk is ESP (FAT, systemd-boot, the UKI) + root A (this version) + root B (empty,
#       label "_empty", for the next version), and OUT_PREFIX.efi is the unified kernel image
#       (stub + kernel + initrd + command line + os-release): the other update artefact.
set -euo pipefail
root=${1:?usage: assemble-disk.sh ROOTDIR OUT_PREFIX LABEL [rootfs|disk]}
prefix=${2:?}
label=${3:?}
kind=${4:-rootfs}
# Root slots have a fixed size: the next version must fit in the other one.
slot_mib=${ROOT_SLOT_MIB:-768}
esp_mib=${ESP_MIB:-256}
mib=$((1024 * 1024))

# The version in the image: systemd (and imaging-update) read IMAGE_ID/IMAGE_VERSION from
# os-release; mkosi 14 writes them only for its own disk formats.
image_id=${label%%_*}
version=${label#*_}
osrel="$root/usr/lib/os-release"
sed -i -e '/^IMAGE_ID=/d' -e '/^IMAGE_VERSION=/d' "$osrel"
printf 'IMAGE_ID=%s\nIMAGE_VERSION=%s\n' "$image_id" "$version" >>"$osrel"
[ -f "$root/usr/lib/imaging/role.env" ] && sed -i "s/^VERSION=.*/VERSION=$version/" "$root/usr/lib/imaging/role.env"

# The kernel and the dracut initrd: mkosi lays them beside the tree (ROOTDIR.vmlinuz,
# ROOTDIR.initrd) when the recipe is Bootable. The command line is the recipe's
# (/etc/kernel/cmdline) with the root named by its partition label, mounted read-only.
for part in vmlinuz initrd; do
	[ -f "$root.$part" ] || { echo "no $root.$part: is the recipe Bootable=yes?" >&2; exit 1; }
	[ "$root.$part" -ef "$prefix.$part" ] || install -m 0644 "$root.$part" "$prefix.$part"
done
cmdline=$(sed -e 's/\(^\| \)rw\( \|$\)/ /g' -e 's/  */ /g' -e 's/^ //; s/ $//' "$root/etc/kernel/cmdline")
# IMAGE_CMDLINE_EXTRA: more for a trial or debug kernel (the update test's B has
# systemd.journald.forward_to_console=1: its journal on the serial console).
printf 'root=PARTLABEL=%s rootfstype=squashfs ro %s%s\n' "$label" "$cmdline" "${IMAGE_CMDLINE_EXTRA:+ $IMAGE_CMDLINE_EXTRA}" >"$prefix.cmdline"

# The root: the whole tree but /boot's copies of the kernel (the modules stay in /usr/lib),
# plus /efi, where the ESP is mounted (fstab) for updates.
rm -f "$prefix.root.raw"
# SQUASHFS_ZSTD_LEVEL: 15 (mksquashfs's default) for images; a trial update may take less.
mksquashfs "$root" "$prefix.root.raw" -comp zstd -Xcompression-level "${SQUASHFS_ZSTD_LEVEL:-15}" -noappend -quiet -no-progress \
	-p 'efi d 0755 0 0' -e boot -wildcards -e 'var/cache/apt/*' >/dev/null
size=$(stat -c %s "$prefix.root.raw")
root_mib=$(((size + mib - 1) / mib))
rm -f "$prefix.raw"
root_type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709

if [ "$kind" = rootfs ]; then
	# 1 MiB in front, the root partition, 1 MiB behind for the backup header.
	truncate -s $(((root_mib + 2) * mib)) "$prefix.raw"
	sfdisk -q "$prefix.raw" <<-EOF
		label: gpt
		start=2048, size=$((root_mib * 2048)), type=$root_type, name="$label", attrs=GUID:60
	EOF
	dd if="$prefix.root.raw" of="$prefix.raw" bs=1M seek=1 conv=notrunc,fsync status=none
	exit 0
fi
[ "$kind" = disk ] || { echo "kind is rootfs or disk, not $kind" >&2; exit 2; }
[ "$root_mib" -le "$slot_mib" ] || { echo "root is $root_mib MiB, slot $slot_mib (ROOT_SLOT_MIB)" >&2; exit 1; }

# The unified kernel image, with objcopy on systemd's EFI stub (Debian 12 has no ukify): the
# section addresses are the ones systemd 252's documentation gives, the initrd behind the kernel.
stub=$root/usr/lib/systemd/boot/efi/linuxx64.efi.stub
[ -f "$stub" ] || stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
boot_efi=$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ -f "$boot_efi" ] || boot_efi=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
kernel_size=$(stat -c %s "$prefix.vmlinuz")
initrd_vma=$(printf '0x%x' $((0x2000000 + (kernel_size + mib - 1) / mib * mib)))
rm -f "$prefix.efi"
objcopy \
	--add-section .osrel="$osrel" --change-section-vma .osrel=0x20000 \
	--add-section .cmdline="$prefix.cmdline" --change-section-vma .cmdline=0x30000 \
	--add-section .linux="$prefix.vmlinuz" --change-section-vma .linux=0x2000000 \
	--add-section .initrd="$prefix.initrd" --change-section-vma .initrd="$initrd_vma" \
	"$stub" "$prefix.efi"

# The ESP as a file: systemd-boot as the removable-media loader (no EFI variables needed), the
# UKI as a Type #2 entry (EFI/Linux/<label>.efi, found without a loader entry), no menu.
esp="$prefix.esp"
rm -f "$esp"
truncate -s $((esp_mib * mib)) "$esp"
mkfs.vfat -F 32 -n ESP "$esp" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::EFI ::EFI/BOOT ::EFI/systemd ::EFI/Linux ::loader
mcopy -i "$esp" "$boot_efi" ::EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$boot_efi" ::EFI/systemd/systemd-bootx64.efi
mcopy -i "$esp" "$prefix.efi" "::EFI/Linux/$label.efi"
printf 'timeout 0\neditor no\n' >"$prefix.loader.conf"
mcopy -i "$esp" "$prefix.loader.conf" ::loader/loader.conf
rm -f "$prefix.loader.conf"

# GPT: ESP, root A (this version, read-only flag), root B (empty slot: sysupdate's "_empty"),
# 1 MiB behind for the backup header. repart adds the data partition in the space behind B
# once the disk is grown (QEMU's overlay, the box's real disk).
truncate -s $(((1 + esp_mib + 2 * slot_mib + 1) * mib)) "$prefix.raw"
sfdisk -q "$prefix.raw" <<EOF
label: gpt
start=2048, size=$((esp_mib * 2048)), type=C12A7328-F81D-11D2-BA4B-00A0C93EC93B, name="esp"
size=$((slot_mib * 2048)), type=$root_type, name="$label", attrs=GUID:60
size=$((slot_mib * 2048)), type=$root_type, name="_empty", attrs=GUID:60
EOF
dd if="$esp" of="$prefix.raw" bs=1M seek=1 conv=notrunc,sparse,fsync status=none
dd if="$prefix.root.raw" of="$prefix.raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc,fsync status=none
rm -f "$esp"
