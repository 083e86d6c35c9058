#!/usr/bin/env python3
"""Generates the golden JPEG test corpus for transforms/jpeg.

Run from this directory with Debian bookworm's /usr/bin/python3 (Pillow 9.4 on
libjpeg62-turbo 2.1.5) and libjpeg-turbo-progs (cjpeg, jpegtran):

    apt-get install -y python3-pil python3-numpy libjpeg-turbo-progs
    /usr/bin/python3 gen_goldens.py

For every case it writes golden/<name>.jpg and, when Pillow decodes it,
golden/<name>.pix.gz = gzip(np.asarray(Image.open(jpg)).tobytes()); when Pillow
raises, the case is recorded as an expected error. manifest.json lists
name, width, height, mode, orientation (EXIF 0x0112 or 0) and pillow_error.
Deterministic: seeded RNG, fixed gzip mtime, sorted manifest.
"""
import gzip
import io
import json
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image

OUT = "golden"
rng = np.random.default_rng(1234)


def photo(w, h, noise=12.0, seed=0):
    """Photo-like RGB: smooth gradients, sinusoids, hard edges, noise."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([
        128 + 100 * np.sin(x / 9.0 + y / 23.0),
        128 + 90 * np.cos(y / 7.0) * np.sin(x / 31.0),
        (x + y) / max(1, w + h - 2) * 255,
    ], -1)
    base[(x > w * 0.6) & (y < h * 0.4)] = [250, 20, 30]  # a saturated block with sharp edges
    base[((x - w / 3) ** 2 + (y - h / 2) ** 2) < (min(w, h) / 5) ** 2] = [10, 240, 250]
    img = base + r.normal(0, noise, base.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def save_pil(img, **kw):
    b = io.BytesIO()
    img.save(b, format="JPEG", **kw)
    return b.getvalue()


def cjpeg(img, *args):
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "in.ppm" if img.mode == "RGB" else "in.pgm")
        img.save(src)
        return subprocess.run(["cjpeg", *args, src], check=True, capture_output=True).stdout


def jpegtran(data, *args):
    return subprocess.run(["jpegtran", *args], input=data, check=True, capture_output=True).stdout


def strip_app0(data):
    """Removes JFIF APP0 segments."""
    out, i = bytearray(data[:2]), 2
    while i < len(data):
        if data[i] != 0xFF:
            break
        m = data[i + 1]
        if m == 0xDA:
            out += data[i:]
            return bytes(out)
        n = (data[i + 2] << 8) | data[i + 3]
        if m != 0xE0:
            out += data[i:i + 2 + n]
        i += 2 + n
    return bytes(out)


def set_component_ids(data, ids):
    i = 2
    while i < len(data):
        m = data[i + 1]
        n = (data[i + 2] << 8) | data[i + 3]
        if m in (0xC0, 0xC1, 0xC2):
            b = bytearray(data)
            for k, cid in enumerate(ids):
                b[i + 10 + 3 * k] = cid
            # also patch SOS selectors
            j = i + 2 + n
            while j < len(b):
                if b[j] == 0xFF and b[j + 1] == 0xDA:
                    ns = b[j + 4]
                    for k in range(ns):
                        old = b[j + 5 + 2 * k]
                        b[j + 5 + 2 * k] = ids[old - 1] if 1 <= old <= len(ids) else old
                    j += 2 + ((b[j + 2] << 8) | b[j + 3])
                else:
                    j += 1
            return bytes(b)
        i += 2 + n
    raise ValueError("no SOF")


def add_adobe(data, transform):
    seg = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00" + bytes([transform])
    return data[:2] + seg + data[2:]


def set_adobe_transform(data, transform):
    i = data.index(b"\xff\xeeAdobe"[0:2] + b"\x00\x0eAdobe")
    b = bytearray(data)
    b[i + 15] = transform
    return bytes(b)


def scan_start(data):
    i = data.index(b"\xff\xda")
    return i + 2 + ((data[i + 2] << 8) | data[i + 3])


cases = {}


def add(name, data):
    assert name not in cases, name
    cases[name] = data


# --- subsampling x size x quality matrix (Pillow encoder) ---
sizes = [(1, 1), (2, 3), (7, 5), (17, 9), (33, 31), (64, 48), (50, 66)]
for sub, sname in [(0, "444"), (1, "422"), (2, "420")]:
    for (w, h) in sizes:
        add(f"pil_{sname}_{w}x{h}_q90", save_pil(photo(w, h, seed=w * 100 + h), quality=90, subsampling=sub))
for q in [1, 10, 50, 75, 95, 100]:
    add(f"pil_420_40x30_q{q}", save_pil(photo(40, 30, noise=25, seed=q), quality=q, subsampling=2))
    add(f"pil_444_24x24_q{q}", save_pil(photo(24, 24, noise=25, seed=q + 7), quality=q, subsampling=0))

# photo-like larger image, 4:2:0 q90 and progressive
big = photo(160, 120, noise=10, seed=99)
add("photo_160x120_420_q90", save_pil(big, quality=90, subsampling=2))
add("photo_160x120_420_q90_progressive", save_pil(big, quality=90, subsampling=2, progressive=True))
add("photo_160x120_444_q75_optimize", save_pil(big, quality=75, subsampling=0, optimize=True))

# grayscale
for (w, h) in [(1, 1), (9, 7), (40, 33)]:
    g = photo(w, h, seed=w).convert("L")
    add(f"gray_{w}x{h}_q85", save_pil(g, quality=85))
add("gray_40x33_progressive", save_pil(photo(40, 33, seed=5).convert("L"), quality=80, progressive=True))

# flat / DC-only blocks, and extremes
add("flat_gray_16x16", save_pil(Image.new("RGB", (16, 16), (128, 128, 128)), quality=90))
add("flat_color_24x16_420", save_pil(Image.new("RGB", (24, 16), (200, 30, 90)), quality=50, subsampling=2))
cb = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
add("checker_32x32_q1", save_pil(Image.fromarray(np.stack([cb] * 3, -1)), quality=1, subsampling=2))
add("checker_32x32_q100_444", save_pil(Image.fromarray(np.stack([cb, 255 - cb, cb], -1)), quality=100, subsampling=0))
# huge quantizers (16-bit DQT) provoke IDCT overflow and saturation paths
add("qtable_huge_32x32", save_pil(photo(32, 32, noise=40, seed=3), qtables=[[32767] * 64, [20000] * 64], subsampling=0))
add("qtable_mixed_32x32", save_pil(photo(32, 32, noise=60, seed=4), qtables=[[1] + [900] * 63, [5000] * 64], subsampling=2))

# progressive variants
for sub, sname in [(0, "444"), (1, "422"), (2, "420")]:
    add(f"prog_{sname}_37x29", save_pil(photo(37, 29, seed=11), quality=85, subsampling=sub, progressive=True))

# CMYK (Pillow writes Adobe APP14 transform 0) and YCCK (transform patched to 2)
cmyk = Image.fromarray(np.clip(np.stack([np.asarray(photo(30, 22, seed=21))[..., 0],
                                         np.asarray(photo(30, 22, seed=22))[..., 1],
                                         np.asarray(photo(30, 22, seed=23))[..., 2],
                                         np.asarray(photo(30, 22, seed=24))[..., 0] // 2], -1), 0, 255).astype(np.uint8), "CMYK")
cm = save_pil(cmyk, quality=90)
add("cmyk_30x22", cm)
add("ycck_30x22", set_adobe_transform(cm, 2))
add("cmyk_30x22_progressive", save_pil(cmyk, quality=90, progressive=True))

# libjpeg-turbo's cjpeg: other samplings, restarts, RGB, scripts
src = photo(45, 35, seed=31)
add("cjpeg_440_45x35", cjpeg(src, "-sample", "1x2,1x1,1x1", "-quality", "88"))
add("cjpeg_411_45x35", cjpeg(src, "-sample", "4x1,1x1,1x1", "-quality", "88"))
add("cjpeg_h2v2_chroma_h1v2_45x35", cjpeg(src, "-sample", "2x2,1x2,2x1", "-quality", "88"))
add("cjpeg_421mix_45x35", cjpeg(src, "-sample", "2x1,1x1,2x1", "-quality", "80"))
add("cjpeg_restart1_420", cjpeg(src, "-restart", "1B", "-quality", "90"))
add("cjpeg_restart3_444", cjpeg(src, "-restart", "3B", "-sample", "1x1", "-quality", "90"))
add("cjpeg_restart_rows_prog", cjpeg(src, "-restart", "1", "-progressive", "-quality", "90"))
add("cjpeg_rgb_45x35", cjpeg(src, "-rgb", "-quality", "90"))
add("cjpeg_gray_restart", cjpeg(src.convert("L"), "-restart", "2B", "-quality", "70"))
add("cjpeg_440_progressive", cjpeg(src, "-sample", "1x2,1x1,1x1", "-progressive"))
add("transposed_422_to_440", jpegtran(save_pil(photo(48, 40, seed=41), quality=85, subsampling=1), "-transpose"))
# non-interleaved sequential scans (multi-scan baseline) via a scan script
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    f.write("0;\n1;\n2;\n")
    seqscript = f.name
add("cjpeg_multiscan_sequential", cjpeg(src, "-scans", seqscript, "-quality", "85"))
# component ids 'R','G','B' without JFIF/Adobe -> libjpeg treats as RGB
rgbids = set_component_ids(strip_app0(save_pil(photo(20, 12, seed=51), quality=90, subsampling=0)), [82, 71, 66])
add("ids_RGB_noJFIF", rgbids)
add("adobe_rgb_transform0", add_adobe(strip_app0(save_pil(photo(20, 12, seed=52), quality=90, subsampling=0)), 0))

# EXIF orientation
ex = Image.Exif()
ex[0x0112] = 6
add("exif_orientation6", save_pil(photo(20, 10, seed=61), quality=80, exif=ex.tobytes()))

# corrupt-but-decodable: Pillow (libjpeg warnings only) returns an image
base = save_pil(photo(64, 48, seed=71), quality=90, subsampling=2)
s0 = scan_start(base)
add("corrupt_cut_then_eoi", base[: s0 + (len(base) - s0) // 2] + b"\xff\xd9")
flip = bytearray(base)
for k in range(5):
    p = s0 + 40 + k * 97
    flip[p] = (flip[p] ^ 0x5A) if flip[p] not in (0xFF,) and (flip[p] ^ 0x5A) != 0xFF else flip[p]
add("corrupt_bitflips", bytes(flip))
rst = bytearray(cjpeg(src, "-restart", "1B", "-quality", "90"))
idx = [i for i in range(scan_start(bytes(rst)), len(rst) - 1) if rst[i] == 0xFF and 0xD0 <= rst[i + 1] <= 0xD7]
rst[idx[3] + 1] = 0xD0 + ((rst[idx[3] + 1] - 0xD0 + 3) & 7)  # wrong restart number -> resync
add("corrupt_restart_number", bytes(rst))
add("no_eoi", base[:-2])

# errors Pillow raises
add("err_truncated_half", base[: s0 + (len(base) - s0) // 2])
add("err_truncated_header", base[:100])
prog = save_pil(photo(40, 30, seed=81), quality=85, progressive=True)
add("err_progressive_truncated", prog[: len(prog) * 2 // 3])
add("err_arithmetic", cjpeg(src, "-arithmetic"))

os.makedirs(OUT, exist_ok=True)
manifest = []
for name in sorted(cases):
    data = cases[name]
    with open(os.path.join(OUT, name + ".jpg"), "wb") as f:
        f.write(data)
    entry = {"name": name}
    try:
        im = Image.open(io.BytesIO(data))
        arr = np.asarray(im)
        entry.update(width=im.width, height=im.height, mode=im.mode,
                      orientation=int(im.getexif().get(0x0112, 0)), pillow_error="")
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as g:
            g.write(arr.tobytes())
        with open(os.path.join(OUT, name + ".pix.gz"), "wb") as f:
            f.write(buf.getvalue())
    except Exception as e:  # noqa: BLE001 - recorded as the expected outcome
        entry.update(width=0, height=0, mode="", orientation=0, pillow_error=f"{type(e).__name__}: {e}")
    manifest.append(entry)
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
    f.write("\n")
print(len(manifest), "cases")
