#!/usr/bin/python3
"""Produces goldens.json.gz and the small inputs beside it with Debian bookworm's Pillow 9.4 and
numpy 1.24 (apt-get install python3-pil python3-numpy; run with /usr/bin/python3 from this
directory). The Go tests read only the outputs; they never run Python.

What each part pins down:
  smart_resize  HF Glm4vImageProcessor's smart_resize (copied below from
                transformers/models/glm4v/image_processing_pil_glm4v.py), many sizes.
  resize        PIL Image.resize((w, h), BICUBIC) of resize_src.png (RGB) to many sizes.
  png           PIL Image.open(f).convert("RGB") and the alpha-over-white variant for each
                PNG in png/ (PngSuite) and the generated PNGs.
  norm_lut      HF rescale (float64 x*(1/255) -> float32) then normalize (float32, CLIP).
  pixel_values  the whole HF PIL-backend path on pv_src.png: sha256 of float32 pixel_values.
  jpeg          PIL's decoded RGB of small JPEGs (RGB 4:2:0, gray, Adobe CMYK).
  transpose     ImageOps.exif_transpose for orientations 1..8 of a 4x3 image.
"""
import base64, gzip, hashlib, io, json, math, os, struct, zlib
import numpy as np
from PIL import Image, ImageOps

assert Image.__version__ == "9.4.0", Image.__version__
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def smart_resize(num_frames, height, width, temporal_factor=2, factor=28, min_pixels=112 * 112,
                 max_pixels=14 * 14 * 2 * 2 * 2 * 6144):
    if num_frames < temporal_factor:
        raise ValueError("t")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height = int(height * scale)
        width = int(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise ValueError("aspect")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    t_bar = round(num_frames / temporal_factor) * temporal_factor
    if t_bar * h_bar * w_bar > max_pixels:
        beta = math.sqrt((num_frames * height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (num_frames * height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def rgb_of(im):
    return np.asarray(im.convert("RGB"))


def composite_of(im):
    if im.mode == "RGB":
        return np.asarray(im)
    rgba = im.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255))
    return np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))


