#!/usr/bin/env bash
# Builds (once) the Debian guest of the system test from Debian packages and prints the folder
# that holds it: rootfs.qcow2 (ext4, no partition table, the booth not installed), vmlinuz,
# initrd.img, done (what went in). The folder's name is a hash of everything that goes into the
# image (this script, the OS, the architecture and the package list), so a changed input builds a
# new image and an unchanged one is reused: CI runs on a fresh clone, the cache lives outside it.
#
#   tests/system/image.sh amd64|arm64 [trixie|bookworm]   # -> /var/cache/rolemirror-system-test/<arch>-<os>-<key>
#
# trixie (Debian 13, the default) also has the real libcamera stack (libcamera 0.4 with its vimc
# pipeline handler, cam, libcamerasrc) and GStreamer, the vimc driver built out of tree from
# Debian's own kernel source, and v4l2loopback built by its DKMS package; the compilers, the
# kernel source and headers are removed again before the image is made (see README.md).
# bookworm (Debian 12) is the previous guest, unchanged.
#
# Needs root (mmdebstrap in root mode, mkfs.ext4 -d keeping owners), mmdebstrap, e2fsprogs,
# qemu-utils; for arm64 on an x86 host also qemu-user-binfmt (registered here if it is not).
# Two builds of the same image (two worktrees, two CI runs) take turns on a lock: the second
# finds the first one's image.
set -euo pipefail
arch=${1:-amd64}
os=${2:-trixie}
case "$arch" in
  amd64) kernel=linux-image-amd64 ;;
  arm64) kernel=linux-image-arm64 ;;
  *) echo "usage: image.sh amd64|arm64 [trixie|bookworm]" >&2; exit 2 ;;
esac
CACHE=${ROLEMIRROR_SYSTEM_CACHE:-/var/cache/rolemirror-system-test}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The booth's own dependencies (cross/debian/control: fonts-dejavu-core, systemd; recommends
# v4l-utils) are in the image, so `apt install ./rolemirror_*.deb` needs no network in the guest.
# qemu-guest-agent is how the host runs commands in the guest; kbd gives chvt/setterm for the
# console scenario; dosfstools and e2fsprogs are what a booth has to check its filesystems.
pkgs="systemd,systemd-sysv,udev,kmod,$kernel,initramfs-tools,v4l-utils,dosfstools,e2fsprogs,fonts-dejavu-core,qemu-guest-agent,procps,kbd,util-linux,mount"
# Built in the image and removed before it is packed: what builds vimc and v4l2loopback.
build_pkgs=""
case "$os" in
  bookworm) ;;
  trixie)
    # The libcamera stack as Debian 13 ships it (cam is in libcamera-tools, libcamerasrc in
    # gstreamer1.0-libcamera), GStreamer's tools and plugins (videoconvert: base; v4l2src, to
    # look at a V4L2 node by hand: good), v4l2loopback's control tool.
    pkgs="$pkgs,libcamera0.4,libcamera-ipa,libcamera-tools,gstreamer1.0-libcamera,gstreamer1.0-tools,gstreamer1.0-plugins-base,gstreamer1.0-plugins-good,v4l2loopback-utils"
    # Debian's Mender client (3.4), for scenario mender-modules (standalone mode, its daemon off).
    pkgs="$pkgs,mender-client"
    build_pkgs="linux-source-6.12 v4l2loopback-dkms dkms gcc make"
    ;;
  *) echo "image.sh: unknown OS $os (trixie or bookworm)" >&2; exit 2 ;;
