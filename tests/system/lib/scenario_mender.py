"""Scenario `mender-modules` (issue 26): Debian's Mender client in standalone mode in the Debian 13
guest, driving the package's update modules and inventory script as installed.

The image has Debian's `mender-client` 3.4 (image.sh); the scenario stops its daemon (standalone
mode) and writes the two files a booth needs (docs/fleet.md, "Set up a booth"). The host writes
the artifacts with `rolemirror bundle create --mender` and `rolemirror mender deb-artifact`
(`mender-artifact`, which .ci/run installs, packs the tampered one). Registered with
default=False: it takes ~11 minutes under TCG (5 power cuts, each a boot), which CI's hour
cannot hold beside the default scenarios; run it by name (`--scenarios mender-modules`).
First passed on 2026-12-07 (635 s).

What it proves, each step on the booth as installed (systemd, the unit's hardening, the booth's
user, the real client):
 1. install + commit of a gallery artifact: the booth reloads onto it, the commit waits for it,
    a visitor only the new gallery has is matched;
 2. a tampered bundle and a foreign-key bundle inside well-formed artifacts: refused by the
    booth's keys, gallery unchanged, no reload;
 3. a failed commit (an ArtifactCommit_Enter state script fails): rolled back, the booth back on
    exactly the previous gallery;
 4. power cuts (SIGKILL of QEMU, >= 5) at stratified points of `mender install`: after the
    reboot the old or the new gallery, complete, no staging; `mender rollback` (or the next
    install) puts the old one back when the install was not finished;
 5. the .deb upgraded through Mender (rolemirror-deb) over an edited config: config kept
    (sha256 equal), gallery and counters kept, the booth READY again (the commit waited for it);
 6. the inventory script's output: the health report's attributes, nothing about the visits.
"""

import json
import os
import random
import re
import shutil
import subprocess
import tarfile
import time

from scenarios import (EXTRA_POOL, FSCK_APPEND, booth_state, check_fsck, gallery_variant, leave, newer_deb,
                       role_model_ids, scenario, visit)
from vm import log


def artifact(ctx, name, gallery_dir, serial, key="booth", scripts=()):
    """`bundle create --mender` on the host into the share (the guest reads /mnt/host/NAME.mender)."""
    out = os.path.join(ctx.share, f"{name}.mender")
    cmd = [ctx.host_bin, "bundle", "create", "--force", "--gallery", gallery_dir, "--key", os.path.join(ctx.keys, f"{key}.key"),
           "--serial", str(serial), "--mender", out]
    for s in scripts:
        cmd += ["--mender-script", s]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"bundle create --mender {name}: {r.stdout}{r.stderr}"
    return f"/mnt/host/{name}.mender"


