#!/usr/bin/env bash
# Cross-build rolemirror for a Raspberry Pi and package it as a .deb.
#
#   cross/build.sh aarch64   # Pi 4/5, 64-bit Raspberry Pi OS  -> dist/rolemirror_<v>_arm64.deb
#   cross/build.sh armv7     # 32-bit Raspberry Pi OS (armhf)  -> dist/rolemirror_<v>_armhf.deb
#   cross/build.sh x86_64    # x86-64 mini PCs, Debian 12      -> dist/rolemirror_<v>_amd64.deb
#                            # (the host build itself: no cross compiler, no second build)
#   MENDER=1 cross/build.sh … # also dist/rolemirror_<v>_<arch>.mender for Mender (docs/fleet.md)
#
# Installs what it needs (Debian cross compilers, qemu-user, the Rust target) idempotently;
# CROSS_PREPARE_ONLY=1 stops after that; CROSS_CHECK_ONLY=1 after `cargo clippy` for the
# target (what CI runs by default: the build itself is opt-in there). CROSS_TARGET_DIR: cargo's
# target directory for the ARM build (default target; CI gives it one of its own).
# Models are fetched (checksums verified, int8 models derived) from MIRROR (default
# ../shared/models) by a host build of rolemirror; set MIRROR= (empty) to download upstream.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:-}
case "$arch" in
  aarch64) triple=aarch64-unknown-linux-gnu; debarch=arm64; gnu=aarch64-linux-gnu; pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
  armv7) triple=armv7-unknown-linux-gnueabihf; debarch=armhf; gnu=arm-linux-gnueabihf; pkgs="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross" ;;
  x86_64) triple=""; debarch=amd64; gnu=""; pkgs="" ;;
  *) echo "usage: cross/build.sh aarch64|armv7|x86_64" >&2; exit 2 ;;
esac
MIRROR=${MIRROR-../shared/models}

need=()
for p in $pkgs qemu-user clang libclang-dev dpkg-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "cross: installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -n "$triple" ]; then
  rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
fi
[ "${CROSS_PREPARE_ONLY:-0}" = 1 ] && exit 0
# bindgen (v4l) must see the target's kernel headers, not the host's.
if [ -n "$triple" ]; then export BINDGEN_EXTRA_CLANG_ARGS_${triple//-/_}="--sysroot=/usr/$gnu"; fi
if [ -n "$triple" ] && [ "${CROSS_CHECK_ONLY:-0}" = 1 ]; then
  # The target's code checked and linted (its own cfg paths: the NEON kernels), no binary.
  echo "cross: checking $triple (clippy, -D warnings)"
  cargo clippy --release --locked --all-targets --target "$triple" --target-dir "${CROSS_TARGET_DIR:-target}" -- -D warnings
  exit 0
fi
if [ -n "$triple" ]; then
  echo "cross: building $triple"
  tdir=${CROSS_TARGET_DIR:-target}
  cargo build --release --locked --target "$triple" --target-dir "$tdir"
  bin=$tdir/$triple/release/rolemirror
else
  # x86_64: the host build below is the packaged binary (generic x86-64, no -C target-cpu).
  bin=target/release/rolemirror
fi

# Models come from the manifest, fetched by a host build (the target binary cannot run here
# without emulation).
cargo build --release --locked
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
stage=target/deb-$debarch
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/rolemirror/models" "$stage/etc/rolemirror" \
  "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" "$stage/usr/share/doc/rolemirror" \
  "$stage/lib/udev/rules.d" "$stage/usr/lib/rolemirror" "$stage/etc/rolemirror/trusted-keys" "$stage/usr/lib/modules-load.d" \
  "$stage/usr/share/mender/modules/v3" "$stage/usr/share/mender/inventory"
if [ -n "$MIRROR" ]; then
  target/release/rolemirror --models "$stage/usr/share/rolemirror/models" models fetch --mirror "$MIRROR"
else
  target/release/rolemirror --models "$stage/usr/share/rolemirror/models" models fetch
fi
# Ship only the models the booth can select (the manifest lists them all).
install -m 0755 "$bin" "$stage/usr/bin/rolemirror"
"${gnu:+$gnu-}strip" --strip-debug "$stage/usr/bin/rolemirror"
install -m 0644 config/rolemirror.toml "$stage/etc/rolemirror/rolemirror.toml"
install -m 0644 systemd/rolemirror.service "$stage/lib/systemd/system/rolemirror.service"
install -m 0644 "systemd/rolemirror-usb@.service" "$stage/lib/systemd/system/rolemirror-usb@.service"
install -m 0644 systemd/90-rolemirror-usb.rules "$stage/lib/udev/rules.d/90-rolemirror-usb.rules"
install -m 0755 systemd/usb-stick "$stage/usr/lib/rolemirror/usb-stick"
install -m 0644 systemd/rolemirror.sysusers.conf "$stage/usr/lib/sysusers.d/rolemirror.conf"
install -m 0644 systemd/rolemirror-modules.conf "$stage/usr/lib/modules-load.d/rolemirror.conf"
# Mender (optional, docs/fleet.md): where the client looks for update modules and inventory scripts.
install -m 0755 mender/modules/rolemirror-bundle mender/modules/rolemirror-deb "$stage/usr/share/mender/modules/v3/"
install -m 0755 mender/inventory/mender-inventory-rolemirror "$stage/usr/share/mender/inventory/"
install -m 0644 README.md "$stage/usr/share/doc/rolemirror/README.md"
install -m 0644 models/manifest.toml "$stage/usr/share/doc/rolemirror/models-manifest.toml"
for lic in ${MIRROR:+$MIRROR}/*/LICENSE; do
  [ -f "$lic" ] && install -m 0644 "$lic" "$stage/usr/share/doc/rolemirror/LICENSE.$(basename "$(dirname "$lic")")"
done
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$debarch/" -e "s/@SIZE@/$(du -sk "$stage" | cut -f1)/" cross/debian/control > "$stage/DEBIAN/control"
install -m 0644 cross/debian/conffiles "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "cross/debian/$s" "$stage/DEBIAN/$s"; done
mkdir -p dist
deb=dist/rolemirror_${version}_${debarch}.deb
dpkg-deb --build --root-owner-group "$stage" "$deb" >/dev/null
echo "cross: $bin"
echo "cross: $deb"
# MENDER=1: also the Mender artifact of the package, for the booths' rolemirror-deb module
# (docs/fleet.md; needs mender-artifact). MENDER_DEVICE_TYPE overrides rolemirror-booth.
if [ "${MENDER:-0}" = 1 ]; then
  target/release/rolemirror mender deb-artifact "$deb" --out "${deb%.deb}.mender" --device-type "${MENDER_DEVICE_TYPE:-rolemirror-booth}"
fi
