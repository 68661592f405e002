"""What one upload may cost the server, checked before anything is unpacked or parsed.

A 1 MB .npz can hold 1 GB of zeros, and a 3 MB .csv 200,000 columns: reading either in full is
how one visitor takes the memory and the time of a server that a whole class shares. So a file's
size, an archive's directory and each array's .npy header (shape and dtype), and a CSV's header
line and line count are read first, in bounded memory, and a file over a limit is refused with
one line that names what was found and the limit (`BNVIZ_MAX_UPLOAD_MB`, `BNVIZ_MAX_UNPACKED_MB`,
`BNVIZ_MAX_ROWS`, `BNVIZ_MAX_COLUMNS`). Every reader of your own files runs these checks: the web
server's preview, the model-summary helper and the worker that trains.

`ParsedCache` keeps parsed files for the Experiment page's reruns, bounded in bytes.
"""

from __future__ import annotations

import math
import struct
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bnviz.data.source import READ_ERRORS, DatasetError, short
from bnviz.data.upload_checks import NPZ_EXPECTED
from bnviz.settings import settings

MB = 1 << 20  # megabytes as Streamlit's server.maxUploadSize counts them
MAX_ARRAYS = 64  # members of an .npz: a layout needs five; a huge directory costs memory to list
CHUNK = 1 << 20  # how much of a CSV is held at once while its lines are counted
FLOAT_BYTES = 8  # a CSV's numbers become float64


@dataclass(frozen=True)
class UploadLimits:
    """The limits one file is read under (part of the parsed-file cache's key)."""

    upload_mb: int
    unpacked_mb: int
    rows: int
    columns: int

    @classmethod
    def current(cls) -> UploadLimits:
        s = settings()
        return cls(s.max_upload_mb, s.max_unpacked_mb, s.max_rows, s.max_columns)


@dataclass(frozen=True)
class ArrayHeader:
    """One array of an .npz, as its .npy header declares it (nothing of it unpacked)."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def words(self) -> str:
        return f"{'×'.join(f'{n:,}' for n in self.shape) or 'a scalar'} {self.dtype}"


def check_size(path: str, limits: UploadLimits) -> int:
    """The file's size in bytes; refused over BNVIZ_MAX_UPLOAD_MB."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({short(exc)})") from None
    check_upload_size(path, size, limits)
    return size


def check_upload_size(name: str, size: int, limits: UploadLimits | None = None) -> None:
    """Refuse `size` bytes over BNVIZ_MAX_UPLOAD_MB (the dashboard checks an upload before storing it)."""
    limits = limits or UploadLimits.current()
    if size > limits.upload_mb * MB:
        raise DatasetError(f"{name} is {_mb(size)}; a file may be at most {limits.upload_mb:,} MB on this server")


# --- npz ------------------------------------------------------------------------------


def check_npz(path: str, limits: UploadLimits, layout: Callable[[str, list[str]], tuple]) -> None:
    """Refuse an .npz whose arrays, once unpacked, break a limit; read only its directory and headers.

    `layout(path, names)` says which arrays are the examples: `bnviz.data.upload_checks.npz_layout`.
    A file that is no zip archive is left to the reader, which says what it is (a single .npy array is
    refused there, after its header here)."""
    check_size(path, limits)
    members = zip_members(path)
    if members is None:
        _check_single_npy(path, limits)
        return
    if members > MAX_ARRAYS:
        raise DatasetError(f"{path} holds {members:,} files; an .npz upload may hold at most {MAX_ARRAYS} arrays")
    headers = npz_headers(path)
    _check_unpacked(path, headers, limits)
    (x_key, _, test_key, _), _ = layout(path, list(headers))
    xs = [(k, headers[k]) for k in (x_key, test_key) if k]
    rows = sum(h.shape[0] if h.shape else 1 for _, h in xs)
    if rows > limits.rows:
        raise DatasetError(f"{path} holds {rows:,} examples; an upload may hold at most {limits.rows:,}")
    for key, h in xs:
        features = math.prod(h.shape[1:])
        if features > limits.columns:
            raise DatasetError(f"{path}: each example of {key} has {features:,} values ({h.words()}); an upload "
                               f"may have at most {limits.columns:,} features per example")


def _check_unpacked(path: str, headers: dict[str, ArrayHeader], limits: UploadLimits) -> None:
    total = sum(h.nbytes for h in headers.values())
    if total > limits.unpacked_mb * MB:
        key, big = max(headers.items(), key=lambda kv: kv[1].nbytes)
        raise DatasetError(f"{path}: its arrays take {_mb(total)} once unpacked ({key} is {big.words()}); an "
                           f"upload may take at most {limits.unpacked_mb:,} MB")


def _check_single_npy(path: str, limits: UploadLimits) -> None:
    """numpy reads a lone .npy in full before the reader can refuse it: its header first."""
    try:
        with open(path, "rb") as file:
            header = _npy_header(file)
    except (*READ_ERRORS, RuntimeError):
        return  # not an .npy either: the reader says so
    _check_unpacked(path, {"the array": header}, limits)


def npz_headers(path: str) -> dict[str, ArrayHeader]:
    """Each member's shape and dtype by its array name, from the .npy headers alone."""
    try:
        archive = zipfile.ZipFile(path)
    except (*READ_ERRORS, RuntimeError) as exc:
        raise DatasetError(f"{path} is not a readable .npz file ({short(exc)}); save it with "
                           f"{NPZ_EXPECTED}") from None
    headers = {}
    with archive:
        for info in archive.infolist():
            try:
                with archive.open(info) as member:
                    headers[info.filename.removesuffix(".npy")] = _npy_header(member)
            except (*READ_ERRORS, RuntimeError, NotImplementedError) as exc:
                raise DatasetError(f"{path}: {info.filename!r} is not a NumPy array ({short(exc)}); store only "
                                   f"arrays, with np.savez") from None
    return headers