esac
# The key covers the script without its comments: a reworded comment builds nothing.
key=$( { grep -v '^[[:space:]]*#' "$0"; echo "$arch $os $pkgs $build_pkgs $MIRROR"; } | sha256sum | cut -c1-16)
out="$CACHE/$arch-$os-$key"
if [ -f "$out/done" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock-$arch-$os-$key"
if ! flock -n 9; then
  echo "image.sh: another run is building $out; waiting for it" >&2
  flock 9
fi
if [ -f "$out/done" ]; then
  echo "$out"
  exit 0
fi
# A foreign guest: its maintainer scripts run under qemu-user through binfmt_misc.
if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi
work=$(mktemp -d "$CACHE/build-$arch-$os-XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
start=$(date +%s)

# A slim initramfs: only what mounts an ext4 root on virtio-blk (MODULES=list). The default
# (MODULES=most) takes over 10 minutes to build under arm64 emulation and slows every boot.
setup_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"
printf "MODULES=list\nCOMPRESS=gzip\n" > "$1/etc/initramfs-tools/conf.d/rolemirror-system-test"
printf "virtio_pci\nvirtio_mmio\nvirtio_blk\next4\ncrc32c_generic\n" > "$1/usr/share/initramfs-tools/modules.d/rolemirror-system-test"'

# The out-of-tree modules (trixie): built against the image's own kernel, installed under
# /lib/modules/<kver>/updates, and everything that built them removed again.
#  - vimc: Debian's kernel is built without CONFIG_VIDEO_VIMC, so the driver is compiled from
#    Debian's kernel source of the same version (linux-source-6.12: only its vimc folder is
#    unpacked) with the image kernel's headers (linux-headers-<kver>, whose gcc is the one the
#    kernel was built with). The versions are checked to be equal.
#  - v4l2loopback: Debian's DKMS package builds it for <kver>; the .ko is copied out of DKMS's
#    tree before the package (and with it DKMS and the compiler) is purged.
modules_hook='set -e
[ -n "$BUILD_PKGS" ] || exit 0
kver=$(ls "$1/lib/modules")
[ "$(echo "$kver" | wc -w)" = 1 ] || { echo "image.sh: expected one kernel in the image, found: $kver" >&2; exit 1; }
chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $BUILD_PKGS "linux-headers-$kver"
img_v=$(chroot "$1" dpkg-query -W -f "\${Version}" "linux-image-$kver")
src_v=$(chroot "$1" dpkg-query -W -f "\${Version}" linux-source-6.12)
[ "$img_v" = "$src_v" ] || { echo "image.sh: linux-image-$kver is $img_v but linux-source-6.12 is $src_v" >&2; exit 1; }
mkdir -p "$1/tmp/vimc"
tar -xJf "$1"/usr/src/linux-source-6.12.tar.xz -C "$1/tmp/vimc" --strip-components=5 --wildcards "linux-source-6.12/drivers/media/test-drivers/vimc/*"
chroot "$1" make -s -C "/lib/modules/$kver/build" M=/tmp/vimc CONFIG_VIDEO_VIMC=m modules
install -D -m 0644 "$1/tmp/vimc/vimc.ko" "$1/lib/modules/$kver/updates/vimc.ko"
[ -n "$(find "$1/lib/modules/$kver/updates/dkms" -name "v4l2loopback.ko*" 2>/dev/null)" ] || chroot "$1" dkms autoinstall -k "$kver"
lb=$(find "$1/lib/modules/$kver/updates/dkms" -name "v4l2loopback.ko*" | head -n1)
[ -n "$lb" ] || { echo "image.sh: DKMS built no v4l2loopback for $kver" >&2; exit 1; }
cp "$lb" "$1/lib/modules/$kver/updates/"
lbv=$(chroot "$1" dpkg-query -W -f "\${Version}" v4l2loopback-dkms)
chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $BUILD_PKGS "linux-headers-$kver" >/dev/null
chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -q >/dev/null
rm -rf "$1/tmp/vimc" "$1/var/lib/dkms" "$1/usr/src/"*
chroot "$1" depmod -a "$kver"
for p in $(echo "$PKGS" | tr , " "); do chroot "$1" dpkg -s "$p" >/dev/null || { echo "image.sh: removing the build tools took $p with them" >&2; exit 1; }; done
for m in vimc v4l2loopback; do echo "$m: $(chroot "$1" modinfo -k "$kver" -F vermagic "$m")" >&2; done
printf "kernel=%s modules=vimc(linux-source %s),v4l2loopback(%s)\n" "$kver" "$src_v" "$lbv" > "$1/etc/rolemirror-system-test-modules"'

customize_hook='set -e
echo booth > "$1/etc/hostname"
printf "127.0.1.1 booth\n" >> "$1/etc/hosts"
printf "/dev/vda / ext4 errors=remount-ro 0 1\n" > "$1/etc/fstab"
mkdir -p "$1/mnt/host" "$1/var/log/journal"
# root without a password, for the serial console only (debugging a failed run).
chroot "$1" passwd -d root >/dev/null
mkdir -p "$1/etc/systemd/system/serial-getty@ttyS0.service.d" "$1/etc/systemd/system/serial-getty@ttyAMA0.service.d"
for t in ttyS0 ttyAMA0; do
  printf "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %%I \$TERM\n" > "$1/etc/systemd/system/serial-getty@$t.service.d/autologin.conf"
done
# No timers that would run in the middle of a test.
for t in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer; do
  ln -sf /dev/null "$1/etc/systemd/system/$t"
done
# The host follows the journal live on a virtio console, hvc0 (a line that reached it survives a
# power cut of the guest, and costs no command in the guest): the event stream of the test.
mkdir -p "$1/etc/systemd/journald.conf.d"
printf "[Journal]\nForwardToConsole=yes\nTTYPath=/dev/hvc0\nMaxLevelConsole=info\n" > "$1/etc/systemd/journald.conf.d/system-test-hvc0.conf"
rm -f "$1/etc/machine-id"; : > "$1/etc/machine-id"
chroot "$1" apt-get clean'

BUILD_PKGS=$build_pkgs PKGS=$pkgs mmdebstrap --variant=minbase --architectures="$arch" --include="$pkgs" \
  --setup-hook="$setup_hook" --customize-hook="$modules_hook" --customize-hook="$customize_hook" \
  "$os" "$root" "$MIRROR" >"$work/mmdebstrap.log" 2>&1 || { tail -n 40 "$work/mmdebstrap.log" >&2; exit 1; }

cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
modules=$(cat "$root/etc/rolemirror-system-test-modules" 2>/dev/null || true)
truncate -s 3G "$work/rootfs.raw"
mkfs.ext4 -q -L booth -d "$root" "$work/rootfs.raw"
qemu-img convert -f raw -O qcow2 "$work/rootfs.raw" "$work/rootfs.qcow2"
rm -f "$work/rootfs.raw"
rm -rf "$root"
echo "os=$os arch=$arch packages=$pkgs ${modules:+$modules }mirror=$MIRROR built=$(date -u +%FT%TZ) seconds=$(( $(date +%s) - start ))" > "$work/done"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "$out"
