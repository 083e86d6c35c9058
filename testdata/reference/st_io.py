"""Minimal, numpy-only safetensors reader/writer (no `safetensors` package needed).

File format (https://github.com/huggingface/safetensors):
    bytes 0..8   : N, unsigned little-endian 64-bit = length of the JSON header
    bytes 8..8+N : UTF-8 JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]}, ...,
                   optional "__metadata__": {str: str}}
    rest         : the data buffer; data_offsets are relative to its start; tensors are
                   little-endian, C-contiguous (row-major).

The writer here is deterministic and reproduces the reference (Rust) writer byte for byte:
tensors ordered by dtype rank descending (I64, F64, F32, ... as in its Dtype enum) then by
name in byte order, data contiguous in that order, compact JSON with "__metadata__" first,
fields in the order dtype/shape/data_offsets, header padded with ASCII spaces to a multiple
of 8 bytes (so the data buffer starts 8-byte aligned).
"""
import json
import os
import struct

import numpy as np

# safetensors dtype string -> numpy dtype (little endian)
_ST2NP = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NP2ST = {v: k for k, v in _ST2NP.items()}


def _np_to_st_dtype(a):
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    for st, nd in _ST2NP.items():
        if nd == dt:
            return st
    raise TypeError("unsupported dtype for safetensors writer: %s" % a.dtype)


# dtype ranks of the reference (Rust) writer's Dtype enum: data is laid out by rank
# descending (I64 before F64 before F32 ...), then by name (byte order)
_RANK = {"BOOL": 0, "U8": 1, "I8": 2, "I16": 5, "F16": 7, "BF16": 8, "I32": 9, "F32": 11,
         "F64": 12, "I64": 13}


def _json_str(s):
    """Quote like serde_json: escape only '"', '\\' and control characters; UTF-8 passes."""
    out = ['"']
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    for ch in s:
        if ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def save_file(tensors, path, metadata=None):
    """Write {name: np.ndarray} to `path`, byte-identical to the reference safetensors writer
    (and glmflow's tensors/safetensors.Write): tensors ordered by dtype rank descending then
    name, compact header with "__metadata__" first (sorted keys) and per-tensor fields in the
    order dtype, shape, data_offsets, padded with spaces to a multiple of 8 bytes."""
    items = []
    for name, a in tensors.items():
        a = np.asarray(a)
        st = _np_to_st_dtype(a)
        b = np.ascontiguousarray(a.astype(_ST2NP[st], copy=False)).tobytes(order="C")
        items.append((name, st, [int(x) for x in a.shape], b))
    items.sort(key=lambda it: (-_RANK[it[1]], it[0].encode("utf-8")))
    parts = []
    if metadata:
        parts.append(_json_str("__metadata__") + ":{" + ",".join(
            _json_str(str(k)) + ":" + _json_str(str(metadata[k])) for k in sorted(metadata, key=lambda k: str(k).encode("utf-8"))) + "}")
    off = 0
    for name, st, shape, b in items:
        parts.append('%s:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}'
                     % (_json_str(name), st, ",".join(str(x) for x in shape), off, off + len(b)))
        off += len(b)
    hj = ("{" + ",".join(parts) + "}").encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for it in items:
            f.write(it[3])
    os.replace(tmp, path)


def _bf16_to_f32(raw_u16):
    return (raw_u16.astype(np.uint32) << 16).view(np.float32)


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n).decode("utf-8")), 8 + n


def load_file(path, upcast_bf16=True):
    """Read a safetensors file into {name: np.ndarray}. BF16 is returned as float32
    (exact) when upcast_bf16, else as raw uint16."""
    header, data_start = read_header(path)
    with open(path, "rb") as f:
        f.seek(data_start)
        buf = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        dt = info["dtype"]
        if dt == "BF16":
            raw = np.frombuffer(buf, dtype="<u2", count=(e - b) // 2, offset=b)
            a = _bf16_to_f32(raw) if upcast_bf16 else raw.copy()
        elif dt in _ST2NP:
            nd = _ST2NP[dt]
            a = np.frombuffer(buf, dtype=nd, count=(e - b) // nd.itemsize, offset=b).copy()
        else:
            raise TypeError("unsupported safetensors dtype %s (%s)" % (dt, name))
        out[name] = a.reshape(shape)
    return out


def load_model_dir(model_dir):
    """Load an HF model directory: config.json plus model.safetensors, or a sharded
    checkpoint described by model.safetensors.index.json (weight_map). Returns (config, tensors)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        for shard in sorted(set(wm.values())):
            part = load_file(os.path.join(model_dir, shard))
            for k, v in part.items():
                if wm.get(k) != shard:
                    raise ValueError("tensor %s found in %s but index says %s" % (k, shard, wm.get(k)))
                tensors[k] = v
        missing = set(wm) - set(tensors)
        if missing:
            raise ValueError("index lists tensors not present in shards: %s" % sorted(missing)[:5])
    else:
        tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    return config, tensors
