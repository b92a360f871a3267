#!/usr/bin/env bash
# Builds (once) the Debian 12 guest of the system test from Debian packages and prints the
# folder that holds it: rootfs.qcow2 (ext4, no partition table, the booth not installed),
# vmlinuz, initrd.img. The folder's name is a hash of everything that goes into the image (this
# script, the architecture and the package list), so a changed input builds a new image and an
# unchanged one is reused: CI runs on a fresh clone, the cache lives outside it.
#
#   tests/system/image.sh amd64|arm64     # -> /var/cache/rolemirror-system-test/<arch>-<key>
#
# Needs root (mmdebstrap in root mode, mkfs.ext4 -d keeping owners), mmdebstrap, e2fsprogs,
# qemu-utils; for arm64 on an x86 host also qemu-user-binfmt (registered here if it is not).
set -euo pipefail
arch=${1:-amd64}
case "$arch" in
  amd64) kernel=linux-image-amd64 ;;
  arm64) kernel=linux-image-arm64 ;;
  *) echo "usage: image.sh amd64|arm64" >&2; exit 2 ;;
esac
CACHE=${ROLEMIRROR_SYSTEM_CACHE:-/var/cache/rolemirror-system-test}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The booth's own dependencies (cross/debian/control: fonts-dejavu-core, systemd; recommends
# v4l-utils) are in the image, so `apt install ./rolemirror_*.deb` needs no network in the guest.
# qemu-guest-agent is how the host runs commands in the guest; kbd gives chvt/setterm for the
# console scenario; dosfstools and e2fsprogs are what a booth has to check its filesystems.
pkgs="systemd,systemd-sysv,udev,kmod,$kernel,initramfs-tools,v4l-utils,dosfstools,e2fsprogs,fonts-dejavu-core,qemu-guest-agent,procps,kbd,util-linux,mount"
key=$( { cat "$0"; echo "$arch $pkgs $MIRROR"; } | sha256sum | cut -c1-16)
out="$CACHE/$arch-$key"
if [ -f "$out/done" ]; then
  echo "$out"
  exit 0
fi
# A foreign guest: its maintainer scripts run under qemu-user through binfmt_misc.
if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/build-$arch-XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
start=$(date +%s)

# A slim initramfs: only what mounts an ext4 root on virtio-blk (MODULES=list). The default
# (MODULES=most) takes over 10 minutes to build under arm64 emulation and slows every boot.
setup_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"
printf "MODULES=list\nCOMPRESS=gzip\n" > "$1/etc/initramfs-tools/conf.d/rolemirror-system-test"
printf "virtio_pci\nvirtio_mmio\nvirtio_blk\next4\ncrc32c_generic\n" > "$1/usr/share/initramfs-tools/modules.d/rolemirror-system-test"'

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

mmdebstrap --variant=minbase --architectures="$arch" --include="$pkgs" \
  --setup-hook="$setup_hook" --customize-hook="$customize_hook" \
  bookworm "$root" "$MIRROR" >"$work/mmdebstrap.log" 2>&1 || { tail -n 30 "$work/mmdebstrap.log" >&2; exit 1; }

cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
truncate -s 3G "$work/rootfs.raw"
mkfs.ext4 -q -L booth -d "$root" "$work/rootfs.raw"
qemu-img convert -f raw -O qcow2 "$work/rootfs.raw" "$work/rootfs.qcow2"
rm -f "$work/rootfs.raw"
rm -rf "$root"
echo "arch=$arch packages=$pkgs mirror=$MIRROR built=$(date -u +%FT%TZ) seconds=$(( $(date +%s) - start ))" > "$work/done"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "$out"
