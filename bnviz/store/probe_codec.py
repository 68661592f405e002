"""Compact, exact storage of probes: the shape once per run, the numbers once per epoch.

Every probe of a run has the same keys, layer names and kinds, and its histogram edges
change rarely (only when values outgrow them); mostly only the numbers change. Plain zlib
JSON spends most of its bytes on that repeated shape, so a probe is split into a
*skeleton* (the JSON with each number replaced by a marker, and `edges` kept as they are:
a run has few distinct ones) and its numbers: integers as byte-shuffled fixed-width
binary, floats as JSON text, each zlib-compressed. Skeletons are stored once (deduplicated
by hash). Decoding is exact: `json.dumps` of the decoded probe equals that of the original;
anything the split cannot reproduce exactly is stored as plain zlib JSON instead.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from typing import Any

import numpy as np

PLAIN, SPLIT = b"Z", b"S"
_INT, _FLOAT = "\x00i", "\x00f"
_KEEP = frozenset({"edges"})
_MARK = re.compile(r'"\\u0000([if])"')
_DTYPES = {b"H": "<u2", b"I": "<u4", b"Q": "<u8"}


class _Unsplittable(Exception):
    pass


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _skeleton(node: Any, ints: list[int], floats: list[float]) -> Any:
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        ints.append(node)
        return _INT
    if isinstance(node, float):
        floats.append(node)
        return _FLOAT
    if isinstance(node, str):
        if "\x00" in node:
            raise _Unsplittable
        return node
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not isinstance(key, str) or "\x00" in key:
                raise _Unsplittable
            out[key] = value if key in _KEEP and _plain_json(value) else _skeleton(value, ints, floats)
        return out
    if isinstance(node, (list, tuple)):
        kinds = set(map(type, node))
        if kinds == {int}:  # fast path: histogram counts
            ints.extend(node)
            return [_INT] * len(node)
        if kinds == {float}:
            floats.extend(node)
            return [_FLOAT] * len(node)
        return [_skeleton(v, ints, floats) for v in node]
    raise _Unsplittable


def _plain_json(value: Any) -> bool:
    """Kept subtrees must not contain markers' raw material (NUL in strings)."""
    if isinstance(value, list) and all(type(v) in (int, float) for v in value):
        return True
    return "\\u0000" not in _dumps(value)


def _pack_ints(ints: list[int]) -> tuple[bytes, bytes]:
    """Zigzag (small negatives stay small), narrowest width, byte planes: compresses ~2x better than text."""
    signed = np.asarray(ints, dtype=np.int64)  # OverflowError beyond 64 bits: stored plain
    zigzag = ((signed << 1) ^ (signed >> 63)).view(np.uint64)
    top = int(zigzag.max()) if len(ints) else 0
    code = b"H" if top < 2**16 else b"I" if top < 2**32 else b"Q"
    typed = zigzag.astype(_DTYPES[code])
    shuffled = typed.view(np.uint8).reshape(-1, typed.itemsize).T.tobytes()
    return code, zlib.compress(shuffled, 9)


def _unpack_ints(code: bytes, data: bytes) -> np.ndarray:
    dtype = np.dtype(_DTYPES[code])
    planes = np.frombuffer(zlib.decompress(data), dtype=np.uint8)
    zigzag = planes.reshape(dtype.itemsize, -1).T.copy().view(dtype).reshape(-1).astype(np.uint64)
    return (zigzag >> np.uint64(1)).astype(np.int64) ^ -(zigzag & np.uint64(1)).astype(np.int64)


def split(probe: dict[str, Any]) -> tuple[str | None, bytes]:
    """(skeleton text or None, packed bytes). None means the bytes are plain zlib JSON."""
    original = _dumps(probe)
    try:
        ints: list[int] = []
        floats: list[float] = []
        skeleton = _dumps(_skeleton(probe, ints, floats))
        code, int_part = _pack_ints(ints)
        float_part = zlib.compress(_dumps(floats).encode(), 9)
        packed = SPLIT + code + struct.pack("<I", len(int_part)) + int_part + float_part
        if _dumps(join(skeleton, packed)) == original:
            return skeleton, packed
    except (_Unsplittable, ValueError, OverflowError):
        pass
    return None, PLAIN + zlib.compress(original.encode(), 9)


def skeleton_hash(skeleton: str) -> str:
    return hashlib.sha256(skeleton.encode()).hexdigest()[:32]


class Template:
    """A parsed skeleton, ready to be filled with numbers many times."""

    def __init__(self, skeleton: str) -> None:
        parts = _MARK.split(skeleton)
        self.segments = parts[0::2]
        kinds = np.array(parts[1::2])
        self.n = len(kinds)
        self.int_at = np.flatnonzero(kinds == "i")
        self.float_at = np.flatnonzero(kinds == "f")

    def fill(self, packed: bytes) -> dict[str, Any]:
        code, size = packed[1:2], struct.unpack("<I", packed[2:6])[0]
        ints = _unpack_ints(code, packed[6:6 + size])
        float_text = zlib.decompress(packed[6 + size:]).decode()[1:-1]
        floats = float_text.split(",") if float_text else []
        if len(ints) != len(self.int_at) or len(floats) != len(self.float_at):
            raise ValueError("a stored probe does not match its skeleton")
        values = np.empty(self.n, dtype=object)
        values[self.int_at] = [str(i) for i in ints.tolist()]
        values[self.float_at] = floats
        pieces: list[str] = [""] * (2 * self.n + 1)
        pieces[0::2] = self.segments
        pieces[1::2] = values.tolist()
        return json.loads("".join(pieces))


def join(skeleton: str | None, packed: bytes, template: Template | None = None) -> dict[str, Any]:
    """Inverse of `split`."""
    if packed[:1] == PLAIN:
        return json.loads(zlib.decompress(packed[1:]))
    if skeleton is None and template is None:
        raise ValueError("a split probe needs its skeleton")
    return (template or Template(skeleton or "")).fill(packed)
