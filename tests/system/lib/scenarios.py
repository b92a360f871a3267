"""The scenarios of the system test (issue 11) and what they share.

Each scenario sets up what it needs (install, config, gallery, camera) if an earlier one has not,
so any selection runs; run in order, each builds on the state the previous ones left.
"""

import base64
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
import tomllib

import media
from vm import VM, GuestError, log

# The booth's test config: the packaged /etc/rolemirror/rolemirror.toml with these keys changed, as
# a technician would. Each change is about emulation speed (one detect + embed takes seconds under
# TCG, ~50 ms natively): the Pi 4 detector input the README recommends, two frames per match
# instead of five (the averaging itself is covered by the integration tests), and timers that
# give a frame every few seconds time to arrive. Everything else is the shipped default.
BOOTH_SETTINGS = {
    ("vision", "detector_input"): '"384x288"',
    ("booth", "matching_frames"): "2",
    ("booth", "matching_timeout_seconds"): "60.0",
    ("booth", "result_min_seconds"): "3.0",
    ("booth", "cooldown_seconds"): "1.0",
}


def edit_toml(text, changes):
    """Replaces `key = value` lines inside their [section] (the packaged file lists every key)."""
    out, section, done = [], None, set()
    for line in text.splitlines():
        m = re.match(r"^\[([^\]]+)\]\s*$", line)
        if m:
            section = m.group(1)
        m = re.match(r"^(\w+)\s*=", line)
        if m and (section, m.group(1)) in changes:
            line = f"{m.group(1)} = {changes[(section, m.group(1))]}"
            done.add((section, m.group(1)))
        out.append(line)
    missing = set(changes) - done
    if missing:
        raise ValueError(f"keys not in the config: {sorted(missing)}")
    return "\n".join(out) + "\n"


class Scenario:
    """One scenario. `number`: the old numeric alias (1-9) of the first nine; `oses`: the guest
    OSes it runs on; `default`: part of a run without --scenarios (False for the scenarios whose
    booth side is not written yet: they run only when named, and fail saying so)."""

    def __init__(self, number, name, title, fn, arches=("amd64", "arm64"), oses=("trixie", "bookworm"), default=True):
        self.number, self.name, self.title, self.fn, self.arches = number, name, title, fn, arches
        self.oses, self.default = oses, default

    @property
    def label(self):
        return f"{self.number} {self.name}" if self.number else self.name


ALL = []
# Run order. Each scenario builds on the state the ones before it left: the camera scenarios
# after the USB and power ones (a gallery is installed), the console before `upgrade`, whose
# purge removes the booth; the screen scenarios that boot with another display late, so that
# the others share the first boots.
ORDER = ["install", "service", "match", "usb", "power", "camera", "libcamera", "mjpeg", "button", "touch",
         "watchdog", "console", "kms", "kms-portrait", "mender-modules", "mender", "upgrade"]


def scenario(number, name, title, arches=("amd64", "arm64"), oses=("trixie", "bookworm"), default=True):
    def wrap(fn):
        assert name in ORDER, f"scenario {name} has no place in ORDER"
        ALL.append(Scenario(number, name, title, fn, arches, oses, default))
        return fn
    return wrap


def select(spec, arch, os_name):
    """The scenarios of `spec` (names or old numbers, comma-separated) in run order; all the
    default ones of this arch and OS when `spec` is empty."""
    by_key = {str(s.number): s for s in ALL if s.number} | {s.name: s for s in ALL}
    if spec:
        picked = []
        for part in spec.split(","):
            part = part.strip()
            if part not in by_key:
                raise SystemExit(f"unknown scenario {part!r} (see --list)")
            s = by_key[part]
            if os_name not in s.oses:
                raise SystemExit(f"scenario {s.name} needs a {' or '.join(s.oses)} guest (--os)")
            picked.append(s)
    else:
        picked = [s for s in ALL if s.default and arch in s.arches and os_name in s.oses]
    return sorted(set(picked), key=lambda s: ORDER.index(s.name))


