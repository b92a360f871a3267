#!/bin/sh
# The MJPEG webcam of the system test (Debian 13 guest), run in the guest by the host.
#
#   mjpeg.sh load                 v4l2loopback with one node that looks like a webcam: output
#                                 only until a writer sends frames, then capture only
#                                 (exclusive_caps=1); prints the node
#   mjpeg.sh feed DIR WxH [FPS]   writes DIR/frame-000.jpg, frame-001.jpg, ... to the node as
#                                 MJPG WxH at FPS (default 15), over and over, untouched: a
#                                 capture-side reader gets each file's bytes as one buffer
#   mjpeg.sh stop                 stops writing
#   mjpeg.sh unplug               stops writing and removes the module once nothing holds it
#   mjpeg.sh node                 prints the node
#
# The writer is write(2): v4l2loopback takes each write on the output side as one frame (its
# bytesused is the write's length), so a frame without Huffman tables, with bytes after EOI or
# cut off reaches the reader exactly as made. GStreamer's v4l2sink is no use here: it sets the
# format to 'JPEG' (v4l2loopback offers both), and a webcam says 'MJPG'.
set -eu
unit=rolemirror-test-mjpeg
label="rolemirror test webcam"
frames=/run/rolemirror-test-mjpeg

. "$(dirname "$0")/common.sh"
node() { sysfs_dev '/sys/class/video4linux/video*' name "$label"; }

case "${1:-}" in
  load)
    lsmod | grep -q '^v4l2loopback ' || modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="$label" max_buffers=4
    udevadm settle
    node
    ;;
  node)
    node
    ;;
  feed)
    dir=$2; size=$3; fps=${4:-15}
    [ -e "$dir/frame-000.jpg" ] || { echo "mjpeg.sh: no $dir/frame-000.jpg" >&2; exit 1; }
    systemctl stop "$unit" 2>/dev/null || true
    systemctl reset-failed "$unit" 2>/dev/null || true
    rm -rf "$frames" && cp -r "$dir" "$frames"
    dev=$(node)
    v4l2-ctl -d "$dev" --set-fmt-video-out="width=${size%x*},height=${size#*x},pixelformat=MJPG" --set-output-parm="$fps"
    systemd-run --quiet --unit="$unit" --collect sh "$0" write "$dev" "$fps"
    # The capture side offers MJPG once the first frame is written (exclusive_caps=1).
    for _ in $(seq 1 100); do
      v4l2-ctl -d "$dev" --list-formats 2>/dev/null | grep -q "'MJPG'" && exit 0
      sleep 0.1
    done
    echo "mjpeg.sh: $dev offers no MJPG 10 s after the writer started" >&2
    journalctl -q -u "$unit" -n 20 --no-pager >&2 || true
    exit 1
    ;;
  write)
    # The writer itself (started by feed): one open file, one write per frame.
    dev=$2; pause=$(awk "BEGIN { print 1 / $3 }")
    exec 3>"$dev"
    while :; do
      for f in "$frames"/frame-*.jpg; do
        dd if="$f" bs=16M iflag=fullblock status=none >&3
        sleep "$pause"
      done
    done
    ;;
  stop)
    systemctl stop "$unit" 2>/dev/null || true
    ;;
  unplug)
    systemctl stop "$unit" 2>/dev/null || true
    for _ in $(seq 1 60); do
      rmmod v4l2loopback 2>/dev/null && exit 0
      sleep 0.5
    done
    echo "mjpeg.sh: v4l2loopback still in use after 30 s" >&2
    exit 1
    ;;
  *)
    echo "usage: mjpeg.sh load|node|feed DIR WxH [FPS]|stop|unplug" >&2
    exit 2
    ;;
esac
