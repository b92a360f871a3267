"""One QEMU guest of the system test: start, stop, power cut, commands, files, screen, USB.

The guest is the cached Debian image (tests/system/image.sh) under a throwaway qcow2 overlay.
The host talks to it through three channels, all real QEMU parts:
  - QMP (unix socket): screendump, USB hot-plug (blockdev-add + device_add usb-storage), quit;
  - the QEMU guest agent (virtio-serial): guest-exec runs commands and returns their output;
  - the journal, forwarded by journald to a virtio console (hvc0) that QEMU writes into a host
    file: the booth's event lines arrive there as they happen, and a line that reached the host
    survives a power cut of the guest.
The kernel's and systemd's console goes to ttyS0 (a host file) as well as tty1 (the screen), as on
a Raspberry Pi (console=serial0 console=tty1).

Each boot chooses its screen (`Display`: bochs-drm behind QEMU's standard VGA, or virtio-gpu, at
a given resolution offered through EDID) and whether a USB keyboard and a USB tablet (a touch
screen's absolute pointer) are plugged in; QMP `input-send-event` drives them.
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


class GuestError(Exception):
    pass


def log(msg):
    print(f"system: {msg}", flush=True)


def kvm_usable(arch):
    """KVM only where the host can run a normal guest with it: /dev/kvm read-write and the CPU's
    virtualisation flag (this machine has /dev/kvm from a paravirtual nesting module, no VMX)."""
    if os.environ.get("ROLEMIRROR_SYSTEM_ACCEL"):
        return os.environ["ROLEMIRROR_SYSTEM_ACCEL"] == "kvm"
    host = os.uname().machine
    if (arch, host) not in (("amd64", "x86_64"), ("arm64", "aarch64")):
        return False
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return host != "x86_64" or re.search(r"\b(vmx|svm)\b", flags) is not None


class JsonChannel:
    """Newline-delimited JSON commands over a unix socket: what QMP and the guest agent speak."""

    what = "channel"

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise GuestError(f"{self.what}: connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def _send(self, name, args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")


class Qmp(JsonChannel):
    what = "QMP"

    def __init__(self, path, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise GuestError(f"QMP socket {path} did not open")
                time.sleep(0.2)
        self.sock.settimeout(120)
        self.buf = b""
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self._send(name, args)
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise GuestError(f"QMP {name}: {reply['error'].get('desc')}")
            return reply.get("return")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Agent(JsonChannel):
    """The QEMU guest agent protocol (guest-sync, guest-exec, guest-exec-status)."""

    what = "guest agent"

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b""
        self.sync_id = int(time.time()) % 100000

    def connect(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.close()
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(self.path)
                self.sock.settimeout(3)
                self.buf = b""
                self.sync_id += 1
                # guest-sync-delimited: the reply is preceded by 0xff, which flushes stale data.
                self.sock.sendall(b"\xff" + json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": self.sync_id}}).encode() + b"\n")
                while True:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise OSError("closed")
                    self.buf += chunk
                    if b"\xff" in self.buf:
                        self.buf = self.buf.split(b"\xff")[-1]
                    if b"\n" in self.buf:
                        line, self.buf = self.buf.split(b"\n", 1)
                        try:
                            if json.loads(line).get("return") == self.sync_id:
                                self.sock.settimeout(60)
                                return
                        except ValueError:
                            pass
            except OSError:
                time.sleep(1)
        raise GuestError(f"guest agent did not answer within {timeout} s")

    def cmd(self, name, **args):
        self._send(name, args)
        reply = self._read()
        if "error" in reply:
            raise GuestError(f"guest agent {name}: {reply['error'].get('desc')}")
        return reply.get("return")

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None


@dataclass(frozen=True)
class Display:
    """The guest's screen for one boot. `bochs`: QEMU's standard VGA (the kernel's bochs-drm, a
    PC's simple framebuffer); `virtio`: virtio-gpu (virtio_gpu DRM, the arm64 guest's screen).
    Both offer width x height as the preferred mode in their EDID, which the kernel's fbdev
    emulation and a KMS client pick up."""
    kind: str = "bochs"
    width: int = 1280
    height: int = 800

    def qemu_args(self, arch):
        if self.kind == "bochs":
            if arch != "amd64":
                raise GuestError("bochs (standard VGA) is the amd64 guest's screen; use virtio on arm64")
            return ["-vga", "none", "-device", f"VGA,xres={self.width},yres={self.height},edid=on"]
        if self.kind == "virtio":
            return (["-vga", "none"] if arch == "amd64" else []) + ["-device", f"virtio-gpu-pci,xres={self.width},yres={self.height},edid=on"]
        raise GuestError(f"unknown display {self.kind!r} (bochs or virtio)")

    def __str__(self):
        return f"{self.kind} {self.width}x{self.height}"


# QMP input-send-event's tablet axes run 0..0x7fff over the whole screen.
ABS_MAX = 0x7FFF


class VM:
    def __init__(self, arch, image_dir, run_dir, share_dir, cpu=None, mem=1024, smp=2, name="rolemirror-system-test"):
        self.arch = arch
        self.image_dir = image_dir
        self.run_dir = run_dir
        self.share_dir = share_dir
        self.mem = mem
        self.smp = smp
        self.kvm = kvm_usable(arch)
        if self.kvm:
            self.cpu = "host"
        elif cpu:
            self.cpu = cpu
        else:
            # amd64: see tests/system/README.md (TCG emulates AVX2/FMA slowly; tract picks its
            # SSE kernels on Nehalem). arm64: a Cortex-A72, the Raspberry Pi 4's core.
            self.cpu = "Nehalem" if arch == "amd64" else "cortex-a72"
        self.name = name
        # QMP's and the agent's sockets: in a private folder under /tmp, so that runs from two
        # worktrees never meet, and short (a socket path is at most 107 bytes).
        self.sock_dir = tempfile.mkdtemp(prefix="rolemirror-vm-")
        self.display = Display()
        # A USB keyboard and tablet on every boot unless a boot says otherwise: the button and
        # touch scenarios then need no boot of their own.
        self.inputs = True
        self.boot_log = []  # (why, seconds to the guest agent) per boot
        self.overlay = os.path.join(run_dir, "disk.qcow2")
        self.proc = None
        self.qmp = None
        self.agent = None
        self.boots = 0
        self.journal_path = os.path.join(run_dir, "journal.log")
        self.console_path = os.path.join(run_dir, "console.log")
        self.boot_offset = 0
        self.usb = {}

    # --- lifecycle -------------------------------------------------------------------------

    def make_overlay(self):
        if os.path.exists(self.overlay):
            os.remove(self.overlay)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.join(self.image_dir, "rootfs.qcow2"), self.overlay], check=True)

    def command(self, append_extra=""):
        r = self.sock_dir
        append = "root=/dev/vda ro rootwait quiet systemd.show_status=auto"
        if self.arch == "amd64":
            qemu = ["qemu-system-x86_64", "-machine", "q35"]
            append += " console=ttyS0,115200 console=tty1"
        else:
            qemu = ["qemu-system-aarch64", "-machine", "virt"]
            append += " console=ttyAMA0,115200 console=tty1"
        qemu += self.display.qemu_args(self.arch)
        if append_extra:
            append += " " + append_extra
        accel = ["-accel", "kvm"] if self.kvm else ["-accel", "tcg,thread=multi"]
        return qemu + accel + [
            "-cpu", self.cpu, "-smp", str(self.smp), "-m", str(self.mem),
            "-display", "none", "-nic", "none", "-no-user-config", "-name", self.name,
            "-kernel", os.path.join(self.image_dir, "vmlinuz"), "-initrd", os.path.join(self.image_dir, "initrd.img"),
            "-append", append,
            "-drive", f"if=none,id=root,file={self.overlay},format=qcow2,cache=writeback,discard=unmap",
            "-device", "virtio-blk-pci,drive=root",
            "-chardev", f"file,id=con,path={self.console_path},append=on",
            "-serial", "chardev:con",
            "-device", "virtio-serial-pci,id=vser",
            "-chardev", f"socket,id=qga,path={r}/qga.sock,server=on,wait=off",
            "-device", "virtserialport,bus=vser.0,chardev=qga,name=org.qemu.guest_agent.0",
            "-chardev", f"file,id=jnl,path={self.journal_path},append=on",
            "-device", "virtconsole,bus=vser.0,chardev=jnl",
            "-qmp", f"unix:{r}/qmp.sock,server=on,wait=off",
            "-virtfs", f"local,path={self.share_dir},mount_tag=host,security_model=none,readonly=on,id=host",
            "-device", "qemu-xhci,id=xhci",
            "-monitor", "none",
        ] + (["-device", "usb-kbd,id=kbd,bus=xhci.0", "-device", "usb-tablet,id=tablet,bus=xhci.0"] if self.inputs else [])

    def start(self, append_extra="", agent_timeout=900, why="boot", display=None, inputs=None):
        """Boots the guest (the overlay keeps its disk between boots) and waits for the agent.
        `display` (a Display) and `inputs` (USB keyboard and tablet plugged in) hold for this
        boot and the following ones until changed."""
        if display is not None:
            self.display = display
        if inputs is not None:
            self.inputs = inputs
        for s in ("qmp.sock", "qga.sock"):
            try:
                os.remove(os.path.join(self.sock_dir, s))
            except FileNotFoundError:
                pass
        self.boot_offset = os.path.getsize(self.journal_path) if os.path.exists(self.journal_path) else 0
        self.console_offset = os.path.getsize(self.console_path) if os.path.exists(self.console_path) else 0
        self.usb = {}
        t0 = time.time()
        self.proc = subprocess.Popen(self.command(append_extra), stdin=subprocess.DEVNULL, stdout=open(os.path.join(self.run_dir, "qemu.log"), "ab"), stderr=subprocess.STDOUT)
        self.boots += 1
        self.qmp = Qmp(os.path.join(self.sock_dir, "qmp.sock"))
        self.agent = Agent(os.path.join(self.sock_dir, "qga.sock"))
        self.agent.connect(agent_timeout)
        self.boot_seconds = time.time() - t0
        self.boot_log.append((why, self.boot_seconds))
        return self.boot_seconds

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def power_cut(self):
        """SIGKILL qemu: what the guest had not flushed to the disk image may be lost."""
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._closed()

    def wait_exit(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        self._closed()
        return True

    def poweroff(self, timeout=120):
        if not self.alive():
            return
        try:
            self.exec(["systemctl", "poweroff", "--no-block"], timeout=20)
        except (GuestError, OSError):
            # The guest going down may close the agent's channel before it answers (CI saw a
            # ConnectionResetError here): either way, wait for QEMU to exit, else cut the power.
            pass
        if not self.wait_exit(timeout):
            self.power_cut()

    def cleanup(self):
        """After the guest has gone: its sockets' folder."""
        shutil.rmtree(self.sock_dir, ignore_errors=True)

    def _closed(self):
        if self.qmp:
            self.qmp.close()
        if self.agent:
            self.agent.close()
        self.qmp = None
        self.agent = None

    # --- commands --------------------------------------------------------------------------

    def exec(self, argv, timeout=120, check=True, stdin=None):
        """Runs argv in the guest (as root); returns (exit code, stdout, stderr)."""
        args = {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}
        if stdin is not None:
            args["input-data"] = base64.b64encode(stdin if isinstance(stdin, bytes) else stdin.encode()).decode()
        pid = self.agent.cmd("guest-exec", **args)["pid"]
        deadline = time.time() + timeout
        delay = 0.05
        while True:
            st = self.agent.cmd("guest-exec-status", pid=pid)
            if st.get("exited"):
                break
            if time.time() > deadline:
                raise GuestError(f"guest command timed out after {timeout} s: {' '.join(argv)}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
        code = st.get("exitcode", -st.get("signal", 1))
        if check and code != 0:
            raise GuestError(f"guest command failed ({code}): {' '.join(argv)}\n{out}{err}")
        return code, out, err

    def sh(self, script, timeout=120, check=True):
        code, out, err = self.exec(["/bin/sh", "-c", script], timeout=timeout, check=check)
        return out if check else (code, out, err)

    def write_file(self, path, data, mode="0644"):
        self.exec(["/bin/sh", "-c", f"cat > '{path}' && chmod {mode} '{path}'"], stdin=data)

    def mount_share(self):
        """Mounts the host's share. The guest agent can answer before udev has loaded the 9p
        transport for the share's virtio device (seen on a boot with virtio-gpu: "special device
        host does not exist"), so the modules are loaded first and the mount tried for 60 s."""
        self.sh("for i in $(seq 1 60); do mountpoint -q /mnt/host && exit 0; modprobe -q 9pnet_virtio; modprobe -q 9p; "
                "mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /mnt/host 2>/tmp/mount-share.err && exit 0; sleep 1; done; "
                "cat /tmp/mount-share.err >&2; exit 1", timeout=120)

    # --- the journal -----------------------------------------------------------------------

    def journal(self, since=None):
        """The journal lines forwarded to the host since `since` (a byte offset; default: this boot)."""
        off = self.boot_offset if since is None else since
        try:
            with open(self.journal_path, "rb") as f:
                f.seek(off)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def journal_offset(self):
        return os.path.getsize(self.journal_path) if os.path.exists(self.journal_path) else 0

    def events(self, since=None, name=None):
        """Booth event lines (`event=NAME k=v ...`) as dicts, in order."""
        out = []
        for line in self.journal(since).splitlines():
            m = re.search(r"rolemirror\[\d+\]: (event=\S+.*)$", line)
            if not m:
                continue
            ev = parse_event(m.group(1))
            if name is None or ev["event"] == name:
                out.append(ev)
        return out

    def wait_event_line(self, match, since, timeout):
        """Waits for a journal line for which `match(line)` is true, after offset `since`."""
        deadline = time.time() + timeout
        while True:
            for line in self.journal(since).splitlines():
                if match(line):
                    return line
            if time.time() > deadline:
                raise GuestError(f"no such journal line within {timeout} s")
            time.sleep(0.3)

    def wait_event(self, name, since, timeout, where=None, fail_on=()):
        """Waits for an event (and optionally a condition on it) after offset `since`."""
        deadline = time.time() + timeout
        while True:
            for ev in self.events(since):
                if ev["event"] in fail_on:
                    raise GuestError(f"waiting for {name}: got {ev}")
                if ev["event"] == name and (where is None or where(ev)):
                    return ev
            if time.time() > deadline:
                raise GuestError(f"no event={name} within {timeout} s")
            if self.proc is not None and self.proc.poll() is not None:
                raise GuestError(f"the VM stopped while waiting for event={name}")
            time.sleep(0.3)

    # --- screen and USB --------------------------------------------------------------------

    def screendump(self, path):
        self.qmp.cmd("screendump", filename=path, format="png")
        return path

    def usb_plug(self, name, image, readonly=False):
        node = f"stick-{name}"
        self.qmp.cmd("blockdev-add", **{"node-name": node, "driver": "raw", "read-only": readonly,
                                        "file": {"driver": "file", "filename": image, "cache": {"direct": False}}})
        self.qmp.cmd("device_add", driver="usb-storage", id=f"usb-{name}", drive=node, bus="xhci.0", removable=True)
        self.usb[name] = node

    def usb_unplug(self, name, timeout=30):
        self.qmp.cmd("device_del", id=f"usb-{name}")
        deadline = time.time() + timeout
        while time.time() < deadline:
            devs = self.qmp.cmd("qom-list", path="/machine/peripheral")
            if not any(d["name"] == f"usb-{name}" for d in devs):
                break
            time.sleep(0.3)
        node = self.usb.pop(name, f"stick-{name}")
        for _ in range(20):
            try:
                self.qmp.cmd("blockdev-del", **{"node-name": node})
                return
            except GuestError:
                time.sleep(0.3)


    # --- keyboard and touch (QMP input-send-event; needs a boot with inputs=True) ----------

    def _input(self, events):
        # No `device`: that argument names a display console, not an input device. Key events go
        # to the active keyboard (the guest sees them from the USB keyboard or the PS/2 one, both
        # evdev keyboards), absolute pointer events to the only absolute device, the tablet.
        if not self.inputs:
            raise GuestError("no input devices on this boot: start the VM with inputs=True")
        self.qmp.cmd("input-send-event", events=events)

    def key(self, qcode, hold=0.05):
        """A key pressed and released on the USB keyboard; `qcode` is QEMU's name ("ret", "spc",
        "a", "f1", ...: `qemu-system-x86_64 -device help` does not list them; see QEMU's QKeyCode)."""
        ev = lambda down: {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": qcode}}}
        self._input([ev(True)])
        time.sleep(hold)
        self._input([ev(False)])

    def touch(self, x, y, hold=0.1):
        """A tap on the USB tablet at screen pixel (x, y) of this boot's display: move, press,
        release (an absolute pointer: what a USB touch screen looks like to evdev, EV_ABS)."""
        ax = lambda axis, v, size: {"type": "abs", "data": {"axis": axis, "value": round(v * ABS_MAX / max(1, size - 1))}}
        btn = lambda down: {"type": "btn", "data": {"down": down, "button": "left"}}
        self._input([ax("x", x, self.display.width), ax("y", y, self.display.height)])
        self._input([btn(True)])
        time.sleep(hold)
        self._input([btn(False)])


def parse_event(text):
    """`event=NAME k=v k="a b"` -> {"event": NAME, k: v, ...}"""
    out = {}
    for m in re.finditer(r'(\w+)=("((?:[^"\\]|\\.)*)"|\S*)', text):
        key, raw, quoted = m.group(1), m.group(2), m.group(3)
        out[key] = quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted is not None else raw
    return out


def copy_into(src, dst):
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)
