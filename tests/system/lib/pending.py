"""The scenarios of issues 23 and 24 whose booth side is still being written, and the guest
plumbing they need.

Each is registered with `default=False`: a run without --scenarios leaves them out, and a run
that names one sets up the guest's side (the device, the boot, the input) and checks that it
works, then fails with "not implemented yet" and what is missing, until the booth's side exists
and the scenario asserts on the booth. The helpers are what the finished scenarios will call:

  vimc_load / vimc_unplug / cameras      vimc, the kernel's virtual camera, for libcamera
  mjpeg_frames / mjpeg_load / mjpeg_feed /
  mjpeg_stop / mjpeg_unplug / captured   a v4l2loopback node that a writer feeds JPEG frames
  reboot(display=Display(...))           another screen (bochs or virtio-gpu, any resolution)
  ctx.vm.key / ctx.vm.touch, input_events  QMP keyboard and tablet events, read back from evdev
"""

import base64
import hashlib
import os
import re
import struct
import time

import media
from scenarios import scenario
from vm import Display, GuestError

# --- libcamera: vimc -----------------------------------------------------------------------------


def vimc_load(ctx):
    """Loads vimc; returns its media device (/dev/mediaN)."""
    return ctx.vm.sh("sh /mnt/host/guest/vimc.sh load").strip()


def vimc_unplug(ctx):
    ctx.vm.sh("sh /mnt/host/guest/vimc.sh unplug", timeout=60)


def cameras(ctx):
    """The cameras libcamera lists (`cam -l`): their ids, e.g. `platform/vimc.0 Sensor B`."""
    out = ctx.vm.sh("sh /mnt/host/guest/vimc.sh list 2>&1")
    return re.findall(r"^\d+: .*\((.*)\)$", out, re.M)


# --- MJPEG: v4l2loopback ---------------------------------------------------------------------------


def mjpeg_frames(ctx, visitor, kinds=("422",), name=None):
    """JPEG frames of a visitor (the demo photo fitted into 640x480) in UVC's shapes
    (media.uvc_frames: tidy, no-dht, 422, trailing, cut), one file per kind in this order, on the
    share; returns (the guest's folder, {kind: sha256})."""
    name = name or f"{media_stem(visitor)}-{'-'.join(kinds)}"
    d = os.path.join(ctx.share, "mjpeg", name)
    os.makedirs(d, exist_ok=True)
    frames = media.uvc_frames(media.fit(os.path.join("demo/visitors", visitor)))
    sums = {}
    for i, kind in enumerate(kinds):
        with open(os.path.join(d, f"frame-{i:03d}.jpg"), "wb") as f:
            f.write(frames[kind])
        sums[kind] = hashlib.sha256(frames[kind]).hexdigest()
    return f"/mnt/host/mjpeg/{name}", sums


def media_stem(name):
    return os.path.splitext(name)[0]


def mjpeg_load(ctx):
    """Loads v4l2loopback (one capture-only node); returns the node."""
    return ctx.vm.sh("sh /mnt/host/guest/mjpeg.sh load").strip()


def mjpeg_feed(ctx, guest_dir, size="640x480", fps=15):
    ctx.vm.sh(f"sh /mnt/host/guest/mjpeg.sh feed {guest_dir} {size} {fps}", timeout=60)


def mjpeg_stop(ctx):
    ctx.vm.sh("sh /mnt/host/guest/mjpeg.sh stop")


def mjpeg_unplug(ctx):
    ctx.vm.sh("sh /mnt/host/guest/mjpeg.sh unplug", timeout=60)


def captured(ctx, node, count):
    """`count` single-frame captures from the node's capture side (each a new open and stream,
    one buffer): their sha256 sums. The bytes a V4L2 reader gets, as the kernel hands them over."""
    out = ctx.vm.sh(f"for i in $(seq 1 {count}); do v4l2-ctl -d {node} --stream-mmap --stream-count=1 --stream-to=/run/rolemirror-cap.jpg "
                    f">/dev/null 2>&1 && sha256sum /run/rolemirror-cap.jpg; done; rm -f /run/rolemirror-cap.jpg", timeout=120)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# --- screens and inputs -----------------------------------------------------------------------------