def synth(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([128 + 120 * np.sin(x / 5.0), 128 + 120 * np.cos(y / 3.0), (x + y) / (w + h) * 255], -1)
    img = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    img[h // 3: h // 3 + 3, :, :] = 255  # hard edges: overshoot and clipping in the filter
    img[:, w // 2: w // 2 + 2, :] = 0
    return img


def png_chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


def main():
    out = {}
    # smart_resize
    rng = np.random.default_rng(1)
    sizes = [(1, 1), (1, 28), (27, 27), (10, 2000), (5, 1000), (14, 14), (28, 28), (42, 42), (70, 70),
             (98, 126), (1000, 1000), (1080, 1920), (3024, 4032), (4000, 6000), (8000, 8000), (20000, 100),
             (20000, 99), (100, 20001), (56, 11200), (56, 11201), (2, 400), (2, 401), (333, 777), (224, 224)]
    sizes += [tuple(int(v) for v in rng.integers(1, 5000, 2)) for _ in range(200)]
    budgets = [(112 * 112, 14 * 14 * 2 * 2 * 2 * 6144), (56 * 56, 28 * 28 * 1280), (112 * 112, 28 * 28 * 15000),
               (3136, 401408)]
    sr = []
    for (h, w) in sizes:
        for (mn, mx) in budgets:
            try:
                rh, rw = smart_resize(2, h, w, min_pixels=mn, max_pixels=mx)
                sr.append([h, w, mn, mx, rh, rw])
            except ValueError:
                sr.append([h, w, mn, mx, -1, -1])
    out["smart_resize"] = sr

    # resize
    src = synth(83, 57, 2)
    Image.fromarray(src).save("resize_src.png")
    im = Image.open("resize_src.png").convert("RGB")
    cases = []
    for (w, h) in [(83, 57), (28, 28), (56, 28), (84, 112), (166, 57), (83, 100), (41, 29), (7, 5), (1, 1),
                   (300, 11), (82, 56), (84, 56), (120, 45), (13, 200)]:
        r = np.asarray(im.resize((w, h), Image.BICUBIC))
        cases.append({"w": w, "h": h, "rgb": b64(r)})
    out["resize"] = {"src": "resize_src.png", "cases": cases}

    # extra PNGs: palette with indices past PLTE, 16-bit gray with small values, gray+alpha
    raw = b"".join(b"\x00" + bytes([0b00011011, 0b11100100]) for _ in range(4))  # 8x4, 2-bit
    pal = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 4, 2, 3, 0, 0, 0)) + \
        png_chunk(b"PLTE", bytes([200, 10, 20, 30, 40, 250])) + png_chunk(b"IDAT", zlib.compress(raw)) + \
        png_chunk(b"IEND", b"")
    open("png/gen_palette_short.png", "wb").write(pal)
    g16 = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 7).astype(">u2")
    raw = b"".join(b"\x00" + g16[y].tobytes() for y in range(8))
    open("png/gen_gray16_small.png", "wb").write(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 16, 0, 0, 0, 0)) +
        png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    la = np.stack([synth(9, 7, 3)[..., 0], np.arange(63, dtype=np.uint8).reshape(7, 9) * 4], -1)
    Image.fromarray(la, "LA").save("png/gen_la.png")
    rgba = np.concatenate([synth(9, 7, 4), (np.arange(63, dtype=np.uint8).reshape(7, 9, 1) * 4)], -1)
    Image.fromarray(rgba, "RGBA").save("png/gen_rgba.png")
    Image.fromarray(synth(12, 10, 5)).save("gen.gif")  # quantised to a palette by PIL
    Image.fromarray(synth(12, 10, 6)).save("gen.bmp")
    Image.fromarray(rgba, "RGBA").save("gen_lossless.webp", lossless=True)

    pngs = {}
    for name in sorted(os.listdir("png")) + ["../gen.gif", "../gen.bmp", "../gen_lossless.webp"]:
        if not name.endswith((".png", ".gif", ".bmp", ".webp")):
            continue
        try:
            im = Image.open(os.path.join("png", name))
            im.load()
        except Exception as e:  # noqa: BLE001
            pngs[name] = {"error": type(e).__name__}
            continue
        pngs[name] = {"mode": im.mode, "w": im.width, "h": im.height, "rgb": sha(rgb_of(im)),
                      "composite": sha(composite_of(im))}
    out["png"] = pngs

    # normalisation table, exactly HF's numpy ops
    x = np.arange(256, dtype=np.uint8)
    resc = (x.astype(np.float64) * (1 / 255)).astype(np.float32)
    lut = [((resc - np.float32(MEAN[c])) / np.float32(STD[c])).astype(np.float32) for c in range(3)]
    out["norm_lut"] = [b64(l) for l in lut]

    # whole HF PIL-backend path on one PNG
    Image.fromarray(synth(61, 47, 7)).save("pv_src.png")
    im = Image.open("pv_src.png").convert("RGB")
    a = np.array(im).transpose(2, 0, 1)  # CHW uint8
    rh, rw = smart_resize(2, a.shape[1], a.shape[2])
    r = np.asarray(im.resize((rw, rh), Image.BICUBIC)).transpose(2, 0, 1)
    f = (r.astype(np.float64) * (1 / 255)).astype(np.float32)
    f = ((f.T - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)).T
    arr = np.expand_dims(np.expand_dims(np.asarray(f, dtype=np.float32), 0), 1)  # B, T=1, C, H, W
    arr = np.concatenate([arr, np.repeat(arr[:, -1:], 1, axis=1)], axis=1)
    gh, gw = rh // 14, rw // 14
    p = arr.reshape(1, 1, 2, 3, gh // 2, 2, 14, gw // 2, 2, 14).transpose(0, 1, 4, 7, 5, 8, 3, 2, 6, 9)
    pv = np.ascontiguousarray(p.reshape(gh * gw, 1176)).astype("<f4")
    out["pixel_values"] = {"src": "pv_src.png", "grid": [1, gh, gw], "sha256": sha(pv),
                           "row5": b64(pv[5])}

    # JPEG decodes (PIL = libjpeg-turbo 2.1.5, default fancy upsampling, islow IDCT)
    jp = {}
    for name, arr2, mode, kw in [("rgb420.jpg", synth(40, 30, 8), "RGB", {"quality": 90}),
                                 ("gray.jpg", synth(33, 21, 9)[..., 1], "L", {"quality": 85}),
                                 ("cmyk.jpg", np.concatenate([synth(24, 16, 10), synth(24, 16, 11)[..., :1]], -1),
                                  "CMYK", {"quality": 92})]:
        Image.fromarray(arr2, mode).save(name, **kw)
        im = Image.open(name)
        jp[name] = {"mode": im.mode, "w": im.width, "h": im.height, "rgb": b64(rgb_of(im))}
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(synth(20, 12, 12)).save("orient6.jpg", quality=95, exif=exif.tobytes())
    im = Image.open("orient6.jpg")
    t = ImageOps.exif_transpose(im)
    jp["orient6.jpg"] = {"mode": im.mode, "w": im.width, "h": im.height, "rgb": b64(rgb_of(im)),
                         "transposed_w": t.width, "transposed_h": t.height}
    out["jpeg"] = jp

    # exif_transpose mapping on a lossless image
    base = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(3, 4, 3)
    tr = {}
    for o in range(1, 9):
        im = Image.fromarray(base)
        im.getexif()[0x0112] = o
        t = ImageOps.exif_transpose(im)
        tr[str(o)] = {"w": t.width, "h": t.height, "rgb": b64(np.asarray(t))}
    out["transpose"] = tr

    with gzip.GzipFile("goldens.json.gz", "wb", mtime=0) as g:
        g.write(json.dumps(out, sort_keys=True).encode())


if __name__ == "__main__":
    main()