def _npy_header(member: Any) -> ArrayHeader:
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(member)
    if any(n < 0 for n in shape):
        raise ValueError(f"negative shape {shape}")
    return ArrayHeader(tuple(int(n) for n in shape), dtype)


def zip_members(path: str) -> int | None:
    """How many files a zip archive's end record says it holds, read before its directory is parsed
    (zipfile lists 400,000 members in seconds and hundreds of MB); None when the file is no zip."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - (22 + 0xFFFF)))  # the end record, after at most a 64 KB comment
            tail = file.read()
            at = tail.rfind(b"PK\x05\x06")
            if at < 0 or len(tail) - at < 22:
                return None
            count = struct.unpack("<H", tail[at + 10:at + 12])[0]
            locator = at - 20
            if count != 0xFFFF or locator < 0 or tail[locator:locator + 4] != b"PK\x06\x07":
                return count
            file.seek(struct.unpack("<Q", tail[locator + 8:locator + 16])[0])  # the zip64 end record
            head = file.read(56)
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({short(exc)})") from None
    if len(head) < 40 or head[:4] != b"PK\x06\x06":
        raise DatasetError(f"{path} is not a readable .npz file (a broken zip64 directory); save it with "
                           f"{NPZ_EXPECTED}")
    return struct.unpack("<Q", head[32:40])[0]


# --- csv ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvShape:
    columns: int  # fields of the header line
    lines: int  # lines after the header: at least the rows (blank lines and quoted line breaks count too)


def check_csv(path: str, limits: UploadLimits) -> CsvShape:
    """Refuse a CSV too wide, or too large once read as numbers, before pandas parses it."""
    check_size(path, limits)
    shape = csv_shape(path)
    if shape.columns > limits.columns:
        raise DatasetError(f"{path}: its header names {shape.columns:,} columns; an upload may have at most "
                           f"{limits.columns:,}")
    rows = min(shape.lines, limits.rows + 1)  # pandas reads at most one row past the limit
    if rows * shape.columns * FLOAT_BYTES > limits.unpacked_mb * MB:
        raise DatasetError(f"{path}: {rows:,} rows of {shape.columns:,} columns take "
                           f"{_mb(rows * shape.columns * FLOAT_BYTES)} as numbers; an upload may take at most "
                           f"{limits.unpacked_mb:,} MB")
    return shape


def refuse_rows(path: str, shape: CsvShape, limits: UploadLimits) -> None:
    """Called when pandas read more rows than the limit (it stops one row past it)."""
    raise DatasetError(f"{path} has more than {limits.rows:,} rows ({shape.lines:,} lines); an upload may have "
                       f"at most {limits.rows:,}")


def csv_shape(path: str) -> CsvShape:
    """The header's field count (commas outside quotes) and the lines after it, streamed in chunks."""
    columns, lines, in_header, in_quote, last = 1, 0, True, False, b"\n"
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            last = chunk[-1:]
            if in_header:
                commas, end, in_quote = _header_part(chunk, in_quote)
                columns += commas
                if end < 0:
                    continue
                in_header, chunk = False, chunk[end + 1:]
                last = chunk[-1:] or b"\n"
            lines += chunk.count(b"\n")
    if not in_header and last != b"\n":
        lines += 1  # a last line without a line break
    return CsvShape(columns, lines)


def _header_part(chunk: bytes, in_quote: bool) -> tuple[int, int, bool]:
    """Commas outside quotes up to the first line break outside quotes: (commas, its index or -1, in_quote)."""
    if not in_quote and b'"' not in chunk:
        end = chunk.find(b"\n")
        return chunk[:end if end >= 0 else len(chunk)].count(b","), end, False
    commas, offset = 0, 0
    for piece in chunk.split(b'"'):  # pieces alternate outside/inside quotes ("" toggles twice)
        if not in_quote:
            end = piece.find(b"\n")
            if end >= 0:
                return commas + piece[:end].count(b","), offset + end, False
            commas += piece.count(b",")
        offset += len(piece) + 1
        in_quote = not in_quote
    return commas, -1, not in_quote


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB" if size < 10 * MB else f"{size / MB:,.0f} MB"


# --- the cache of parsed files -----------------------------------------------------------------


class ParsedCache:
    """The last few parsed files, at most `max_bytes` of arrays in all (least recently used goes first).

    The Experiment page reads the file it shows on every rerun; keeping it parsed saves that, but
    a count of entries alone let four large uploads stay in the server's memory for good."""

    def __init__(self, entries: int = 4, max_bytes: Callable[[], int] | None = None) -> None:
        self.entries = entries
        self.max_bytes = max_bytes or (lambda: 2 * settings().max_unpacked_mb * MB)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, read: Callable[[], Any], size: Callable[[Any], int]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = read()  # outside the lock: another session's read need not wait for this one
        nbytes, budget = size(value), self.max_bytes()
        with self._lock:
            if nbytes <= budget:
                self._items[key] = (value, nbytes)
                self._items.move_to_end(key)
            while self._items and (len(self._items) > self.entries or self.nbytes > budget):
                self._items.popitem(last=False)
        return value

    @property
    def nbytes(self) -> int:
        return sum(n for _, n in self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
