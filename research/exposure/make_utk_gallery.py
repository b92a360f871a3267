"""Writes the relatability protocol's 120 role models as a gallery (padded by 50 px with the
border replicated, as the protocol pads before detecting; gender and group declared from the
UTKFace labels, with consent) and the dev half's large population (every adult face, race 0-3,
not in the gallery) as a folder of links, both under /tmp: research data, never in the repo.
Usage: python3 make_utk_gallery.py [OUT=/tmp/exposure/utk]"""
import os, sys, hashlib
import numpy as np
from PIL import Image

SRC = os.path.join(os.path.dirname(__file__), "../../../shared/data/utk-dev/images")
SRC = os.path.abspath(SRC if os.path.isdir(SRC) else "/work/shared/data/utk-dev/images")
out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/exposure/utk"
RACE = ["white", "black", "asian", "indian"]
names = sorted(os.listdir(SRC))
groups = {}
for n in names:
    try:
        age, g, r = (int(x) for x in n.split("_")[:3])
    except ValueError:
        continue
    if 18 <= age <= 60 and r <= 3:
        groups.setdefault((g, r), []).append(n)
gal, pop = [], []
for key in sorted(groups):
    files = sorted(groups[key], key=lambda n: hashlib.md5(n.encode()).hexdigest())
    gal += [(n, key) for n in files[:15]]
    pop += files[15:]
os.makedirs(f"{out}/gallery", exist_ok=True)
os.makedirs(f"{out}/population", exist_ok=True)
lines = []
for i, (n, (g, r)) in enumerate(gal):
    img = np.asarray(Image.open(f"{SRC}/{n}").convert("RGB"))
    padded = np.pad(img, ((50, 50), (50, 50), (0, 0)), mode="edge")
    Image.fromarray(padded).save(f"{out}/gallery/utk-{i:03d}.png")
    lines += [
        "[[role_model]]", f'id = "utk-{i:03d}"', f'name = "{n}"', 'role = "-"',
        'story_url = "https://example.org/"', f'photos = ["utk-{i:03d}.png"]',
        "[role_model.declared]", "consent = true", f'gender = "{"man" if g == 0 else "woman"}"', f'group = "{RACE[r]}"', "",
    ]
open(f"{out}/gallery/gallery.toml", "w").write("\n".join(lines))
for n in pop:
    dst = f"{out}/population/{n}"
    if not os.path.exists(dst):
        os.symlink(f"{SRC}/{n}", dst)
print(f"{len(gal)} role models in {out}/gallery, {len(pop)} faces in {out}/population")