def reboot(ctx, display=None, inputs=None, why="reboot"):
    """Shuts the guest down and boots it again (same disk) with another screen or inputs."""
    ctx.vm.poweroff(timeout=120)
    off = ctx.vm.journal_offset()
    ctx.boot(why=why, display=display, inputs=inputs)
    return off


def input_device(ctx, name_part):
    """The /dev/input/eventN whose name (in /proc/bus/input/devices) contains `name_part`."""
    text = ctx.vm.sh("cat /proc/bus/input/devices")
    for block in text.split("\n\n"):
        if name_part in block:
            m = re.search(r"H: Handlers=.*\b(event\d+)\b", block)
            if m:
                return f"/dev/input/{m.group(1)}"
    raise GuestError(f"no input device named like {name_part!r}:\n{text}")


# struct input_event on a 64-bit guest: struct timeval (2 x 8 bytes), u16 type, u16 code, s32 value.
INPUT_EVENT = struct.Struct("<qqHHi")
EV_NAMES = {0: "SYN", 1: "KEY", 3: "ABS"}


def input_events(ctx, device, action, seconds=3.0):
    """Runs `action()` (QMP input) while the guest reads `device` raw for `seconds`; returns the
    KEY and ABS events as (type, code, value) (SYN reports and MSC scan codes left out). An
    absolute position equal to the last one reported gives no ABS event (evdev drops repeats)."""
    # dd writes each event as it comes; od (which buffers) sees the end when dd is timed out.
    script = f"{{ timeout {seconds} dd if={device} bs={INPUT_EVENT.size} status=none; true; }} | od -An -v -tx1 -w{INPUT_EVENT.size}"
    pid = ctx.vm.agent.cmd("guest-exec", path="/bin/sh", arg=["-c", script], **{"capture-output": True})["pid"]
    time.sleep(0.8)
    action()
    deadline = time.time() + seconds + 10
    while True:
        st = ctx.vm.agent.cmd("guest-exec-status", pid=pid)
        if st.get("exited") or time.time() > deadline:
            break
        time.sleep(0.3)
    raw = bytes.fromhex(base64.b64decode(st.get("out-data", "")).decode().replace(" ", "").replace("\n", ""))
    evs = [INPUT_EVENT.unpack_from(raw, i)[2:] for i in range(0, len(raw) - INPUT_EVENT.size + 1, INPUT_EVENT.size)]
    return [(EV_NAMES[t], c, v) for t, c, v in evs if t in EV_NAMES and t != 0]


def not_implemented(what, proven):
    raise NotImplementedError(f"not implemented yet: {what} (the guest's side works: {proven})")


# --- the scenarios --------------------------------------------------------------------------------


@scenario(None, "libcamera", "the real libcamera stack (vimc): frames flow, live view, vimc unplugged and back 5x -> lost/connected, same pid",
          arches=("amd64",), oses=("trixie",), default=False)
def s_libcamera(ctx):
    ctx.ensure_gallery()
    dev = vimc_load(ctx)
    cams = cameras(ctx)
    assert any("vimc" in c for c in cams), f"cam -l lists no vimc camera: {cams}"
    vimc_unplug(ctx)
    not_implemented("the booth's libcamera source (task camera); the scenario's config and events come with it",
                    f"vimc loaded ({dev}), cam -l: {', '.join(cams)}; unplugged again")


@scenario(None, "mjpeg", "MJPEG as webcams send it (v4l2loopback fed UVC-shaped JPEG frames): MJPG negotiated, the right role model, bad frames dropped",
          arches=("amd64",), oses=("trixie",), default=False)
