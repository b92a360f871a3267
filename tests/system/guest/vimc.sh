#!/bin/sh
# The libcamera camera of the system test (Debian 13 guest), run in the guest by the host.
#
#   vimc.sh load      loads vimc (built out of tree for this kernel, see image.sh); prints the
#                     media device; libcamera's vimc pipeline handler then finds "Sensor A"/"B"
#   vimc.sh unplug    what a camera pulled out looks like: the platform device is unbound (the
#                     media and video nodes vanish under open files), then the module is removed
#                     once nothing holds it (a libcamera process does not notice the unbind by
#                     itself: see README.md, "libcamera in the guest")
#   vimc.sh list      `cam -l`: the cameras libcamera sees
#
# vimc is not a USB device and has no "disconnect" control like vivid: unbinding the driver is
# the closest to an unplug; a plain `rmmod vimc` fails (EBUSY) while libcamera holds a node.
set -eu

. "$(dirname "$0")/common.sh"
media() { sysfs_dev '/sys/bus/media/devices/media*' model "VIMC MDEV"; }

case "${1:-}" in
  load)
    lsmod | grep -q '^vimc ' || modprobe vimc
    udevadm settle
    for _ in $(seq 1 50); do media && exit 0; sleep 0.1; done
    echo "vimc.sh: vimc loaded but no media device with model 'VIMC MDEV'" >&2
    exit 1
    ;;
  unplug)
    lsmod | grep -q '^vimc ' || exit 0
    for dev in /sys/bus/platform/drivers/vimc/vimc*; do
      [ -e "$dev" ] && echo "$(basename "$dev")" > /sys/bus/platform/drivers/vimc/unbind
    done
    # A libcamera process keeps the module until it is ended (it does not notice the unbind):
    # the booth has a minute to see its frames stop and end its child.
    for _ in $(seq 1 120); do
      rmmod vimc 2>/dev/null && exit 0
      sleep 0.5
    done
    echo "vimc.sh: vimc still in use 60 s after its device was unbound:" >&2
    fuser -v /dev/video* /dev/media* /dev/v4l-subdev* >&2 2>/dev/null || true
    exit 1
    ;;
  list)
    cam -l
    ;;
  *)
    echo "usage: vimc.sh load|unplug|list" >&2
    exit 2
    ;;
esac
