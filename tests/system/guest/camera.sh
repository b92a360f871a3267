#!/bin/sh
# The camera of the system test, run in the guest by the host (through the guest agent).
#
#   camera.sh load          vivid with one HDMI capture and one HDMI output node, looped
#   camera.sh feed FILE     writes the YUYV frame in FILE to the output node, over and over
#   camera.sh stop          stops writing
#   camera.sh unplug        what a USB camera pulled out looks like to the booth: vivid's
#                           "Disconnect" control unregisters the nodes under the open file (the
#                           booth's next read fails with ENODEV); then the module is removed
#   camera.sh nodes         prints "CAPTURE OUTPUT"
#
# With the loop on (loop_video=1, or on newer kernels the input "connected to" the output) and
# the same format on both nodes, a frame written to the output node comes back byte for byte on
# the capture node: the booth's V4L2 path (open, format negotiation, mmap
# streaming, YUYV conversion) runs for real. vivid has no MJPEG, so that decoder is not exercised.
set -eu
unit=rolemirror-test-feed

node() { # node vid-cap|vid-out
  for d in /sys/class/video4linux/video*; do
    [ -e "$d/name" ] || continue
    case "$(cat "$d/name")" in
      *-"$1") echo "/dev/$(basename "$d")"; return 0 ;;
    esac
  done
  return 1
}

case "${1:-}" in
  load)
    # The nodes appear root-only until they are set up, or the booth (which retries every few
    # seconds) would open the capture node first and the timings could not be set any more.
    mkdir -p /run/udev/rules.d
    echo 'SUBSYSTEM=="video4linux", ATTR{name}=="vivid-*", MODE="0600"' > /run/udev/rules.d/70-rolemirror-test-vivid.rules
    udevadm control --reload
    lsmod | grep -q '^vivid ' || modprobe vivid n_devs=1 node_types=0x101 num_inputs=1 input_types=0x3 num_outputs=1 output_types=0x1
    udevadm settle
    cap=$(node vid-cap); out=$(node vid-out)
    v4l2-ctl -d "$out" --set-dv-bt-timings index=0
    v4l2-ctl -d "$out" --set-fmt-video-out width=640,height=480,pixelformat=YUYV
    v4l2-ctl -d "$cap" --set-dv-bt-timings index=0
    v4l2-ctl -d "$cap" --set-fmt-video width=640,height=480,pixelformat=YUYV
    # osd_text_mode=2: no text drawn over the picture. Dropped buffers: the HDMI timing is
    # 60 Hz; a real webcam delivers 15 fps, and converting 60 frames a second under emulation
    # would take a whole CPU. 75 % dropped leaves 15 frames a second.
    v4l2-ctl -d "$cap" -c osd_text_mode=2 -c percentage_of_dropped_buffers=75
    # The loop: Linux before 6.9 (Debian 12) has the loop_video control; later kernels (Debian
    # 13) connect a cable instead: the capture's "HDMI 000-0 Is Connected To" menu set to the
    # output ("Output HDMI 000-0").
    if v4l2-ctl -d "$cap" -l | grep -q '^ *loop_video '; then
      v4l2-ctl -d "$cap" -c loop_video=1
    else
      ctrl=$(v4l2-ctl -d "$cap" -l | awk '$1 ~ /^hdmi_[0-9]+_0_is_connected_to$/ { print $1; exit }')
      item=$(v4l2-ctl -d "$cap" -L | grep -A8 "^ *$ctrl " | sed -n 's/^[[:space:]]*\([0-9][0-9]*\): Output HDMI.*/\1/p' | head -n1)
      [ -n "$ctrl" ] && [ -n "$item" ] || { echo "camera.sh: $cap has neither loop_video nor an HDMI 'Is Connected To' control" >&2; exit 1; }
      v4l2-ctl -d "$cap" -c "$ctrl=$item"
    fi
    chmod 0660 "$cap" "$out"
    echo "$cap $out"
    ;;
  nodes)
    echo "$(node vid-cap) $(node vid-out)"
    ;;
  feed)
    systemctl stop "$unit" 2>/dev/null || true
    systemctl reset-failed "$unit" 2>/dev/null || true
    cp "$2" /run/rolemirror-test-frame.yuv
    out=$(node vid-out)
    systemd-run --quiet --unit="$unit" --collect -p StandardOutput=null v4l2-ctl -d "$out" --stream-out-mmap=3 \
      --stream-from=/run/rolemirror-test-frame.yuv --stream-loop
    ;;
  stop)
    systemctl stop "$unit" 2>/dev/null || true
    ;;
  unplug)
    systemctl stop "$unit" 2>/dev/null || true
    cap=$(node vid-cap); out=$(node vid-out)
    # vivid reconnects as soon as every file is closed, and the booth reopens within a second:
    # root-only nodes first (the booth's open file stays valid), so its reopen fails as it would
    # with the camera gone, and the module can go.
    chmod 0600 "$cap" "$out"
    v4l2-ctl -d "$cap" -c disconnect=1 || true
    # The booth closes its file when it sees the device gone; then the module can go.
    for _ in $(seq 1 60); do
      rmmod vivid 2>/dev/null && exit 0
      sleep 0.5
    done
    echo "camera.sh: vivid still in use after 30 s" >&2
    lsmod | grep vivid >&2 || true
    exit 1
    ;;
  *)
    echo "usage: camera.sh load|nodes|feed FILE|stop|unplug" >&2
    exit 2
    ;;
esac