def s_mjpeg(ctx):
    ctx.ensure_gallery()
    kinds = ("tidy", "no-dht", "422", "trailing", "cut")
    guest_dir, sums = mjpeg_frames(ctx, "img2.jpg", kinds)
    node = mjpeg_load(ctx)
    mjpeg_feed(ctx, guest_dir)
    formats = ctx.vm.sh(f"v4l2-ctl -d {node} --list-formats-ext")
    assert "'MJPG'" in formats, f"{node} offers no MJPG:\n{formats}"
    got = captured(ctx, node, 8)
    unknown = [h for h in got if h not in sums.values()]
    assert got and not unknown, f"captured frames that were not fed byte for byte: {len(unknown)} of {len(got)}"
    seen = sorted({k for k, h in sums.items() if h in got})
    mjpeg_unplug(ctx)
    not_implemented("the booth's MJPEG path against this node (task camera)",
                    f"{node} offers MJPG 640x480; {len(got)} captures equal to fed frames byte for byte ({', '.join(seen)})")


def _kms(ctx, display):
    ctx.ensure_installed()
    reboot(ctx, display=display, why=f"kms: {display}")
    cards = ctx.vm.sh("ls /dev/dri/ 2>/dev/null; cat /sys/class/drm/card*-*/modes 2>/dev/null | head -n 3").split()
    assert any(c.startswith("card") for c in cards), f"no DRM card: {cards}"
    modes = [c for c in cards if re.match(r"\d+x\d+", c)]
    want = f"{display.width}x{display.height}"
    assert modes and modes[0] == want, f"the connector's preferred mode is {modes[:1]}, not {want}"
    return f"/dev/dri/card0, preferred mode {want}"


@scenario(None, "kms", "the KMS screen (display.backend = kms) on virtio-gpu 1920x1080: page flips, the scenes as rendered",
          arches=("amd64",), default=False)
def s_kms(ctx):
    proven = _kms(ctx, Display("virtio", 1920, 1080))
    not_implemented("the booth's KMS backend in the guest (task kms)", proven)


@scenario(None, "kms-portrait", "a portrait screen (1080x1920) through KMS: the portrait layouts as rendered",
          arches=("amd64",), default=False)
def s_kms_portrait(ctx):
    proven = _kms(ctx, Display("bochs", 1080, 1920))
    not_implemented("the booth's portrait layouts on KMS in the guest (task kms)", proven)


@scenario(None, "button", "a key press (the booth's button) does what the button does", arches=("amd64",), default=False)
def s_button(ctx):
    ctx.ensure_booted()
    dev = input_device(ctx, "QEMU USB Keyboard")
    evs = input_events(ctx, dev, lambda: ctx.vm.key("ret"))
    assert ("KEY", 28, 1) in evs and ("KEY", 28, 0) in evs, f"{dev}: no KEY_ENTER press and release: {evs}"
    not_implemented("a button in the booth", f"QMP key 'ret' -> {dev} KEY_ENTER down/up")


@scenario(None, "touch", "a tap on the screen (USB tablet, absolute) does what a touch does", arches=("amd64",), default=False)
def s_touch(ctx):
    ctx.ensure_booted()
    dev = input_device(ctx, "QEMU USB Tablet")
    w, h = ctx.vm.display.width, ctx.vm.display.height
    evs = input_events(ctx, dev, lambda: ctx.vm.touch(w // 4, h // 2))
    xs = [v for t, c, v in evs if t == "ABS" and c == 0]
    ys = [v for t, c, v in evs if t == "ABS" and c == 1]
    assert xs and ys and ("KEY", 0x110, 1) in evs, f"{dev}: no absolute position and BTN_LEFT: {evs}"
    # The tablet reports 0..32767 over the screen.
    assert abs(xs[-1] - 32767 / 4) < 200 and abs(ys[-1] - 32767 / 2) < 200, f"tap at ({xs[-1]}, {ys[-1]}) of 32767"
    not_implemented("touch in the booth", f"QMP tap at ({w // 4}, {h // 2}) -> {dev} ABS ({xs[-1]}, {ys[-1]}) BTN_LEFT")


@scenario(None, "mender", "an update of the whole system (Mender-style A/B): the booth comes back on the new one", default=False)
def s_mender(ctx):
    not_implemented("the whole-system update", "nothing yet: the guest has one root filesystem, no A/B layout")

