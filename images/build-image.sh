#!/bin/bash
# Build one appliance image: images/build-image.sh ROLE [OUTPUT_DIR]
# ROLE is one of images/roles/*.env. Output: OUTPUT_DIR/<role>/imaging-<role>_<version>.raw
# plus the split root partition and kernel for systemd-sysupdate (see docs/images.md).
# IMAGE_BUILD picks how the same recipe becomes a disk. disk and rootfs have mkosi make the OS
# tree (Format=directory) and images/assemble-disk.sh the disk from it; they mount nothing:
#   disk   (default) ESP (systemd-boot + UKI, written with mtools) + root A (squashfs) + empty
#          root B for the A/B update; the UKI and the root are also the update's artefacts.
#   rootfs the squashfs root alone, plus the kernel, initrd and command line for direct
#          kernel boot (QEMU).
#   mkosi  mkosi's own gpt_squashfs disk (ESP, systemd-boot, UKI): needs a kernel with vfat,
#          mkosi 14 mounts the ESP. Not built on the machine without vfat.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=$(cd "$here/.." && pwd)
role=${1:?usage: build-image.sh ROLE [OUTPUT_DIR]}
build=${IMAGE_BUILD:-disk}
case "$build" in disk | rootfs | mkosi) ;; *) echo "IMAGE_BUILD is disk, rootfs or mkosi, not $build" >&2; exit 2 ;; esac
out=$(realpath -m "${2:-$tree/images/out}")/$role
[ -f "$here/roles/$role.env" ] || { echo "unknown role: $role" >&2; exit 2; }
ref=${IMAGE_REF:-HEAD}
version=${IMAGE_VERSION:-$(date -u +%Y%m%d).$(git -C "$tree" rev-list --count "$ref")}
work="$out/work"
rm -rf "$work" && mkdir -p "$work/extra" "$out"

# The program from the project's wheel: built from the committed tree (git archive), not from
# whatever is uncommitted in the work tree, with every dependency as a wheel from the package
# index. pygame is built from its sdist against Debian's SDL 2 (the PyPI wheel's bundled SDL has
# no KMS/DRM back-end).
src="$work/src"
mkdir -p "$src" && git -C "$tree" archive "$ref" | tar -x -C "$src"
# The rest of the recipe (role, extra tree, units, screen drop-in, post-install,
# assemble-disk.sh) from that archive too (IMAGE_REF, default HEAD): a fresh clone builds the
# same image, and nobody's uncommitted edits are in it.
recipe="$src/images"
# shellcheck source=/dev/null
. "$recipe/roles/$role.env"
wheels="$work/extra/opt/imaging/wheels"
mkdir -p "$wheels"
pip=${PIP:-$tree/.venv/bin/pip}
if [ "$SCREEN" = yes ]; then
	"$pip" wheel -q --no-binary pygame --no-deps -w "$wheels" pygame==2.6.1
fi
"$pip" wheel -q -w "$wheels" "$src[$EXTRA]"
rm -f "$wheels"/pygame-*manylinux*.whl
# Every file the programs read beside their code (templates, scripts, messages) must be in the
# wheel: one left out by the packaging only shows when the box's program starts (the core did).
missing=$(comm -23 \
	<(git -C "$tree" ls-tree -r --name-only "$ref" -- core_server device_kit queue_display caller_terminal \
		ticket_printer kiosk_burner capture_station | grep -v -e '\.py$' -e '/README\.md$' | sort) \
	<(unzip -Z1 "$(ls "$wheels"/imaging_appliance-*.whl)" | sort))
[ -z "$missing" ] || { printf 'not in the wheel (pyproject.toml package-data):\n%s\n' "$missing" >&2; exit 1; }

# The tree laid over the packages: shared files, the screen roles' files, the units as they
# are in systemd/ (with their drop-in folders), and this role's name for the post-install.
cp -a "$recipe/common/extra/." "$work/extra/"
# The update signing key the boxes trust (docs/updates.md: `core-server updates export-key`),
# in the read-only root where systemd-importd/sysupdate look first.
if [ -n "${IMAGE_UPDATE_KEY:-}" ]; then
	install -D -m 0644 "$(realpath "$IMAGE_UPDATE_KEY")" "$work/extra/etc/systemd/import-pubring.gpg"
