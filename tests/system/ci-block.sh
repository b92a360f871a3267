#!/usr/bin/env bash
# The whole-system test's part of .ci/run: installs what it needs (idempotently), builds the
# package it installs, and runs it. Arguments go to tests/system/run (default: amd64, every
# default scenario: 3 power cuts, 3 camera cycles, 5 libcamera cycles). ROLEMIRROR_SYSTEM_TEST=0 skips it (a machine
# without QEMU or Debian packages). ROLEMIRROR_SYSTEM_OS: the guests to run, comma-separated, in
# order (default `trixie`; `trixie,bookworm` adds Debian 12, ~20 min more with a cached image);
# ROLEMIRROR_SYSTEM_ARM64=1 also runs the arm64 guest (install and match, see the README).
#
# Expects .ci/run's setup before it: the release build, models fetched, demo data and its index.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${ROLEMIRROR_SYSTEM_TEST:-1}" = 0 ]; then
  echo "system: skipped (ROLEMIRROR_SYSTEM_TEST=0)"
  exit 0
fi

# Debian 12's qemu-system-x86 (7.2) conflicts with the qemu-utils 10.x from bookworm-backports
# that this machine has; the backports build installs cleanly beside it.
if ! grep -Rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > /etc/apt/sources.list.d/rolemirror-system-test-backports.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  added_source=1
fi
need=()
for p in mmdebstrap e2fsprogs dosfstools mtools dpkg-dev python3-pil python3-numpy; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
need_bpo=()
want_bpo=(qemu-system-x86)
[ "${ROLEMIRROR_SYSTEM_ARM64:-0}" = 1 ] && want_bpo+=(qemu-system-arm qemu-user-binfmt)
for p in "${want_bpo[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need_bpo+=("$p")
done
if [ ${#need[@]} -gt 0 ] || [ ${#need_bpo[@]} -gt 0 ]; then
  echo "system: installing ${need[*]} ${need_bpo[*]}"
  apt-get update -qq  # also after adding the backports source (added_source=${added_source:-0})
  [ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ ${#need_bpo[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports "${need_bpo[@]}" >/dev/null
fi

echo "system: amd64 package"
bash cross/build.sh x86_64
# Every OS runs even when one fails (each says what passed); the exit code is the worst.
rc=0
IFS=, read -r -a oses <<<"${ROLEMIRROR_SYSTEM_OS:-trixie}"
for os in "${oses[@]}"; do
  echo "system: amd64 guest, Debian $os"
  tests/system/run --arch amd64 --os "$os" "$@" || rc=1
done
if [ "${ROLEMIRROR_SYSTEM_ARM64:-0}" = 1 ]; then
  echo "system: arm64 package"
  bash cross/build.sh aarch64
  tests/system/run --arch arm64 --os "${oses[0]}" --scenarios install,match || rc=1
fi
exit $rc