class Context:
    def __init__(self, args):
        self.args = args
        self.arch = args.arch
        self.os = args.os
        self.root = os.getcwd()
        self.out = os.environ.get("ROLEMIRROR_SYSTEM_OUT") or os.path.join(self.root, "target", "system-test", f"{self.arch}-{self.os}")
        self.share = os.path.join(self.out, "share")
        self.host_bin = os.path.join(self.root, "target", "release", "rolemirror")
        self.vm = None
        self.late_screens = 0  # boots where the framebuffer appeared after the booth started
        self.installed = False
        self.configured = False
        self.gallery = None
        self.camera = False
        self.setup_seconds = 0.0
        self.notes = {}

    # --- setup -----------------------------------------------------------------------------

    def prepare(self):
        t0 = time.time()
        version = re.search(r'^version = "(.*)"', open("Cargo.toml").read(), re.M).group(1)
        self.version = version
        debarch = self.arch
        self.deb = os.path.join(self.root, "dist", f"rolemirror_{version}_{debarch}.deb")
        for need in (self.host_bin, "demo/gallery/index.json", "demo/visitors"):
            if not os.path.exists(need):
                raise SystemExit(f"{need} is missing: run .ci/run's setup (build, models fetch, demo fetch, gallery build) first")
        inputs = [self.host_bin, "cross/build.sh", "config/rolemirror.toml"] + [os.path.join(d, f) for d in ("cross/debian", "systemd") for f in os.listdir(d)]
        if not os.path.exists(self.deb) or os.path.getmtime(self.deb) < max(os.path.getmtime(p) for p in inputs):
            log(f"building {self.deb}")
            subprocess.run(["bash", "cross/build.sh", "x86_64" if self.arch == "amd64" else "aarch64"], check=True)
        t = time.time()
        built = subprocess.run(["bash", "tests/system/image.sh", self.arch, self.os], capture_output=True, text=True)
        if built.returncode != 0:
            raise GuestError(f"tests/system/image.sh {self.arch} {self.os} failed:\n{built.stderr[-4000:]}")
        image = built.stdout.strip().splitlines()[-1]
        self.image_info = open(os.path.join(image, "done")).read().strip()
        self.notes["image"] = f"{image} ({'cached' if time.time() - t < 10 else f'built in {time.time() - t:.0f} s'})"
        log(f"image: {self.notes['image']}")
        if os.path.exists(self.out):
            shutil.rmtree(self.out)
        os.makedirs(self.share)
        os.makedirs(os.path.join(self.out, "screens"))
        shutil.copy2(self.deb, os.path.join(self.share, "rolemirror.deb"))
        shutil.copytree(os.path.join(self.root, "tests", "system", "guest"), os.path.join(self.share, "guest"))
        shutil.copytree("demo/gallery", os.path.join(self.share, "gallery"))
        self.make_frames()
        self.make_keys()
        self.booth_toml = edit_toml(open("config/rolemirror.toml").read(), BOOTH_SETTINGS)
        with open(os.path.join(self.share, "rolemirror.toml"), "w") as f:
            f.write(self.booth_toml)
        self.vm = VM(self.arch, image, self.out, self.share, cpu=self.args.cpu or None, name=f"rolemirror-system-test-{self.os}")
        self.vm.make_overlay()
        self.setup_seconds = time.time() - t0

    def make_frames(self):
        demo = tomllib.load(open("models/demo.toml", "rb"))
        self.expect = {}
        for v in demo["visitor"]:
            name = os.path.basename(v["photo"])
            if "expect" in v:
                self.expect[name] = v["expect"]
        frames = os.path.join(self.share, "frames")
        os.makedirs(frames)
        self.decoded = os.path.join(self.out, "decoded")
        os.makedirs(self.decoded)
        for name in sorted(os.listdir("demo/visitors")):
            stem = os.path.splitext(name)[0]
            media.write_frame(media.fit(os.path.join("demo/visitors", name)), os.path.join(frames, stem + ".yuv"), os.path.join(self.decoded, stem + ".png"))
        media.write_frame(media.empty_room(), os.path.join(frames, "empty.yuv"), os.path.join(self.decoded, "empty.png"))

    def make_keys(self):
        self.keys = os.path.join(self.out, "keys")
        for name in ("booth", "foreign"):
            subprocess.run([self.host_bin, "keygen", "--out", self.keys, "--name", name], check=True, capture_output=True)
        os.makedirs(os.path.join(self.share, "keys"))
        shutil.copy2(os.path.join(self.keys, "booth.pub"), os.path.join(self.share, "keys", "booth.pub"))

    def vm_desc(self):
        if not self.vm:
            return "no VM"
        return f"{'KVM' if self.vm.kvm else 'TCG'} -cpu {self.vm.cpu} -smp {self.vm.smp} -m {self.vm.mem}, {len(self.vm.boot_log)} boots"

    def boots_desc(self):
        """Why the guest booted, in order, with the seconds to the guest agent."""
        if not self.vm:
            return ""
        return "; ".join(f"{why} ({secs:.0f} s)" for why, secs in self.vm.boot_log)

    # --- state the scenarios build on ------------------------------------------------------

    def boot(self, append_extra="", why="first boot", display=None, inputs=None):
        t = self.vm.start(append_extra, why=why, display=display, inputs=inputs)
        self.vm.mount_share()
        self.camera = False
        log(f"booted in {t:.0f} s (guest agent answering)")
        return t

    def ensure_booted(self):
        if not self.vm.alive():
            self.boot()

    def ensure_installed(self):
        self.ensure_booted()
        if not self.installed:
            code, _, _ = self.vm.exec(["dpkg", "-s", "rolemirror"], check=False)
            if code != 0:
                self.install()
            self.installed = True

    def install(self):
        """apt install of the .deb; returns the journal offset before it."""
        off = self.vm.journal_offset()
        t = time.time()
        # Emulation: one frame's analysis takes 6-12 s under TCG, and over 30 s (the unit's
        # WatchdogSec, ample on a Pi, where a frame takes 0.1-0.3 s) when the host is loaded, so
        # the watchdog killed booths that were only slow. A drop-in gives the guest 60 s; the
        # watchdog scenario reads the limit from systemd and still proves the restart.
        self.vm.sh("mkdir -p /etc/systemd/system/rolemirror.service.d && "
                   "printf '[Service]\\nWatchdogSec=60\\n' > /etc/systemd/system/rolemirror.service.d/emulation.conf")
        self.vm.sh("cp /mnt/host/rolemirror.deb /root/rolemirror_%s_%s.deb && DEBIAN_FRONTEND=noninteractive apt-get install -y /root/rolemirror_%s_%s.deb >/root/apt.log 2>&1 || { cat /root/apt.log; exit 1; }" % (self.version, self.arch, self.version, self.arch), timeout=900)
        self.notes["install_seconds"] = time.time() - t
        self.installed = True
        return off

    def ensure_configured(self):
        """The test config (BOOTH_SETTINGS) and the technician's trusted key, as a technician
        would put them on a booth; the booth reloads (SIGHUP)."""
        self.ensure_installed()
        if self.configured:
            return
        self.vm.sh("install -m 0644 /mnt/host/keys/booth.pub /etc/rolemirror/trusted-keys/booth.pub && "
                   "cat /mnt/host/rolemirror.toml > /etc/rolemirror/rolemirror.toml")
        self.configured = True

    def configure_with(self, changes, why):
        """The booth's test config with these (section, key) values changed (as a technician edits
        it), reloaded; returns the journal offset before the reload."""
        name = f"rolemirror-{why}.toml"
        with open(os.path.join(self.share, name), "w") as f:
            f.write(edit_toml(self.booth_toml, changes))
        self.vm.sh(f"cat /mnt/host/{name} > /etc/rolemirror/rolemirror.toml")
        off = self.vm.journal_offset()
        ev = self.reload()
        assert ev["event"] == "ready", f"the booth is not ready with the {why} config: {ev}"
        return off

    def reload(self, timeout=600):
        off = self.vm.journal_offset()
        self.vm.sh("systemctl reload rolemirror")
        return self.wait_up(off, timeout)

    def wait_up(self, off, timeout=600):
        """Waits for the booth to be up after `off`: event=ready or event=service_needed."""
        deadline = time.time() + timeout
        late_screen = None
        while time.time() < deadline:
            for e in self.vm.events(off):
                if e["event"] == "ready":
                    if late_screen is not None:
                        # The booth started before the framebuffer existed and came up when it
                        # appeared (a fault this test found; see the README): counted, not failed.
                        self.late_screens += 1
                        log(f"the screen came after the booth started ({late_screen.get('first')}); ready when it appeared")
                    return e
                if e["event"] == "service_needed":
                    if str(e.get("first", "")).startswith("display:"):
                        late_screen = e
                        continue
                    return e
            if not self.vm.alive():
                raise GuestError("the VM stopped")
            time.sleep(0.5)
        if late_screen is not None:
            return late_screen
        raise GuestError(f"the booth was not up within {timeout} s")

    def ensure_gallery(self):
        """A gallery on the booth: the demo gallery (with the index built on the host: same model
        files, same index) copied to /var/lib/rolemirror/gallery, as the README's manual install
        describes. Kept if a USB update already put one there."""
        self.ensure_configured()
        if self.gallery:
            return
        code, _, _ = self.vm.exec(["test", "-e", "/var/lib/rolemirror/gallery/gallery.toml"], check=False)
        if code != 0:
            self.vm.sh("cp -r /mnt/host/gallery /var/lib/rolemirror/gallery && chown -R rolemirror:rolemirror /var/lib/rolemirror/gallery")
        ev = self.reload()
        if ev["event"] != "ready":
            raise GuestError(f"booth not ready after the gallery was installed: {ev}")
        self.gallery = int(ev.get("role_models", 0))

    def ensure_camera(self):
        self.ensure_gallery()
        if not self.camera:
            self.camera_since = self.vm.journal_offset()
            self.vm.sh("sh /mnt/host/guest/camera.sh load")
            self.camera = True

    def replay_dir(self, name):
        """A folder with the one decoded frame of a visitor, for the host booth's replay camera."""
        d = os.path.join(self.out, "replay", stem(name))
        os.makedirs(d, exist_ok=True)
        shutil.copy2(os.path.join(self.decoded, stem(name) + ".png"), d)
        return d

    def feed(self, stem):
        self.vm.sh(f"sh /mnt/host/guest/camera.sh feed /mnt/host/frames/{stem}.yuv")

    def wait_match(self, off, timeout=300):
        return self.vm.wait_event("match", off, timeout)

    def after_failure(self, s):
        try:
            with open(os.path.join(self.out, f"scenario-{s.name}-journal.txt"), "w") as f:
                f.write(self.vm.journal())
            if self.vm.alive():
                self.vm.screendump(os.path.join(self.out, "screens", f"failed-{s.name}.png"))
        except Exception:  # noqa: BLE001 - best effort for debugging
            pass

    def finish(self, keep=False):
        if self.vm and self.vm.alive() and not keep:
            self.vm.poweroff(timeout=60)
        if self.vm and not self.vm.alive():
            self.vm.cleanup()

    def kill(self):
        """Cuts the guest's power if it still runs (a failed shutdown must not leave QEMU behind)."""
        try:
            if self.vm and self.vm.alive():
                self.vm.power_cut()
            if self.vm:
                self.vm.cleanup()
        except Exception:  # noqa: BLE001 - last resort
            pass

    def screen(self, name):
        path = os.path.join(self.out, "screens", name + ".png")
        self.vm.screendump(path)
        return path

    def stable_screen(self, name, tries=10):
        """A screendump taken when two in a row, a second apart, are identical."""
        prev = self.screen(name + "-a")
        for i in range(tries):
            time.sleep(1.0)
            cur = self.screen(name)
            frac, _, _ = media.compare(prev, cur)
            if frac == 0.0:
                return cur
            os.replace(cur, prev)
        raise AssertionError(f"the screen did not settle ({name})")

    # --- the booth on the host, for reference screens --------------------------------------

    def host_render(self, name, changes, until, timeout=120, size=(1280, 800)):
        """Runs the booth on the host with the PNG backend at the guest screen's size (`size`)
        and the booth's test config plus `changes`; stops at the first event named `until` (or
        after `timeout`); returns (the PNG screens in order, the event lines)."""
        d = os.path.join(self.out, "host", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "screens"))
        c = dict(changes)
        c[("display", "backend")] = '"png"'
        c[("display", "png")] = f'"{d}/screen.png"'
        c[("display", "png_dir")] = f'"{d}/screens"'
        c[("display", "width")] = str(size[0])
        c[("display", "height")] = str(size[1])
        c[("vision", "models")] = f'"{self.root}/models"'
        c[("usb", "enabled")] = "false"
        c[("state", "dir")] = f'"{d}/state"'
        cfg = os.path.join(d, "rolemirror.toml")
        with open(cfg, "w") as f:
            f.write(edit_toml(self.booth_toml, c))
        events = os.path.join(d, "events.txt")
        p = subprocess.Popen([self.host_bin, "run", "--config", cfg], stdout=open(events, "w"), stderr=open(os.path.join(d, "log.txt"), "w"))
        deadline = time.time() + timeout
        while time.time() < deadline and p.poll() is None:
            lines = open(events).read().splitlines()
            if any(l.startswith(f"event={until}") for l in lines):
                time.sleep(1.5)  # the display thread draws the scene of that event
                break
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
        lines = open(events).read().splitlines()
        shots = sorted(os.listdir(os.path.join(d, "screens")))
        return [os.path.join(d, "screens", s) for s in shots], lines