else
	echo "IMAGE_UPDATE_KEY not set: the image trusts only an imaging.update-key credential" >&2
fi
mkdir -p "$work/extra/usr/lib/systemd/system"
cp "$src/systemd/"*.service "$work/extra/usr/lib/systemd/system/"
for d in "$src/systemd/"*.service.d; do [ -d "$d" ] && cp -a "$d" "$work/extra/usr/lib/systemd/system/"; done
units="$work/extra/usr/lib/systemd/system"
if [ "$SCREEN" = yes ]; then
	mkdir -p "$units/$UNIT.d" && cp "$recipe/screen/50-screen.conf" "$units/$UNIT.d/"
fi
if [ "$PROGRAM" != core-server ]; then
	prefix=$(echo "$PROGRAM" | tr 'a-z-' 'A-Z_')
	sed -e "s/@PROGRAM@/$PROGRAM/g" -e "s/@UNIT@/$UNIT/g" -e "s/@PREFIX@/$prefix/g" \
		"$recipe/enrolment-seed.service.in" >"$units/imaging-enrolment-seed.service"
fi
mkdir -p "$work/extra/usr/lib/imaging"
printf 'ROLE=%s\nPROGRAM=%s\nEXTRA=%s\nUNIT=%s\nVERSION=%s\n' "$role" "$PROGRAM" "$EXTRA" "$UNIT" "$version" \
	>"$work/extra/usr/lib/imaging/role.env"
# sysupdate transfers name the image: fill in the role.
for f in "$work/extra/usr/lib/sysupdate.d/"*.conf; do sed -i "s/@ROLE@/$role/g" "$f"; done

# mkosi takes a comma-separated list.
# A role's EXCLUDE drops shared packages (the core's chrony conflicts with timesyncd).
packages=$({ cat "$recipe/common/packages"; [ "$SCREEN" = yes ] && cat "$recipe/screen/packages"; echo "$PACKAGES"; } \
	| tr -s ' \n' '\n\n' | grep -vxF -e '' $(for p in ${EXCLUDE:-}; do printf -- '-e %s ' "$p"; done) \
	| paste -sd, -)
rootfs=()
if [ "$build" != mkosi ]; then
	# The same recipe as an OS tree: still Bootable (the kernel, dracut and kernel-install run,
	# into the tree's /boot instead of an ESP).
	rootfs=(-e 's/^Format=.*/Format=directory/' -e '/^CompressFs=/d' -e '/^BootProtocols=/d'
		-e '/^SplitArtifacts=/d' -e '/^Checksum=/d')
fi
sed -e "s/@ROLE@/$role/g" -e "s/@VERSION@/$version/g" -e "s|@PACKAGES@|$packages|" "${rootfs[@]}" \
	"$recipe/common/mkosi.default" >"$work/mkosi.default"
cp "$recipe/common/postinst" "$work/mkosi.postinst"

cd "$work"
start=$(date +%s)
# Downloaded .debs kept between builds and roles.
mkdir -p "$out/../cache"
name="imaging-${role}_$version"
if [ "$build" = mkosi ]; then
	mkosi --force --output-dir "$out" --cache "$out/../cache" build
else
	tree_dir="$work/rootfs"
	mkosi --force --output "$tree_dir" --cache "$out/../cache" build
	"$recipe/assemble-disk.sh" "$tree_dir" "$out/$name" "$name" "$build"
fi
end=$(date +%s)
rm -rf "$work"
# The update folder's index (docs/images.md, Updates): every version's root and UKI here.
if [ "$build" = disk ]; then
	(cd "$out" && sha256sum -- *.root.raw *.efi >SHA256SUMS)
fi
image=$(ls "$out/$name.raw")
printf '%s %s (%s): %s s, %s bytes\n' "$role" "$version" "$build" "$((end - start))" "$(stat -c %s "$image")" \
	| tee -a "$out/../build-times.txt"