def tampered_artifact(ctx, name, gallery_dir, serial):
    """A bundle changed after signing (one byte of a photo), packed into a well-formed artifact
    with mender-artifact itself: only the booth's own check can refuse it."""
    work = os.path.join(ctx.out, "bundles", name)
    shutil.rmtree(work, ignore_errors=True)
    r = subprocess.run([ctx.host_bin, "bundle", "create", "--force", "--gallery", gallery_dir, "--key", os.path.join(ctx.keys, "booth.key"),
                        "--serial", str(serial), "--out", work], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    root = os.path.join(work, "ROLEMIRROR")
    photo = next(os.path.join(root, "gallery", f) for f in sorted(os.listdir(os.path.join(root, "gallery"))) if f.endswith((".jpg", ".png")))
    data = bytearray(open(photo, "rb").read())
    data[len(data) // 2] ^= 0x55
    open(photo, "wb").write(data)
    payload = os.path.join(work, "payload", "rolemirror-bundle.tar")
    os.makedirs(os.path.dirname(payload))
    manifest = json.load(open(os.path.join(root, "bundle.json")))
    with tarfile.open(payload, "w", format=tarfile.GNU_FORMAT) as t:
        for rel in ["bundle.json", "bundle.sig"] + [f["path"] for f in manifest["files"]]:
            t.add(os.path.join(root, rel), arcname=f"ROLEMIRROR/{rel}")
    out = os.path.join(ctx.share, f"{name}.mender")
    subprocess.run(["mender-artifact", "write", "module-image", "-T", "rolemirror-bundle", "-t", "rolemirror-booth", "-n", name,
                    "-f", payload, "-o", out], check=True, capture_output=True)
    return f"/mnt/host/{name}.mender"


def mender(ctx, *args, timeout=900):
    """`mender ARGS` in the guest (standalone): (exit code, output)."""
    code, out, err = ctx.vm.exec(["mender", "--no-syslog", *args], timeout=timeout, check=False)
    return code, out + err


def setup_client(ctx):
    """What docs/fleet.md has a booth set up for standalone mode (the daemon off)."""
    ctx.vm.sh("systemctl disable --now mender-client.service 2>/dev/null || true; mkdir -p /data/mender /etc/mender; "
              "echo device_type=rolemirror-booth > /var/lib/mender/device_type; "
              "test -f /etc/mender/artifact_info || echo artifact_name=booth-initial > /etc/mender/artifact_info; "
              "test -f /etc/mender/mender.conf || echo '{}' > /etc/mender/mender.conf; "
              "test -x /usr/share/mender/modules/v3/rolemirror-bundle && test -x /usr/share/mender/inventory/mender-inventory-rolemirror")


def tree_hash(ctx):
    return ctx.vm.sh("cd /var/lib/rolemirror/gallery/ && find . -type f | sort | xargs sha256sum | sha256sum").split()[0]


@scenario(None, "mender-modules", "Debian's Mender client (standalone): gallery artifacts installed, committed, refused, rolled back, power-cut; the .deb through Mender; the inventory",
          default=False)
def s_mender(ctx):
    ctx.ensure_camera()
    vm = ctx.vm
    setup_client(ctx)
    notes = []
    state = booth_state(ctx)
    serial = max(state["installed"], 2999) + 1
    old = {"serial": state["active"], "ids": state["ids"], "hash": tree_hash(ctx)}

    # 1. Install and commit: the booth reloads onto it; a visitor only the new gallery has matches
    # (another photo of the role model its one extra photo shows, as in `usb`).
    extra, visitor = "obama.jpg", "test_obama1.jpg"
    gal = gallery_variant(ctx, f"m{serial}", extra=(extra,))
    art = artifact(ctx, f"m{serial}", gal, serial)
    off = vm.journal_offset()
    t = time.time()
    code, out = mender(ctx, "install", art)
    assert code == 0 and "installed bundle serial" in out, out
    up = ctx.wait_up(off, 600)
    assert up["event"] == "ready" and up["role_models"] == str(len(role_model_ids(gal))), up
    code, out = mender(ctx, "commit")
    assert code == 0 and f"runs bundle serial {serial}" in out, out
    took = time.time() - t
    now = booth_state(ctx)
    assert now["active"] == serial and now["ids"] == role_model_ids(gal), now
    m, secs = visit(ctx, visitor)
    assert m.get("role_model") == f"m{serial}-1", m
    leave(ctx)
    notes.append(f"install+commit {took:.0f} s, {visitor} -> {m.get('role_model')} {secs:.0f} s after its frame")
    old = {"serial": serial, "ids": now["ids"], "hash": tree_hash(ctx)}

    # 2. Tampered and foreign bundles in well-formed artifacts: refused, nothing changes.
    for name, path, why in [
        ("tampered", tampered_artifact(ctx, f"t{serial}", gal, serial + 1), "sha256 mismatch"),
        ("foreign", artifact(ctx, f"f{serial}", gal, serial + 2, key="foreign"), "does not match any trusted key"),
    ]:
        off = vm.journal_offset()
        code, out = mender(ctx, "install", path)
        assert code != 0 and "REFUSED" in out and why in out, f"{name}: {out}"
        st = booth_state(ctx)
        assert st["active"] == old["serial"] and tree_hash(ctx) == old["hash"] and not st["staging"], f"{name}: {st}"
        assert not vm.events(off, "config_reloaded"), f"{name}: the booth reloaded"
        notes.append(f"{name} refused ({why})")

    # 3. A failed commit: rolled back, exactly the gallery before.
    script = os.path.join(ctx.out, "ArtifactCommit_Enter_00")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho 'refused by the system test' >&2\nexit 1\n")
    os.chmod(script, 0o755)
    serial += 3
    gal2 = gallery_variant(ctx, f"m{serial}", extra=(EXTRA_POOL[serial % len(EXTRA_POOL)],))
    code, out = mender(ctx, "install", artifact(ctx, f"m{serial}", gal2, serial, scripts=(script,)))
    assert code == 0, out
    off = vm.journal_offset()
    code, out = mender(ctx, "commit")
    assert code != 0 and "rolled back" in out, out
    up = ctx.wait_up(off, 600)
    st = booth_state(ctx)
    assert up["event"] == "ready" and st["active"] == old["serial"] and tree_hash(ctx) == old["hash"] and st["installed"] == old["serial"], st
    notes.append("failed commit rolled back to the exact gallery")

    # 4. Power cuts during `mender install` (stratified over the measured install time).
    rng = random.Random(int(os.environ.get("ROLEMIRROR_SYSTEM_SEED", "26")))
    n = max(5, ctx.args.power_cuts // 4)
    outcomes, phases = {"old": 0, "new": 0}, {}
    span = took
    for i in range(n):
        serial += 1
        g = gallery_variant(ctx, f"m{serial}", extra=(EXTRA_POOL[serial % len(EXTRA_POOL)],))
        path = artifact(ctx, f"m{serial}", g, serial)
        new = {"serial": serial, "ids": role_model_ids(g)}
        off = vm.journal_offset()
        vm.sh(f"systemd-run --unit=mender-install-{i} --collect mender --no-syslog install {path}")
        delay = (i + rng.random()) / n * span
        time.sleep(delay)
        steps = re.findall(r"rolemirror-bundle: (?:import step: )?(\w[\w ]*)", vm.journal(off))
        phase = steps[-1] if steps else "before the module"
        vm.power_cut()
        phases[phase] = phases.get(phase, 0) + 1
        ctx.boot(FSCK_APPEND)
        up = ctx.wait_up(vm.boot_offset, 600)
        assert up["event"] == "ready", f"cut {i} ({phase}): {up}"
        fsck = check_fsck(ctx)
        assert fsck.strip().splitlines()[-1:] == ["success"], f"cut {i}: fsck {fsck!r}"
        st = booth_state(ctx)
        assert not st["staging"], f"cut {i}: staging left {st}"
        which = "new" if st["active"] == new["serial"] else "old"
        want = new if which == "new" else old
        assert st["active"] == want["serial"] and st["ids"] == want["ids"], f"cut {i} ({phase}): a mix: {st}"
        # Power back: roll back what the client knows of (2: nothing known; then the module's own
        # record, if any, is rolled back by the next install).
        code, out = mender(ctx, "rollback")
        assert code in (0, 2), out
        st = booth_state(ctx)
        if code == 0:
            assert st["active"] == old["serial"] and tree_hash(ctx) == old["hash"], f"cut {i}: after the rollback {st}"
        elif st["active"] == new["serial"] and "mender.json" not in vm.sh("ls /var/lib/rolemirror/gallery.versions"):
            old = {"serial": new["serial"], "ids": new["ids"], "hash": tree_hash(ctx)}
        outcomes[which] += 1
        log(f"mender power cut {i + 1}/{n} after {delay:.1f} s ({phase}): {which} gallery after the reboot; rollback {code}")
    notes.append(f"{n} cuts: old {outcomes['old']}x, new {outcomes['new']}x, never a mix; phases {phases}")

    # 5. The .deb through Mender over an edited config: config, gallery and counters kept.
    vm.sh("echo '# edited on the booth by the system test (mender)' >> /etc/rolemirror/rolemirror.toml")
    conf = vm.sh("sha256sum /etc/rolemirror/rolemirror.toml").split()[0]
    counters = vm.sh("cat /var/lib/rolemirror/counters.json 2>/dev/null || echo '{}'")
    version = newer_deb(ctx)
    art = os.path.join(ctx.share, "rolemirror-newer.mender")
    subprocess.run([ctx.host_bin, "mender", "deb-artifact", os.path.join(ctx.share, "rolemirror-newer.deb"), "--out", art], check=True, capture_output=True)
    before = booth_state(ctx)
    off = vm.journal_offset()
    code, out = mender(ctx, "install", "/mnt/host/rolemirror-newer.mender")
    assert code == 0 and "Committing immediately" in out and f"committed rolemirror {version}" in out, out
    assert vm.sh("dpkg-query -W -f '${Version}' rolemirror").strip() == version
    assert vm.sh("sha256sum /etc/rolemirror/rolemirror.toml").split()[0] == conf, "the edited config was replaced"
    st = booth_state(ctx)
    assert st["active"] == before["active"] and st["ids"] == before["ids"], st
    a, b = json.loads(vm.sh("cat /var/lib/rolemirror/counters.json")), json.loads(counters)
    assert a.get("visitors", 0) >= b.get("visitors", 0), (b, a)
    assert ctx.wait_up(off, 600)["event"] == "ready"
    notes.append(f"deb {version} through Mender: config, gallery v{st['active']}, counters kept")

    # 6. The inventory: the health report's attributes, nothing about the visits.
    inv = vm.sh("sh /usr/share/mender/inventory/mender-inventory-rolemirror")
    attrs = dict(line.split("=", 1) for line in inv.splitlines() if "=" in line)
    assert attrs.get("rolemirror_gallery_serial") == str(booth_state(ctx)["installed"]), inv
    assert attrs.get("rolemirror_daemon") == "running" and "rolemirror_counters" in inv, inv
    shown = {e.get("role_model") for e in vm.events(0, "match")}
    leaked = [r for r in shown if r and r in inv]
    assert not leaked and "similarity" not in inv, f"visit data in the inventory: {leaked}\n{inv}"
    notes.append(f"inventory: {len(attrs)} attributes, no visit data")
    return "; ".join(notes)