def host_demo(ctx, tag, gallery, visitor, acts, size=(1280, 800), changes=()):
    """The screens the booth draws for a visitor who acts on their result, rendered on the host
    by `rolemirror demo --config`: the booth's test config with `changes`, `gallery` (the one the
    guest shows: guest_gallery) and the one frame the guest was fed of `visitor`. Returns (the
    result screens in order, without the last one — the card once the visitor has left —, the
    demo's event lines)."""
    d = os.path.join(ctx.out, "host", tag)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    c = dict(changes)
    c[("gallery", "dir")] = f'"{gallery}"'
    c[("vision", "models")] = f'"{ctx.root}/models"'
    cfg = os.path.join(d, "rolemirror.toml")
    with open(cfg, "w") as f:
        f.write(edit_toml(ctx.booth_toml, c))
    cmd = [ctx.host_bin, "demo", "--config", cfg, "--visitors", ctx.replay_dir(visitor), "--out", d, "--size", f"{size[0]}x{size[1]}"]
    r = subprocess.run(cmd + (["--act", ",".join(acts)] if acts else []), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"rolemirror demo --config on the host: {r.stdout}{r.stderr}"
    results = [os.path.join(d, "screens", f) for f in sorted(os.listdir(os.path.join(d, "screens"))) if f.endswith("-result.png")]
    assert len(results) >= 2 + len(acts), f"the host's demo drew {len(results)} result screens for {len(acts)} acts: {r.stdout}"
    return results[:-1], [l for l in r.stdout.splitlines() if l.startswith("event=")]


def acted_renders(ctx, tag, visitor, acts, changes=()):
    """For each act of `acts` in turn, the host's renders of the card right after it (the act's
    own screen and the next frames' redraws): the screens of a demo run with the acts up to it
    that a run without it did not draw."""
    gallery, _ = guest_gallery(ctx, tag)
    out, before = [], None
    for i in range(len(acts) + 1):
        shots, lines = host_demo(ctx, f"{tag}-{i}", gallery, visitor, acts[:i], changes=changes)
        if before is not None:
            seen = {open(p, "rb").read() for p in before}
            out.append([p for p in shots if open(p, "rb").read() not in seen])
            assert out[-1], f"the host's demo drew nothing new for {acts[i - 1]}"
        else:
            matched = [l for l in lines if l.startswith("event=match")]
        before = shots
    return out, matched


def as_rendered(ctx, before, name, renders, timeout=40):
    """A screendump after an input that differs from `before` and equals one of `renders` (the
    host's screens of that step); returns its path."""
    last = None
    for _ in range(timeout):
        time.sleep(1.0)
        last = ctx.screen(name)
        if media.compare(before, last)[0] > 0.0 and any(media.compare(last, r)[0] == 0.0 for r in renders):
            return last
    frac, mean, mx = min(media.compare(last, r, os.path.join(ctx.out, "screens", f"{name}-diff.png")) for r in renders)
    raise AssertionError(f"no screendump in {timeout} s after the input equals the host's render of it ({', '.join(os.path.basename(r) for r in renders)}): "
                         f"the last differs in {frac:.4%} of pixels (mean {mean:.2f}, max {mx}); see screens/{name}.png and {name}-diff.png")


# --- 1. install ---------------------------------------------------------------------------------


@scenario(1, "install", "apt install of the .deb; systemd starts the service; READY; no unit warnings")
def s_install(ctx):
    vm = ctx.vm
    ctx.ensure_booted()
    code, _, _ = vm.exec(["dpkg", "-s", "rolemirror"], check=False)
    assert code != 0, "the image already has rolemirror installed"
    groups_before = vm.sh("getent group video spi gpio | cut -d: -f1 | tr '\\n' ' '")
    off = ctx.install()
    # READY: a Type=notify unit is "active" only after READY=1.
    ev = ctx.wait_up(off, timeout=600)
    active = vm.sh("systemctl is-active rolemirror.service || true").strip()
    assert active == "active", f"systemctl is-active: {active}"
    enabled = vm.sh("systemctl is-enabled rolemirror.service || true").strip()
    assert enabled == "enabled", f"systemctl is-enabled: {enabled}"
    status = vm.sh("systemctl show -p StatusText --value rolemirror.service").strip()
    groups = vm.sh("id rolemirror")
    for g in ("video", "spi", "gpio"):
        assert f"({g})" in groups, f"rolemirror is not in group {g}: {groups}"
    # Unit warnings: what systemd (PID 1) said about our units since the install, and the
    # verifier of the guest's own systemd on the installed files.
    # Everything the journal got about the booth's units since the install, except the booth's
    # own output: systemd (PID 1) and its exec children ("(lemirror)", "(kill)").
    about = [l for l in vm.journal(off).splitlines() if "rolemirror" in l.lower() and not re.search(r"\brolemirror\[\d+\]:|qemu-ga\[", l)]
    warn = [l for l in about if re.search(r"warn|unknown|ignor|deprecat|invalid|fail|not supported|unsafe|already exists|different", l, re.I)]
    verify = vm.sh("systemd-analyze verify /lib/systemd/system/rolemirror.service '/lib/systemd/system/rolemirror-usb@.service' 2>&1 || true").strip()
    prio = vm.sh("journalctl -b -q -p warning -u rolemirror.service -o cat || true").strip()
    # The trusted keys are a read-only bind mount in the booth's namespace.
    keys_ro = vm.sh("pid=$(systemctl show -p MainPID --value rolemirror); awk '$5 == \"/etc/rolemirror/trusted-keys\" {print $6}' /proc/$pid/mountinfo").strip()
    assert keys_ro.startswith("ro"), f"/etc/rolemirror/trusted-keys in the booth's namespace: {keys_ro!r}"
    assert not warn, "systemd warnings about the units:\n" + "\n".join(warn)
    assert not verify, f"systemd-analyze verify in the guest:\n{verify}"
    ctx.notes["install"] = (ev, status)
    return (f"installed in {ctx.notes['install_seconds']:.0f} s, up {ev['event']} ({status!r}); groups before install: {groups_before.strip() or 'none'}; "
            f"is-active active; verify clean; booth warnings: {len(prio.splitlines()) if prio else 0}")


# --- 2. no gallery: the service screen -----------------------------------------------------------


@scenario(2, "service", "no gallery yet: the service screen on /dev/fb0, as the PNG backend renders it")
def s_service(ctx):
    ctx.ensure_installed()
    vm = ctx.vm
    code, _, _ = vm.exec(["test", "-e", "/var/lib/rolemirror/gallery"], check=False)
    if code == 0:
        raise AssertionError("a gallery is installed already (run scenario 2 on a fresh install)")
    ev = [e for e in vm.events() if e["event"] in ("ready", "service_needed")]
    assert ev and ev[-1]["event"] == "service_needed", f"expected event=service_needed, got {ev[-1:] }"
    shot = ctx.stable_screen("2-service")
    shots, lines = ctx.host_render("service", {}, until="service_needed")
    assert shots, f"the host booth drew no screen: {lines}"
    ref = shots[-1]
    frac, mean, mx = media.compare(shot, ref, os.path.join(ctx.out, "screens", "2-service-diff.png"))
    # The same renderer, the same fonts, a lossless 8-bit XRGB8888 framebuffer: every pixel must
    # be equal. No tolerance is needed, so none is given.
    assert frac == 0.0, f"screendump differs from the PNG render in {frac:.4%} of pixels (mean {mean:.2f}, max {mx}); see screens/2-service-diff.png"
    return f"first={ev[-1].get('first')!r}; screendump == PNG render (1280x800, 0 pixels differ)"


# --- 3. camera -> match ---------------------------------------------------------------------------

# Visitors of the demo (models/demo.toml) whose role model is in the gallery; CI uses a spread of
# four (each visit is ~10 frames of emulated inference), `--visitors all` all twelve.
DEFAULT_VISITORS = ["img2.jpg", "img12.jpg", "img19.jpg", "img25.jpg"]
# How long after the first match the result screen may take to appear on the framebuffer.
RESULT_WAIT = 45


def stem(name):
    return os.path.splitext(name)[0]


def visit(ctx, name, timeout=600):
    """Puts a visitor in front of the camera until the booth matches; returns (event, seconds)."""
    off = ctx.vm.journal_offset()
    t = time.time()
    ctx.feed(stem(name))
    ev = ctx.vm.wait_event("match", off, timeout, fail_on=("camera_lost",))
    return ev, time.time() - t


def leave(ctx):
    """The visitor steps away: the empty room until the booth is back on its attract screen
    (face gone, result minimum, thanks): an empty frame must be analysed first."""
    ctx.feed("empty")
    time.sleep(float(BOOTH_SETTINGS[("booth", "result_min_seconds")]) + float(BOOTH_SETTINGS[("booth", "cooldown_seconds")]) + 1.5 + 8.0)


def guest_gallery(ctx, tag):
    """A host folder holding the gallery the guest's booth has now, for the host's reference
    render: the demo gallery, or one a stick installed (`usb`, `power`: their role models and so
    their cards differ), found by the sha256 of every photo and gallery.toml. The guest's own
    index.json goes with it, so both booths rank against the same embeddings (the guest built
    that index itself under another CPU's kernels; a rebuilt one could differ in the last bits)."""
    out = ctx.vm.sh("cd /var/lib/rolemirror/gallery/ && for f in *; do [ -f \"$f\" ] && [ \"$f\" != index.json ] && sha256sum \"$f\"; done; true")
    have = {line.split()[1]: line.split()[0] for line in out.splitlines() if len(line.split()) == 2}
    candidates = [os.path.join(ctx.root, "demo", "gallery")]
    galleries = os.path.join(ctx.out, "galleries")
    if os.path.isdir(galleries):
        candidates += [os.path.join(galleries, g) for g in sorted(os.listdir(galleries))]
    for d in candidates:
        want = {f: hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
                for f in sorted(os.listdir(d)) if f != "index.json" and os.path.isfile(os.path.join(d, f))}
        if want and all(have.get(f) == h for f, h in want.items()):  # gallery.toml's hash decides
            copy = os.path.join(ctx.out, "host", f"{tag}-gallery")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(d, copy, ignore=shutil.ignore_patterns("index.json"))
            with open(os.path.join(copy, "index.json"), "w") as f:
                f.write(ctx.vm.sh("cat /var/lib/rolemirror/gallery/index.json"))
            # The cards' prepared portraits the guest made beside its index (JPEG, made from
            # its own face boxes): the host's render shows the same pixels.
            packed = ctx.vm.sh("cd /var/lib/rolemirror/gallery && if [ -d index-portraits ]; then tar -cz index-portraits | base64 -w0; fi")
            shutil.rmtree(os.path.join(copy, "index-portraits"), ignore_errors=True)
            if packed.strip():
                subprocess.run(["tar", "-xz", "-C", copy], input=base64.b64decode(packed.strip()), check=True)
            return copy, os.path.basename(d)
    raise AssertionError(f"the guest's gallery is none of the host's (demo, {', '.join(os.listdir(galleries)) if os.path.isdir(galleries) else 'no stick'}): "
                         f"{sorted(have)}")


def result_as_rendered(ctx, name, ev, tag, size=(1280, 800)):
    """Right after the match event `ev` of visitor `name`: screendumps while the host renders the
    same scene (in a thread, ~10 s), until one equals the render or RESULT_WAIT s have passed;
    returns the seconds from the event to the equal screendump. The result screen comes when the
    display thread has drawn it (the role model's portrait is decoded when first shown, which
    takes a moment under TCG and longer on a loaded machine), and stays up to
    booth.result_max_seconds (30 s)."""
    t_ev = time.time()
    host = {}
    gallery, ctx.notes[f"{tag}_gallery"] = guest_gallery(ctx, tag)
    render = threading.Thread(target=lambda: host.update(zip(("shots", "lines"), ctx.host_render(
        tag, {("camera", "source"): '"replay"', ("camera", "replay"): f'"{ctx.replay_dir(name)}"',
              ("gallery", "dir"): f'"{gallery}"'}, until="match", size=size))))
    render.start()
    guest, same, compared = [], None, 0
    while same is None and time.time() - t_ev < RESULT_WAIT:
        guest.append((time.time() - t_ev, ctx.screen(f"{tag}-{len(guest):02d}")))
        if not render.is_alive():
            results = [s for s in host.get("shots", []) if s.endswith("-result.png")]
            assert results, f"the host booth showed no result screen: {host.get('lines')}"
            # The result shows the visitor's live picture, cropped around the face box of the
            # latest frame: full-frame and tracked detections give boxes a pixel apart, so the
            # host draws a few variants of the same card; a screendump must equal one of them.
            for t, shot in guest[compared:]:
                if same is None and any(media.compare(shot, r)[0] == 0.0 for r in results[-8:]):
                    same = t
            compared = len(guest)
        time.sleep(0.5)
    render.join()
    host_ev = [l for l in host.get("lines", []) if l.startswith("event=match")]
    if same is None:
        results = [s for s in host.get("shots", []) if s.endswith("-result.png")]
        assert results, f"the host booth showed no result screen: {host.get('lines')}"
        frac, mean, mx = media.compare(guest[-1][1], results[-1], os.path.join(ctx.out, "screens", f"{tag}-diff.png"))
        raise AssertionError(f"no screendump in the {RESULT_WAIT} s after the match equals the PNG render at {size[0]}x{size[1]}: the last differs "
                             f"in {frac:.4%} of pixels (mean {mean:.2f}, max {mx}); guest {ev}, host {host_ev}; see screens/{tag}-*.png and {tag}-diff.png")
    for _, shot in guest[:-1]:
        os.remove(shot)
    os.replace(guest[-1][1], os.path.join(ctx.out, "screens", f"{tag}.png"))
    return same


@scenario(3, "match", "visitor photos through vivid's loop: event=match with the right role model; the result screen as rendered")
def s_match(ctx):
    ctx.ensure_camera()
    vm = ctx.vm
    off = vm.journal_offset()
    ctx.feed("empty")
    vm.wait_event("camera_connected", ctx.camera_since, 120)
    names = ctx.args.visitors.split(",") if ctx.args.visitors and ctx.args.visitors != "all" else (sorted(ctx.expect) if ctx.args.visitors == "all" else DEFAULT_VISITORS)
    out, times, wrong = [], [], []
    for i, name in enumerate(names):
        ev, secs = visit(ctx, name)
        times.append(secs)
        want = ctx.expect.get(name)
        out.append(f"{stem(name)}->{ev['role_model']}")
        if want and ev["role_model"] != want:
            wrong.append(f"{name}: {ev['role_model']} (expected {want})")
        if i == 0:
            # The screen is the shipped default, display.backend = "auto": KMS, as on a Pi.
            kms = [e for e in vm.events() if e["event"] == "display_connected"]
            assert kms, "no event=display_connected this boot: the booth did not choose KMS"
            ctx.notes["result_drawn_s"] = result_as_rendered(ctx, name, ev, "3-result")
        leave(ctx)
    assert not wrong, "wrong role models: " + "; ".join(wrong)
    ctx.notes["match_seconds"] = times
    return (f"{len(names)}/{len(names)} visitors matched the right role model ({', '.join(out)}); KMS {kms[-1]['output']} {kms[-1]['mode']}; "
            f"feed-to-match {min(times):.0f}-{max(times):.0f} s (median {sorted(times)[len(times) // 2]:.0f}); result screendump == PNG render "
            f"{ctx.notes.get('result_drawn_s', 0):.1f} s after the match event")


# --- galleries and sticks -------------------------------------------------------------------------


def gallery_variant(ctx, name, drop=(), extra=(), big=False):
    """The demo gallery without the role models in `drop`, plus one role model per photo in
    `extra` (demo visitors who are not in it); `big`: every photo re-encoded at 12 megapixels (a
    slow stick to pull out mid-copy)."""
    from PIL import Image
    d = os.path.join(ctx.out, "galleries", name)
    if os.path.exists(d):
        return d
    os.makedirs(d)
    text = open("demo/gallery/gallery.toml").read()
    head, *blocks = text.split("[[role_model]]")
    kept = [b for b in blocks if re.search(r'id = "([^"]+)"', b).group(1) not in drop]
    out = head + "".join("[[role_model]]" + b for b in kept)
    for b in kept:
        for photo in re.findall(r'"([^"]+\.(?:jpg|jpeg|png))"', b):
            if big:
                img = Image.open(os.path.join("demo/gallery", photo)).convert("RGB")
                s = (12e6 / (img.width * img.height)) ** 0.5
                img.resize((int(img.width * s), int(img.height * s)), Image.BICUBIC).save(os.path.join(d, photo), quality=98)
            else:
                shutil.copy2(os.path.join("demo/gallery", photo), d)
    for i, photo in enumerate(extra, 1):
        rid = f"{name}-{i}"
        shutil.copy2(os.path.join("demo/visitors", photo), d)
        out += (f'\n[[role_model]]\nid = "{rid}"\nname = "Role model {rid}"\nrole = "Placeholder role"\nbranch = "Placeholder branch"\n'
                f'quote = "Placeholder quote."\nstory_url = "https://example.org/rolemirror/stories/{rid}"\nphotos = ["{photo}"]\n')
    with open(os.path.join(d, "gallery.toml"), "w") as f:
        f.write(out)
    return d


def role_model_ids(gallery_dir):
    return sorted(re.findall(r'^id = "([^"]+)"', open(os.path.join(gallery_dir, "gallery.toml")).read(), re.M))


def stick(ctx, name, gallery_dir, serial, key="booth", partitioned=True):
    """A FAT stick image holding a bundle signed with `key`."""
    b = os.path.join(ctx.out, "bundles", name)
    shutil.rmtree(b, ignore_errors=True)
    os.makedirs(b)
    # --force: these galleries are about installing, not about how their cards look (stranger
    # photos may be framed off-centre, a preview warning); errors still refuse.
    r = subprocess.run([ctx.host_bin, "bundle", "create", "--force", "--gallery", gallery_dir, "--key", os.path.join(ctx.keys, f"{key}.key"),
                        "--serial", str(serial), "--out", b], capture_output=True, text=True)
    assert r.returncode == 0, f"bundle create {name}: {r.stdout}{r.stderr}"
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(b) for f in fs)
    img = os.path.join(ctx.out, "sticks", name + ".img")
    os.makedirs(os.path.dirname(img), exist_ok=True)
    media.fat_image(img, max(64, size // (1 << 20) * 2 + 32), b, label="ROLEMIRROR", partitioned=partitioned)
    return img


def booth_state(ctx):
    """The gallery store as the booth left it: active version, installed serial, staging left."""
    out = ctx.vm.sh("cd /var/lib/rolemirror; readlink gallery || echo plain; cat gallery.versions/installed.json 2>/dev/null | tr -d '\\n '; echo; "
                    "ls -a gallery.versions 2>/dev/null | tr '\\n' ' '; echo; sed -n 's/^id = \"\\(.*\\)\"/\\1/p' gallery/gallery.toml | sort | tr '\\n' ' '")
    link, installed, listing, ids = (out.split("\n") + ["", "", "", ""])[:4]
    m = re.search(r"/v(\d+)/", link)
    serial = re.search(r'"serial":(\d+)', installed)
    return {"active": int(m.group(1)) if m else 0, "installed": int(serial.group(1)) if serial else 0,
            "staging": [e for e in listing.split() if e.startswith("staging")], "ids": ids.split(), "link": link}


def main_pid(ctx):
    return int(ctx.vm.sh("systemctl show -p MainPID --value rolemirror").strip() or 0)


def plug_and_wait(ctx, name, image, until, timeout=900, fail_on=()):
    vm = ctx.vm
    off = vm.journal_offset()
    vm.usb_plug(name, image)
    det = vm.wait_event("usb_detected", off, 120)
    t = time.time()
    ev = vm.wait_event(until, off, timeout, fail_on=fail_on)
    return off, ev, time.time() - t


def wait_report(ctx, dev="sda1", timeout=60):
    """The mount helper copies the booth's report onto the stick with a brief rw remount: the
    report's names once it is done — the files listed, the booth's spool files for the stick
    gone (the helper removes them after `sync` and the read-only remount) and the stick read-only
    again. Seeing the files alone is not enough: the official CI of 0b3f144 pulled the health
    stick while the helper was still writing, and the image had no report at all."""
    deadline = time.time() + timeout
    spool = f"/run/rolemirror/usb-reports/{dev}"
    check = (f"ls /media/rolemirror/{dev}/ROLEMIRROR/reports/ 2>/dev/null; "
             f"if [ -e {spool}.txt ] || [ -e {spool}.health.txt ] || [ -e {spool}.health.json ]; then echo SPOOLED; fi; "
             f"findmnt -no OPTIONS /media/rolemirror/{dev} | tr , '\\n' | grep -qx rw && echo WRITABLE || true")
    out = ""
    while time.time() < deadline:
        _, out, _ = ctx.vm.exec(["/bin/sh", "-c", check], check=False)
        names = [n for n in out.split() if n not in ("SPOOLED", "WRITABLE")]
        if names and "SPOOLED" not in out and "WRITABLE" not in out:
            return names
        time.sleep(1)
    raise AssertionError(f"the mount helper did not finish copying the report onto /dev/{dev} in {timeout} s: {out.split()}")


# --- 4. USB update ------------------------------------------------------------------------------------


@scenario(4, "usb", "signed stick -> udev -> rolemirror-usb@ -> import -> new gallery matches; foreign key refused; stick pulled mid-import")
def s_usb(ctx):
    ctx.ensure_camera()
    vm = ctx.vm
    pid = main_pid(ctx)
    restarts = vm.sh("systemctl show -p NRestarts --value rolemirror").strip()
    before = booth_state(ctx)
    serial = max(before["installed"], 999) + 1
    new = gallery_variant(ctx, "new", drop=("demo-10", "demo-11", "demo-12"), extra=("obama.jpg", "biden.jpg"))
    img = stick(ctx, "update", new, serial)
    # 1. A signed stick.
    off = vm.journal_offset()
    vm.usb_plug("update", img)
    vm.wait_event("usb_detected", off, 120)
    t = time.time()
    # While the booth reads it: read-only (the helper remounts it read-write only to copy the
    # report at the end).
    opts = vm.sh("findmnt -no FSTYPE,OPTIONS /media/rolemirror/sda1 || true").strip()
    ev = vm.wait_event("gallery_installed", off, 900, fail_on=("usb_rejected",))
    secs = time.time() - t
    assert ev["serial"] == str(serial) and ev["role_models"] == str(len(role_model_ids(new))), ev
    unit = vm.sh("systemctl list-units --all --plain --no-legend 'rolemirror-usb@*' | awk '{print $1, $3, $4}'").strip()
    ready = vm.wait_event("ready", off, 600)
    assert ready["role_models"] == str(len(role_model_ids(new))), ready
    reports = wait_report(ctx)
    vm.usb_unplug("update")
    time.sleep(2)
    state = booth_state(ctx)
    assert state["active"] == serial and state["ids"] == role_model_ids(new) and not state["staging"], state
    rep = media.stick_reports(img)
    assert any("result: INSTALLED" in t and f"serial: {serial}" in t for t in rep.values()), f"report on the stick: {rep}"
    assert "rolemirror-usb@sda1.service" in unit, f"udev did not start the mount helper: {unit!r}"
    fstype, _, options = opts.partition(" ")
    assert fstype == "vfat" and all(o in options.strip().split(",") for o in ("ro", "nosuid", "nodev", "noexec")), f"mount options {opts!r}"
    # The booth matches against the new gallery: Obama is only in it (obama.jpg -> new-1).
    m, msecs = visit(ctx, "test_obama1.jpg")
    assert m["role_model"] == "new-1", f"test_obama1 matched {m['role_model']}, expected new-1 (only in the new gallery)"
    leave(ctx)
    # 2. A stick signed with a key the booth does not trust; formatted without a partition table
    # (a "superfloppy": the filesystem is /dev/sda itself).
    foreign = stick(ctx, "foreign", gallery_variant(ctx, "demo"), serial + 1, key="foreign", partitioned=False)
    off, rej, _ = plug_and_wait(ctx, "foreign", foreign, "usb_rejected", fail_on=("gallery_installed",))
    wait_report(ctx, "sda")
    vm.usb_unplug("foreign")
    time.sleep(1)
    after = booth_state(ctx)
    assert after["active"] == serial and after["ids"] == state["ids"], after
    assert not [e for e in vm.events(off) if e["event"] in ("config_reloaded", "gallery_installed")], "the booth reloaded after a refused stick"
    frep = media.stick_reports(foreign)
    assert any("result: REFUSED" in t for t in frep.values()), f"report on the foreign stick: {frep}"
    # 3. A stick pulled out while the booth copies from it.
    big = stick(ctx, "big", gallery_variant(ctx, "big", big=True), serial + 2)
    off = vm.journal_offset()
    vm.usb_plug("big", big)
    vm.wait_event("usb_detected", off, 120)
    deadline = time.time() + 300
    while "usb: import step: copying" not in vm.journal(off):
        assert time.time() < deadline, "the import never started copying"
        time.sleep(0.1)
    t_pull = time.time()
    vm.usb_unplug("big")
    pulled = vm.wait_event("usb_rejected", off, 600, fail_on=("gallery_installed",))
    time.sleep(1)
    final = booth_state(ctx)
    assert final["active"] == serial and final["ids"] == state["ids"] and not final["staging"], final
    assert main_pid(ctx) == pid, "the booth was restarted"
    assert vm.sh("systemctl show -p NRestarts --value rolemirror").strip() == restarts, "the booth was restarted"
    kernel_err = [l for l in vm.journal(off).splitlines() if "I/O error" in l or "FAT-fs" in l]
    # 4. A stick with only an empty ROLEMIRROR/ folder: a health report, nothing installed.
    empty = os.path.join(ctx.out, "bundles", "health")
    shutil.rmtree(empty, ignore_errors=True)
    os.makedirs(os.path.join(empty, "ROLEMIRROR"))
    himg = os.path.join(ctx.out, "sticks", "health.img")
    media.fat_image(himg, 64, empty, label="ROLEMIRROR")
    off, hev, hsecs = plug_and_wait(ctx, "health", himg, "health_report_written", timeout=300,
                                    fail_on=("usb_rejected", "gallery_installed"))
    wait_report(ctx)
    time.sleep(2)
    vm.usb_unplug("health")
    hrep = media.stick_reports(himg)
    htxt = [t for n, t in hrep.items() if n.startswith("health-") and n.endswith(".txt")]
    hjson = [t for n, t in hrep.items() if n.startswith("health-") and n.endswith(".json")]
    assert htxt and hjson, f"health report on the stick: {sorted(hrep)}"
    assert f"installed serial: {serial}" in htxt[0] and "[counters per day]" in htxt[0], htxt[0][:2000]
    json.loads(hjson[0])
    assert main_pid(ctx) == pid, "the booth was restarted by a health stick"
    assert booth_state(ctx)["active"] == serial
    return (f"installed serial {serial} ({ev['role_models']} role models) in {secs:.0f} s after usb_detected via {unit.split()[0]} ({opts}); "
            f"report INSTALLED; test_obama1 -> new-1 in {msecs:.0f} s; foreign key: usb_rejected reason={rej.get('reason')!r}, report REFUSED; "
            f"pulled {time.time() - t_pull:.0f} s before: usb_rejected reason={pulled.get('reason')!r}; gallery unchanged, no staging, same booth process; "
            f"kernel lines about the pull: {len(kernel_err)}; empty ROLEMIRROR/ stick: health report ({', '.join(sorted(hrep))}) "
            f"{hsecs:.0f} s after usb_detected, gallery unchanged")


# --- 5. power cuts ----------------------------------------------------------------------------------

# Stranger photos (one face each) that become the extra role model of each bundle, so every
# import embeds a photo the active gallery does not have.
EXTRA_POOL = ["obama.jpg", "biden.jpg", "alex-lacamoire.png", "lin-manuel-miranda.png", "test_johnsnow_test1.jpg",
              "train_rose_leslie_img1.jpg", "train_kit_harington_john1.jpeg", "obama2.jpg", "test_alex_lacamoire1.jpg",
              "train_rose_leslie_img2.jpg", "train_kit_harington_john2.jpeg", "obama3.jpg", "test_obama1.jpg",
              "train_alex_lacamoire_img1.jpg"]  # each passes `gallery check` at 384x288 (train_biden_biden2 has two faces)

FSCK_APPEND = "fsck.mode=force fsck.repair=no"


def import_phase(journal_text):
    steps = re.findall(r"usb: import step: (.*)", journal_text)
    if not steps:
        return "settling (before the first step)"
    last = steps[-1].strip()
    for prefix, phase in (("copying", "copying"), ("embedding", "embedding"), ("loading the face models", "loading models"),
                          ("checking the signature", "signature and tree"), ("checking image sizes", "image headers"),
                          ("checking the config", "config"), ("switching", "switching"), ("done", "done")):
        if last.startswith(prefix):
            return phase
    return last


def import_seconds(journal_text):
    """usb_detected to gallery_installed by the guest kernel's clock (the journal's [ s.us ])."""
    def at(event):
        m = re.search(r"\[\s*([0-9.]+)\][^\n]*event=" + event, journal_text)
        return float(m.group(1)) if m else None
    start, end = at("usb_detected"), at("gallery_installed")
    return end - start if start is not None and end is not None and end > start else None


def check_fsck(ctx):
    """The root filesystem's check at this boot (forced, read-only: -f -n)."""
    out = ctx.vm.sh("cat /run/initramfs/fsck.log 2>/dev/null; journalctl -b -q -u systemd-fsck-root -o cat 2>/dev/null; "
                    "systemctl show -p Result --value systemd-fsck-root 2>/dev/null")
    return out


@scenario(5, "power", "power cut (SIGKILL qemu) at random points of USB imports; back READY on exactly the old or the new gallery, fsck clean, staging tidied")
def s_power(ctx):
    ctx.ensure_gallery()
    vm = ctx.vm
    rng = random.Random(int(os.environ.get("ROLEMIRROR_SYSTEM_SEED", "11")))
    state = booth_state(ctx)
    serial = max(state["installed"], 1999) + 1
    # Calibration: one import to the end, timed from usb_detected (not counted as a kill).
    gal = gallery_variant(ctx, f"p{serial}", extra=(EXTRA_POOL[serial % len(EXTRA_POOL)],))
    off, ev, span = plug_and_wait(ctx, "cal", stick(ctx, "cal", gal, serial), "gallery_installed", fail_on=("usb_rejected",))
    vm.wait_event("ready", off, 600)
    vm.usb_unplug("cal")
    old = {"serial": serial, "ids": role_model_ids(gal)}
    n = ctx.args.power_cuts
    phases, outcomes, boots, readies, durations = {}, {"old": 0, "new": 0}, [], [], []
    calibrated = span
    fsck_lines = []
    for i in range(n):
        serial += 1
        gal = gallery_variant(ctx, f"p{serial}", extra=(EXTRA_POOL[serial % len(EXTRA_POOL)],))
        new = {"serial": serial, "ids": role_model_ids(gal)}
        img = stick(ctx, f"p{i}", gal, serial)
        off = vm.journal_offset()
        vm.usb_plug(f"p{i}", img)
        vm.wait_event("usb_detected", off, 120)
        # Stratified over the import time (+15 %): every phase gets its share. The calibration
        # ran with the booth busy on camera frames; after a reboot nothing competes and imports
        # are several times faster, so the span follows the imports seen to the end since.
        delay = (i + rng.random()) / n * span * 1.15
        time.sleep(delay)
        text = vm.journal(off)
        phase = import_phase(text)
        if any(e["event"] == "gallery_installed" for e in vm.events(off)):
            phase = "installed (before the cut)"
            took = import_seconds(text)
            if took:
                durations.append(took)
                span = sorted(durations)[len(durations) // 2]
        vm.power_cut()
        phases[phase] = phases.get(phase, 0) + 1
        t = time.time()
        ctx.boot(FSCK_APPEND, why=f"power cut {i + 1}/{n}")
        boots.append(time.time() - t)
        up = ctx.wait_up(vm.boot_offset, 600)
        readies.append(time.time() - t)
        assert up["event"] == "ready", f"cut {i} ({phase}): the booth is not ready after the reboot: {up}"
        now = booth_state(ctx)
        fsck = check_fsck(ctx)
        fsck_lines.append(fsck)
        assert not re.search(r"UNEXPECTED INCONSISTENCY|errors|Fix\?|failed", fsck, re.I), f"cut {i}: fsck: {fsck}"
        # systemd-fsck-root ran (forced, -f -n) and succeeded: not just "nothing said".
        assert fsck.strip().splitlines()[-1:] == ["success"], f"cut {i}: systemd-fsck-root did not succeed: {fsck!r}"
        assert not now["staging"], f"cut {i} ({phase}): staging left: {now}"
        indexed = [e for e in vm.events(vm.boot_offset) if e["event"] == "gallery_indexed"]
        assert not indexed, f"cut {i} ({phase}): the active gallery's index had to be rebuilt: {indexed}"
        if now["active"] == new["serial"]:
            assert now["ids"] == new["ids"] and up["role_models"] == str(len(new["ids"])), f"cut {i}: new serial with {now['ids']}"
            outcomes["new"] += 1
            old = new
        else:
            assert now["active"] == old["serial"] and now["ids"] == old["ids"] and up["role_models"] == str(len(old["ids"])), \
                f"cut {i} ({phase}): neither the old ({old['serial']}) nor the new ({new['serial']}) gallery: {now}"
            outcomes["old"] += 1
        log(f"power cut {i + 1}/{n} after {delay:.1f} s ({phase}): back on the {'new' if now['active'] == new['serial'] else 'old'} gallery; boot {boots[-1]:.0f} s, ready {readies[-1]:.0f} s")
    dist = ", ".join(f"{k} {v}" for k, v in sorted(phases.items(), key=lambda kv: -kv[1]))
    ctx.notes["power"] = (phases, outcomes, boots, readies)
    return (f"{n} cuts over a {calibrated:.0f} s import (calibrated with the camera busy; {span:.0f} s after reboots): {dist}; back on the old gallery {outcomes['old']}x, the new {outcomes['new']}x, never a mix; "
            f"fsck -f clean {n}/{n}; no staging left; boot {min(boots):.0f}-{max(boots):.0f} s, READY {min(readies):.0f}-{max(readies):.0f} s after start; "
            f"the screen came after the booth {ctx.late_screens}x")


# --- 6. camera loss ------------------------------------------------------------------------------------


@scenario(6, "camera", "camera unplugged and back (vivid disconnect + rmmod / modprobe), --camera-cycles times: camera_lost / camera_connected, matches again, no restart")
def s_camera(ctx):
    ctx.ensure_camera()
    vm = ctx.vm
    pid, restarts = main_pid(ctx), vm.sh("systemctl show -p NRestarts --value rolemirror").strip()
    ctx.feed("empty")
    vm.wait_event("camera_connected", ctx.camera_since, 120)
    visitor = "img2.jpg"
    want = None
    lost_s, back_s, match_s = [], [], []
    for i in range(ctx.args.camera_cycles):
        off = vm.journal_offset()
        t = time.time()
        vm.sh("sh /mnt/host/guest/camera.sh unplug", timeout=120)
        vm.wait_event("camera_lost", off, 60)
        lost_s.append(time.time() - t)
        off = vm.journal_offset()
        t = time.time()
        vm.sh("sh /mnt/host/guest/camera.sh load")
        ctx.feed(stem(visitor))
        vm.wait_event("camera_connected", off, 120)
        back_s.append(time.time() - t)
        m = vm.wait_event("match", off, 400, fail_on=("camera_lost",))
        match_s.append(time.time() - t)
        want = want or m["role_model"]
        assert m["role_model"] == want, f"cycle {i}: {m['role_model']} != {want}"
    assert main_pid(ctx) == pid and vm.sh("systemctl show -p NRestarts --value rolemirror").strip() == restarts, "the service was restarted"
    ctx.feed("empty")
    k = len(lost_s)
    return (f"{k}/{k} unplugs gave camera_lost (after {max(lost_s):.1f} s at most), {k}/{k} replugs camera_connected "
            f"({min(back_s):.0f}-{max(back_s):.0f} s after modprobe) and a match ({visitor} -> {want}, {min(match_s):.0f}-{max(match_s):.0f} s); same process, 0 restarts")


# --- 7. watchdog ---------------------------------------------------------------------------------------


@scenario(7, "watchdog", "the booth stops making progress (SIGSTOP): systemd's watchdog restarts it; READY again")
def s_watchdog(ctx):
    ctx.ensure_gallery()
    vm = ctx.vm
    pid = main_pid(ctx)
    restarts = int(vm.sh("systemctl show -p NRestarts --value rolemirror").strip())
    wd = vm.sh("systemctl show -p WatchdogUSec --value rolemirror").strip()
    off = vm.journal_offset()
    t = time.time()
    vm.sh(f"kill -STOP {pid}")
    deadline = time.time() + 180
    while "rolemirror.service: Watchdog timeout" not in vm.journal(off):
        assert time.time() < deadline, "no watchdog timeout within 180 s"
        time.sleep(0.5)
    t_wd = time.time() - t
    ready = vm.wait_event("ready", off, 900)
    t_ready = time.time() - t
    new_pid = main_pid(ctx)
    assert new_pid != pid, "same process"
    assert int(vm.sh("systemctl show -p NRestarts --value rolemirror").strip()) == restarts + 1
    assert vm.sh("systemctl is-active rolemirror || true").strip() == "active"
    return f"WatchdogSec={wd}: watchdog timeout {t_wd:.0f} s after SIGSTOP, READY again {t_ready:.0f} s after (new pid, NRestarts {restarts}->{restarts + 1})"


# --- 9. the console under the screen -------------------------------------------------------------------


@scenario(9, "console", "the Linux console shares /dev/fb0: login prompt, kernel errors, blanking stay off the booth's screen")
def s_console(ctx):
    ctx.ensure_camera()
    vm = ctx.vm
    # The framebuffer backend, which shares /dev/fb0 with the console (the default, `auto`, picks
    # KMS on this guest: `match` and the kms scenarios prove that one).
    off = ctx.configure_with({("display", "backend"): '"fbdev"'}, "fbdev")
    assert not [e for e in vm.events(off) if e["event"] == "display_connected"], "display_connected (KMS) with display.backend = fbdev"
    try:
        return console_checks(ctx)
    finally:
        ctx.configure_with({}, "default")


def console_checks(ctx):
    vm = ctx.vm
    # A static scene that the booth never redraws by itself: "camera not connected".
    off = vm.journal_offset()
    vm.sh("sh /mnt/host/guest/camera.sh unplug", timeout=120)
    ctx.camera = False
    vm.wait_event("camera_lost", off, 60)
    fg = vm.sh("fgconsole").strip()
    shots, lines = ctx.host_render("camera-lost", {("camera", "device"): '"/dev/rolemirror-no-camera"', ("gallery", "dir"): f'"{ctx.root}/demo/gallery"'},
                                   until="camera_lost", timeout=60)
    ref = [s for s in shots if s.endswith("-camera-lost.png")][-1]
    checks = []

    def same(label):
        shot = ctx.screen(f"9-{label}")
        frac, mean, mx = media.compare(shot, ref, os.path.join(ctx.out, "screens", f"9-{label}-diff.png"))
        checks.append((label, frac))
        assert frac == 0.0, f"{label}: the screen differs from the booth's render in {frac:.4%} of pixels (max {mx}); see screens/9-{label}-diff.png"

    time.sleep(2)
    same("start")
    # The login prompt's cursor blinks (fbcon redraws it every ~200 ms): several shots.
    for k in range(3):
        time.sleep(0.35)
        same(f"cursor-{k}")
    # Kernel errors go to the console (console=tty1, loglevel 4 with quiet: errors print).
    vm.sh("echo '<3>rolemirror system test: a kernel error on the console' > /dev/kmsg; echo 'text on tty1' > /dev/tty1")
    time.sleep(2)
    same("kernel-error")
    # Console blanking after 1 minute without keyboard input (ESC [ 9 ; 1 ], what consoleblank=60
    # on the kernel command line sets; Debian's and Raspberry Pi OS's kernels default to 0).
    vm.sh("printf '\\033[9;1]' > /dev/tty1")
    time.sleep(70)
    same("after-blank-interval")
    vm.sh("printf '\\033[9;0]' > /dev/tty1")
    return (f"booth on tty{fg} (graphics mode) drawing on /dev/fb0 (display.backend = fbdev); {len(checks)} screendumps over {75} s "
            f"(cursor blink, a kernel error, a 60 s blank interval) all equal to the booth's render of the camera-lost screen")


# --- 8. reboot and upgrade ------------------------------------------------------------------------------


def newer_deb(ctx):
    """The same package with a higher version: what a software update looks like to dpkg."""
    work = os.path.join(ctx.out, "newer")
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-R", ctx.deb, work], check=True)
    control = os.path.join(work, "DEBIAN", "control")
    text = open(control).read()
    version = re.search(r"^Version: (.*)$", text, re.M).group(1) + "+systemtest1"
    with open(control, "w") as f:
        f.write(re.sub(r"^Version: .*$", f"Version: {version}", text, flags=re.M))
    out = os.path.join(ctx.share, "rolemirror-newer.deb")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", work, out], check=True, capture_output=True)
    return version


@scenario(8, "upgrade", "systemctl reboot keeps counters; a newer .deb keeps the edited config and the gallery; remove keeps /var/lib/rolemirror, purge removes it")
def s_upgrade(ctx):
    ctx.ensure_gallery()
    vm = ctx.vm
    before = vm.sh("cat /var/lib/rolemirror/counters.json 2>/dev/null || echo '{}'")
    state = booth_state(ctx)
    boot_id = vm.sh("cat /proc/sys/kernel/random/boot_id").strip()
    off = vm.journal_offset()
    t = time.time()
    try:
        vm.exec(["systemctl", "reboot"], check=False, timeout=30)
    except (GuestError, OSError):
        pass  # the agent may go away before it answers
    deadline = time.time() + 600
    while True:
        assert time.time() < deadline, "the guest did not come back after systemctl reboot"
        try:
            vm.agent.connect(20)
            if vm.sh("cat /proc/sys/kernel/random/boot_id").strip() != boot_id:
                break
        except Exception:  # noqa: BLE001 - the agent goes away during the reboot
            pass
        time.sleep(2)
    vm.boot_offset = off
    vm.boot_log.append(("systemctl reboot (upgrade)", time.time() - t))
    vm.mount_share()
    ctx.camera = False
    ready = None
    while ready is None and time.time() < deadline:
        evs = vm.events(off)
        stops = [i for i, e in enumerate(evs) if e["event"] == "shutdown"]
        later = [e for e in evs[stops[0] + 1:] if e["event"] in ("ready", "service_needed")] if stops else []
        ready = later[0] if later else None
        time.sleep(1)
    assert stops, "the booth did not stop cleanly (no event=shutdown) on systemctl reboot"
    t_reboot = time.time() - t
    assert ready and ready["event"] == "ready", f"after the reboot: {ready}"
    after = vm.sh("cat /var/lib/rolemirror/counters.json 2>/dev/null || echo '{}'")
    b, a = json.loads(before), json.loads(after)
    assert a.get("visitors", 0) >= b.get("visitors", 0) and all(a.get("matches", {}).get(k, 0) >= v for k, v in b.get("matches", {}).items()), f"counters {b} -> {a}"
    assert booth_state(ctx)["active"] == state["active"]
    # Upgrade over an edited config.
    vm.sh("echo '# edited on the booth by the system test' >> /etc/rolemirror/rolemirror.toml")
    conf = vm.sh("sha256sum /etc/rolemirror/rolemirror.toml").split()[0]
    version = newer_deb(ctx)
    off = vm.journal_offset()
    vm.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y /mnt/host/rolemirror-newer.deb >/root/apt-upgrade.log 2>&1 || { cat /root/apt-upgrade.log; exit 1; }", timeout=900)
    up = ctx.wait_up(off, 600)
    assert up["event"] == "ready", up
    assert vm.sh("dpkg-query -W -f '${Version}' rolemirror").strip() == version
    assert vm.sh("sha256sum /etc/rolemirror/rolemirror.toml").split()[0] == conf, "the edited config was replaced"
    st = booth_state(ctx)
    assert st["active"] == state["active"] and st["ids"] == state["ids"], f"gallery after the upgrade: {st}"
    # Remove, then purge.
    vm.sh("DEBIAN_FRONTEND=noninteractive apt-get remove -y rolemirror >/root/apt-remove.log 2>&1 || { cat /root/apt-remove.log; exit 1; }", timeout=600)
    kept = vm.sh("test -f /var/lib/rolemirror/gallery/gallery.toml && test -f /var/lib/rolemirror/counters.json && echo kept || echo gone").strip()
    inactive = vm.sh("systemctl is-active rolemirror || true").strip()
    assert kept == "kept", "apt remove deleted /var/lib/rolemirror"
    vm.sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y rolemirror >/root/apt-purge.log 2>&1 || { cat /root/apt-purge.log; exit 1; }", timeout=600)
    purged = vm.sh("test -e /var/lib/rolemirror && echo present || echo gone; getent passwd rolemirror >/dev/null && echo user || echo nouser").split()
    ctx.installed = ctx.configured = False
    ctx.gallery = None
    assert purged[0] == "gone", "apt purge left /var/lib/rolemirror"
    return (f"reboot: READY {t_reboot:.0f} s after systemctl reboot, counters kept ({a.get('visitors', 0)} visitors); upgrade to {version}: "
            f"edited config kept (sha256 equal), gallery v{state['active']} kept, READY again; remove: state kept, service {inactive}; purge: /var/lib/rolemirror gone, {purged[1]}")
