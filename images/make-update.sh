#!/bin/bash
# A newer version of a built image, published as an update folder (for trying the A/B update):
#   images/make-update.sh IMAGE.raw VERSION OUTDIR
# IMAGE.raw is a disk-route image (imaging-<role>_<v>.raw with its .root.raw, .vmlinuz, .initrd
# beside it). Its root is unpacked, and assemble-disk.sh makes imaging-<role>_VERSION's root,
# UKI and disk from it (os-release IMAGE_VERSION and role.env VERSION changed, nothing else).
# OUTDIR gets the two update artefacts and SHA256SUMS: what the core serves at
# /updates/<role>/ and imaging-update reads.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=$(realpath "${1:?usage: make-update.sh IMAGE.raw VERSION OUTDIR}")
version=${2:?}
out=$(realpath -m "${3:?}")
old=${image%.raw}
name=$(basename "$old")
image_id=${name%%_*}
new="$image_id"_"$version"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/make-update.XXXXXX")
trap 'rm -rf "$work"' EXIT
unsquashfs -q -no-progress -d "$work/tree" "$old.root.raw" >/dev/null
ln -s "$old.vmlinuz" "$work/tree.vmlinuz"
ln -s "$old.initrd" "$work/tree.initrd"
"$here/assemble-disk.sh" "$work/tree" "$work/$new" "$new" disk
mkdir -p "$out"
mv "$work/$new.root.raw" "$work/$new.efi" "$out/"
(cd "$out" && sha256sum -- *.root.raw *.efi >SHA256SUMS)
