"""What the host prepares for the guest and checks afterwards: camera frames, USB sticks, screens.

Camera frames: a visitor photo fitted into a 640x480 frame and converted to YUYV (BT.601, limited
range), the format vivid's HDMI loop carries byte for byte from its output node to its capture
node. `decoded()` is that frame as the booth sees it: the booth's own YUYV conversion
(src/camera/v4l.rs, f32 arithmetic, rounding half away from zero) redone with numpy float32, so
a host run of the booth on these PNGs sees the same pixels as the booth in the guest.
"""

import os
import subprocess

import numpy as np
from PIL import Image

W, H = 640, 480


def fit(photo, w=W, h=H, background=(200, 196, 186)):
    """The photo scaled to fit (never cropped), centred on a plain wall."""
    img = Image.open(photo).convert("RGB")
    s = min(w / img.width, h / img.height)
    size = (max(1, round(img.width * s)), max(1, round(img.height * s)))
    img = img.resize(size, Image.LANCZOS)
    frame = Image.new("RGB", (w, h), background)
    frame.paste(img, ((w - size[0]) // 2, (h - size[1]) // 2))
    return np.asarray(frame)


def empty_room(w=W, h=H):
    """The demo's empty room (src/booth/demo.rs): a wall and a floor, no face."""
    a = np.empty((h, w, 3), np.uint8)
    a[:, :] = (200, 196, 186)
    a[h * 2 // 3 + 1:, :] = (120, 100, 80)
    return a


def rgb_to_yuyv(rgb):
    """RGB (h, w, 3) uint8 -> YUYV bytes, BT.601 limited range, chroma averaged per pixel pair."""
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + 0.256788 * r + 0.504129 * g + 0.097906 * b
    u = 128 - 0.148223 * r - 0.290993 * g + 0.439216 * b
    v = 128 + 0.439216 * r - 0.367788 * g - 0.071427 * b
    u = (u[:, 0::2] + u[:, 1::2]) / 2
    v = (v[:, 0::2] + v[:, 1::2]) / 2
    c = lambda a: np.clip(np.rint(a), 0, 255).astype(np.uint8)
    h, w = y.shape
    out = np.empty((h, w // 2, 4), np.uint8)
    out[..., 0] = c(y[:, 0::2])
    out[..., 1] = c(u)
    out[..., 2] = c(y[:, 1::2])
    out[..., 3] = c(v)
    return out.tobytes()


def yuyv_to_rgb(data, w=W, h=H):
    """The booth's conversion (yuyv_to_rgb in src/camera/v4l.rs), in float32 like the Rust code."""
    px = np.frombuffer(data, np.uint8)[: w * h * 2].reshape(h, w // 2, 4).astype(np.float32)
    y0, u, y1, v = px[..., 0], px[..., 1] - np.float32(128), px[..., 2], px[..., 3] - np.float32(128)
    out = np.empty((h, w // 2, 2, 3), np.float32)
    for k, yy in enumerate((y0, y1)):
        c = np.float32(1.164) * (yy - np.float32(16))
        out[:, :, k, 0] = c + np.float32(1.596) * v
        out[:, :, k, 1] = c - np.float32(0.392) * u - np.float32(0.813) * v
        out[:, :, k, 2] = c + np.float32(2.017) * u
    # f32::round: half away from zero (values are clamped to 0..255 after).
    o = out.astype(np.float64)
    o = np.where(o >= 0, np.floor(o + 0.5), np.ceil(o - 0.5))
    return np.clip(o, 0, 255).astype(np.uint8).reshape(h, w, 3)


def write_frame(rgb, yuv_path, png_path=None):
    data = rgb_to_yuyv(rgb)
    with open(yuv_path, "wb") as f:
        f.write(data)
    if png_path:
        Image.fromarray(yuyv_to_rgb(data)).save(png_path)


# --- MJPEG frames as a UVC webcam sends them --------------------------------------------------

# JPEG Annex K.3's DC luminance table (code counts per length 1..16): libjpeg writes the Annex K
# tables unless told to optimise, so the tables stripped from its output are exactly the ones a
# decoder must put back for a UVC frame.
ANNEX_K_DC_LUMA_COUNTS = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def jpeg(rgb, sampling="4:2:2", quality=85):
    """A baseline JPEG of an RGB frame (libjpeg through PIL, Annex K Huffman tables)."""
    import io
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=SUBSAMPLING[sampling], optimize=False, progressive=False)
    return buf.getvalue()


def segments(data):
    """The marker segments before the scan data: [(marker, start, end)] in file order, the last
    one SOS (its end is where the entropy-coded data begins)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI)")
    out, i = [], 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError(f"no marker at byte {i}")
        marker = data[i + 1]
        end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        out.append((marker, i, end))
        if marker == 0xDA:
            return out
        i = end
    raise ValueError("no SOS marker")


def strip_dht(data):
    """The frame without its DHT segments, as UVC MJPEG sends it (the decoder uses Annex K's
    tables). Refuses a JPEG whose tables are not Annex K's: stripping them would change it."""
    segs = segments(data)
    dht = [(s, e) for m, s, e in segs if m == 0xC4]
    if not dht:
        raise ValueError("no DHT segment to strip")
    s, e = dht[0]
    # The first table of the first DHT: class 0 (DC), id 0 (luminance), then its 16 counts.
    if data[s + 4] != 0x00 or data[s + 5:s + 21] != ANNEX_K_DC_LUMA_COUNTS:
        raise ValueError("the JPEG's Huffman tables are not JPEG Annex K's (optimised?)")
    out, last = bytearray(), 0
    for s, e in dht:
        out += data[last:s]
        last = e
    return bytes(out + data[last:])


def with_trailing(data, extra=None):
    """Bytes after the EOI marker, as in a UVC buffer that is larger than the frame: zero
    padding and some stale bytes of an earlier frame."""
    if not data.endswith(b"\xff\xd9"):
        raise ValueError("no EOI at the end")
    return data + (extra if extra is not None else bytes(1024) + data[2:514])


def cut_off(data, keep=0.6):
    """The frame cut off inside its scan data (a frame torn by a USB error): `keep` of the
    entropy-coded bytes, no EOI."""
    start = segments(data)[-1][2]
    cut = start + int((len(data) - start) * keep)
    return data[:cut]


def uvc_frames(rgb):
    """One camera frame in the shapes a UVC webcam's MJPEG arrives in: {kind: bytes}.
    `tidy` (a JPEG file: 4:2:0, tables), `no-dht` (Huffman tables left out), `422` (4:2:2
    sampling, tables left out: the usual UVC frame), `trailing` (the 4:2:2 one with bytes after
    EOI), `cut` (the 4:2:2 one cut off mid-scan). A decoder must decode the first four and drop
    the last."""
    tidy = jpeg(rgb, "4:2:0")
    uvc = strip_dht(jpeg(rgb, "4:2:2"))
    return {"tidy": tidy, "no-dht": strip_dht(tidy), "422": uvc, "trailing": with_trailing(uvc), "cut": cut_off(uvc)}


# --- screens ----------------------------------------------------------------------------------


def pixels(path):
    """A screen's pixels for `compare` (to read a screen compared many times once)."""
    return np.asarray(Image.open(path).convert("RGB"), np.int16)


def compare(a_path, b_path, diff_path=None):
    """Per-pixel comparison of two screens of the same size (paths, or `pixels` of them): (share
    of pixels that differ by more than 8 levels in some channel, mean absolute difference,
    largest difference)."""
    a = a_path if isinstance(a_path, np.ndarray) else pixels(a_path)
    b = b_path if isinstance(b_path, np.ndarray) else pixels(b_path)
    if a.shape != b.shape:
        return 1.0, 255.0, 255
    d = np.abs(a - b)
    differ = (d.max(axis=2) > 8)
    if diff_path is not None and differ.any():
        img = np.zeros(a.shape, np.uint8)
        img[..., 0] = np.where(differ, 255, 0)
        img[..., 1] = (a.mean(axis=2) / 3).astype(np.uint8)
        Image.fromarray(img).save(diff_path)
    return float(differ.mean()), float(d.mean()), int(d.max())


def mean_colour(path, box=None):
    a = np.asarray(Image.open(path).convert("RGB"), np.float64)
    if box:
        x, y, w, h = box
        a = a[y:y + h, x:x + w]
    return tuple(float(v) for v in a.reshape(-1, 3).mean(axis=0))


def differs_from_black(path):
    a = np.asarray(Image.open(path).convert("RGB"))
    return float((a.max(axis=2) > 16).mean())


# --- sticks -----------------------------------------------------------------------------------


PART_OFFSET = 1 << 20


def fat_image(path, size_mb, source=None, label="STICK", partitioned=True):
    """A real FAT32 stick image: an MBR with one FAT32 partition at 1 MiB (how sticks come), or
    `partitioned=False` a "superfloppy" (the filesystem on the whole device, as `mkfs.vfat
    /dev/sdX` leaves it); `source`'s contents copied on with mtools."""
    if os.path.exists(path):
        os.remove(path)
    subprocess.run(["truncate", "-s", f"{size_mb}M", path], check=True)
    spec = ""
    if partitioned:
        # The MBR: one primary partition, type 0x0c (FAT32, LBA), from 1 MiB to the end.
        sectors = size_mb * (1 << 20) // 512 - PART_OFFSET // 512
        entry = bytes([0x00, 0xFE, 0xFF, 0xFF, 0x0C, 0xFE, 0xFF, 0xFF]) + (PART_OFFSET // 512).to_bytes(4, "little") + sectors.to_bytes(4, "little")
        with open(path, "r+b") as f:
            f.seek(0x1BE)
            f.write(entry)
            f.seek(510)
            f.write(b"\x55\xaa")
        blocks = (size_mb * (1 << 20) - PART_OFFSET) // 1024
        subprocess.run(["mkfs.vfat", "-F", "32", "-n", label, "--offset", str(PART_OFFSET // 512), path, str(blocks)], check=True, stdout=subprocess.DEVNULL)
        spec = f"@@{PART_OFFSET}"
    else:
        subprocess.run(["mkfs.vfat", "-F", "32", "-n", label, path], check=True, stdout=subprocess.DEVNULL)
    with open(path + ".mtools", "w") as f:
        f.write(spec)
    if source:
        entries = [os.path.join(source, e) for e in sorted(os.listdir(source))]
        if entries:
            subprocess.run(["mcopy", "-s", "-i", path + spec] + entries + ["::/"], check=True)


def _spec(path):
    try:
        return path + open(path + ".mtools").read()
    except FileNotFoundError:
        return path


def stick_reports(path):
    """The report files on a stick image: {name: text}."""
    r = subprocess.run(["mdir", "-b", "-i", _spec(path), "::/ROLEMIRROR/reports"], capture_output=True, text=True)
    out = {}
    if r.returncode != 0:
        return out
    for line in r.stdout.split():
        name = line.rsplit("/", 1)[-1]
        if not name:
            continue
        t = subprocess.run(["mtype", "-i", _spec(path), f"::/ROLEMIRROR/reports/{name}"], capture_output=True, text=True)
        out[name] = t.stdout
    return out
