#!/usr/bin/python3
"""Independent safetensors implementation (numpy + struct + json only) for interop tests.

1. Writes interop_numpy.safetensors by hand with layout choices different from glmflow's
   writer: no header padding (so data is misaligned), JSON with spaces, keys in reverse
   order, __metadata__ last, tensor data not in dtype-alignment order. Values follow
   formulas that tensors/safetensors/interop_test.go recomputes.
2. Reads go_written.safetensors (written by glmflow, committed) and checks layout and values.

Run from anywhere: /usr/bin/python3 tensors/safetensors/testdata/gen_interop.py
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def bf16_rne(f32):
    """f32 -> bf16 bits, round to nearest even, by comparing the two candidate values in
    float64 (not the integer bias trick glmflow uses). Finite inputs only."""
    out = []
    for x in np.asarray(f32, dtype=np.float32).ravel():
        bits = int(np.float32(x).view(np.uint32))
        lo = bits & 0xFFFF0000
        hi = lo + 0x10000
        vx = float(x)
        vlo = float(np.uint32(lo).view(np.float32))
        vhi = float(np.uint32(hi).view(np.float32))
        dlo, dhi = abs(vx - vlo), abs(vhi - vx)
        if dlo < dhi or (dlo == dhi and (lo >> 16) % 2 == 0):
            out.append(lo >> 16)
        else:
            out.append(hi >> 16)
    return np.array(out, dtype=np.uint16)


def interop_tensors():
    """name -> (dtype, shape, bytes); formulas mirrored in interop_test.go."""
    t = {}
    f32 = np.arange(-7, 8, dtype=np.float32) / np.float32(7)
    t["f32"] = ("F32", [3, 5], f32.astype("<f4").tobytes())
    special = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 1, 0x7F7FFFFF, 0xC0200000], dtype=np.uint32)
    t["f32_special"] = ("F32", [8], special.astype("<u4").tobytes())
    b = np.arange(0, 16, dtype=np.float32) / np.float32(3)
    t["bf16"] = ("BF16", [4, 4], bf16_rne(b).astype("<u2").tobytes())
    h = np.arange(-8, 8, dtype=np.float32) / np.float32(3)
    t["f16"] = ("F16", [2, 8], h.astype(np.float16).astype("<f2").tobytes())
    edge = np.array([65504, 65519, 65520, 6e-8, 2.98e-8, -0.0], dtype=np.float32)
    with np.errstate(over="ignore"):  # 65520 rounds to +Inf, on purpose
        t["f16_edge"] = ("F16", [6], edge.astype(np.float16).astype("<f2").tobytes())
    i64 = np.array([-(2**62), -1, 0, 1, 2**40 + 3, 2**63 - 1], dtype=np.int64)
    t["i64"] = ("I64", [2, 3], i64.astype("<i8").tobytes())
    t["u8"] = ("U8", [256], np.arange(256, dtype=np.uint8).tobytes())
    t["bool"] = ("BOOL", [5], np.array([True, False, False, True, True]).astype(np.uint8).tobytes())
    t["scalar"] = ("F32", [], np.array([42.5], dtype="<f4").tobytes())
    t["empty"] = ("F32", [0, 3], b"")
    return t


def write_interop(path):
    t = interop_tensors()
    data_order = ["u8", "bool", "f16", "f32", "empty", "bf16", "scalar", "i64", "f16_edge", "f32_special"]
    assert sorted(data_order) == sorted(t)
    offs, data, pos = {}, b"", 0
    for name in data_order:
        raw = t[name][2]
        offs[name] = [pos, pos + len(raw)]
        data += raw
        pos += len(raw)
    parts = []
    for name in sorted(t, reverse=True):
        dt, shape, _ = t[name]
        parts.append(json.dumps(name) + ": " + json.dumps({"dtype": dt, "shape": shape, "data_offsets": offs[name]}))
    parts.append('"__metadata__": ' + json.dumps({"source": "numpy", "format": "np"}))
    header = ("{" + ", ".join(parts) + "}").encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


# Dtype order of the reference writer (increasing alignment); files sort descending, then name.
RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
NP = {"F32": "<f4", "F64": "<f8", "BF16": "<u2", "F16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
      "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "u1", "F8_E4M3": "u1", "F8_E5M2": "u1"}


def go_expected():
    """Values of goldenState() in interop_test.go."""
    a = np.arange(0, 6, dtype=np.float32) - np.float32(3)
    return {
        "a.f32": ("F32", [2, 3], a / np.float32(4)),
        "b.bf16": ("BF16", [4], bf16_rne((np.arange(0, 4, dtype=np.float32) - np.float32(2)) / np.float32(3))),
        "c.f16": ("F16", [3], (np.arange(1, 4, dtype=np.float32) / np.float32(3)).astype(np.float16).view(np.uint16)),
        "d.i64": ("I64", [2], np.array([-5, 1 << 50])),
        "e.u8": ("U8", [3], np.array([0, 128, 255])),
        "f.bool": ("BOOL", [2], np.array([1, 0])),
        "g.f64": ("F64", [2], np.array([1 / 3.0, -2.0])),
        "h.i32": ("I32", [2], np.array([-7, 7])),
        "i.i16": ("I16", [2], np.array([-300, 300])),
        "j.i8": ("I8", [2], np.array([-128, 127])),
        "k.u16": ("U16", [2], np.array([0, 65535])),
        "l.u32": ("U32", [1], np.array([4000000000])),
        "m.u64": ("U64", [1], np.array([2**64 - 1], dtype=np.uint64)),
        "n.f8e4m3": ("F8_E4M3", [2], np.array([0x38, 0x7E])),
        "o.f8e5m2": ("F8_E5M2", [2], np.array([0x3C, 0x7B])),
        "p.scalar": ("F32", [], np.array([3.5])),
        "q.empty": ("F16", [0], np.array([])),
    }


def check_go_written(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header not padded to 8"
    text = raw[8 : 8 + n].decode("utf-8")
    assert text.startswith("{") and text == text.rstrip(" ") + " " * (len(text) - len(text.rstrip(" ")))

    def no_dups(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), "duplicate keys"
        return dict(pairs)

    hdr = json.loads(text, object_pairs_hook=no_dups)
    keys = list(hdr)
    assert keys[0] == "__metadata__", keys
    assert hdr["__metadata__"] == {"format": "pt", "producer": "glmflow"}, hdr["__metadata__"]
    names = keys[1:]
    assert names == sorted(names, key=lambda k: (-RANK.index(hdr[k]["dtype"]), k)), names
    data = raw[8 + n :]
    pos = 0
    for k in names:
        b, e = hdr[k]["data_offsets"]
        assert b == pos and e >= b, (k, b, e, pos)
        pos = e
    assert pos == len(data), "data section size"
    want = go_expected()
    assert sorted(want) == sorted(names), names
    for k, (dt, shape, vals) in want.items():
        info = hdr[k]
        assert info["dtype"] == dt and info["shape"] == shape, (k, info)
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype=NP[dt])
        exp = np.asarray(vals).astype(NP[dt]).ravel()
        assert arr.tobytes() == exp.tobytes(), (k, arr, exp)
        assert (b + 8 + n) % np.dtype(NP[dt]).itemsize == 0, ("misaligned", k)
    print("go_written.safetensors: OK (%d tensors)" % len(names))


if __name__ == "__main__":
    write_interop(os.path.join(HERE, "interop_numpy.safetensors"))
    print("wrote interop_numpy.safetensors")
    go = os.path.join(HERE, "go_written.safetensors")
    if not os.path.exists(go):
        sys.exit("go_written.safetensors missing: run GLMFLOW_UPDATE_TESTDATA=1 go test ./tensors/safetensors first")
    check_go_written(go)
