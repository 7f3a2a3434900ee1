"""A small reader of the Arrow C stream interface, so GDAL can stream features without pyarrow.

pyogrio's ``open_arrow`` hands out GDAL's record batches through the Arrow PyCapsule protocol.
pyarrow would read them, but it is a large dependency for what the importer needs: each
column of each batch as a list of Python values. The C structures are small and stable (the
Arrow C data interface is an ABI: https://arrow.apache.org/docs/format/CDataInterface.html),
so this module reads them with ctypes, one batch at a time; memory stays bounded by the batch.

Only the types GDAL produces are handled: booleans, integers, floats, (large) strings and
binaries, dates, times, timestamps, lists and dictionary-encoded columns. Anything else is
returned as ``None`` values and named in :attr:`ArrowBatchReader.unsupported`.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np


class ArrowSchema(ctypes.Structure):
    """``struct ArrowSchema`` of the C data interface."""


ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_void_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))),
    ("dictionary", ctypes.POINTER(ArrowSchema)),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowSchema))),
    ("private_data", ctypes.c_void_p),
]


class ArrowArray(ctypes.Structure):
    """``struct ArrowArray`` of the C data interface."""


ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
    ("dictionary", ctypes.POINTER(ArrowArray)),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArray))),
    ("private_data", ctypes.c_void_p),
]


class ArrowArrayStream(ctypes.Structure):
    """``struct ArrowArrayStream`` of the C stream interface."""


ArrowArrayStream._fields_ = [
    (
        "get_schema",
        ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ArrowArrayStream), ctypes.POINTER(ArrowSchema)),
    ),
    (
        "get_next",
        ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ArrowArrayStream), ctypes.POINTER(ArrowArray)),
    ),
    ("get_last_error", ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.POINTER(ArrowArrayStream))),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArrayStream))),
    ("private_data", ctypes.c_void_p),
]

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

_FIXED = {
    "c": np.int8,
    "C": np.uint8,
    "s": np.int16,
    "S": np.uint16,
    "i": np.int32,
    "I": np.uint32,
    "l": np.int64,
    "L": np.uint64,
    "e": np.float16,
    "f": np.float32,
    "g": np.float64,
}
_EPOCH = date(1970, 1, 1)
_TS_UNITS = {"s": 1, "m": 1_000, "u": 1_000_000, "n": 1_000_000_000}


class ArrowStreamError(Exception):
    """GDAL reported an error while producing a batch (a damaged file, usually)."""


def metadata_of(schema: ArrowSchema) -> dict[str, str]:
    """The key/value metadata of a schema (where GDAL marks the WKB geometry column)."""
    if not schema.metadata:
        return {}
    base = schema.metadata
    (count,) = ctypes.cast(base, ctypes.POINTER(ctypes.c_int32))[:1]
    pos = base + 4
    out = {}
    for _ in range(count):
        parts = []
        for _kv in range(2):
            (length,) = ctypes.cast(pos, ctypes.POINTER(ctypes.c_int32))[:1]
            pos += 4
            parts.append(ctypes.string_at(pos, length).decode("utf-8", "replace"))
            pos += length
        out[parts[0]] = parts[1]
    return out


def _buffer(array: ArrowArray, index: int, dtype: Any, count: int) -> np.ndarray:
    address = array.buffers[index]
    if not address or count <= 0:
        return np.zeros(max(count, 0), dtype=dtype)
    size = np.dtype(dtype).itemsize * count
    return np.frombuffer(ctypes.string_at(address, size), dtype=dtype)


def _validity(array: ArrowArray) -> np.ndarray | None:
    if array.null_count == 0 or not array.buffers[0]:
        return None
    start, length = array.offset, array.length
    nbytes = (start + length + 7) // 8
    bits = np.unpackbits(
        np.frombuffer(ctypes.string_at(array.buffers[0], nbytes), np.uint8), bitorder="little"
    )
    return bits[start : start + length].astype(bool)


def _decode(raw: bytes) -> str:
    # GDAL promises UTF-8, but a DBF that lies about its code page gets its bytes through:
    # fall back to Windows-1252 (what such files almost always are), then to Latin-1, which
    # cannot fail, rather than rejecting the whole file.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def column_values(schema: ArrowSchema, array: ArrowArray) -> list[Any]:
    """One column of a batch as Python values (None for nulls)."""
    fmt = schema.format.decode()
    n, off = array.length, array.offset
    valid = _validity(array)
    values: list[Any]
    if schema.dictionary:
        indices = _buffer(array, 1, _FIXED[fmt], off + n)[off:]
        words = column_values(schema.dictionary.contents, array.dictionary.contents)
        values = [words[int(i)] for i in indices]
    elif fmt in _FIXED:
        data = _buffer(array, 1, _FIXED[fmt], off + n)[off:]
        values = data.tolist()
    elif fmt == "b":
        nbytes = (off + n + 7) // 8
        bits = np.unpackbits(_buffer(array, 1, np.uint8, nbytes), bitorder="little")
        values = bits[off : off + n].astype(bool).tolist()
    elif fmt in ("u", "U", "z", "Z"):
        offsets = _buffer(array, 1, np.int32 if fmt in "uz" else np.int64, off + n + 1)[off:]
        start, end = int(offsets[0]), int(offsets[-1])
        blob = ctypes.string_at(array.buffers[2], end) if end > 0 and array.buffers[2] else b""
        spans = offsets.tolist()
        if fmt in "uU" and blob.isascii():
            # Plain ASCII (most attribute text): one decode, then slices (bytes are characters).
            text = blob.decode("ascii")
            values = [text[a:b] for a, b in itertools.pairwise(spans)]
        else:
            pieces = [blob[spans[i] : spans[i + 1]] for i in range(n)]
            values = [_decode(p) for p in pieces] if fmt in "uU" else pieces
        del start
    elif fmt == "tdD":
        days = _buffer(array, 1, np.int32, off + n)[off:]
        values = [_EPOCH + timedelta(days=int(d)) for d in days]
    elif fmt == "tdm":
        ms = _buffer(array, 1, np.int64, off + n)[off:]
        values = [_EPOCH + timedelta(milliseconds=int(v)) for v in ms]
    elif fmt.startswith("tt"):
        unit = _TS_UNITS[fmt[2]]
        raw = _buffer(array, 1, np.int32 if fmt[2] in "sm" else np.int64, off + n)[off:]
        values = [(datetime.min + timedelta(seconds=int(v) / unit)).time() for v in raw]
    elif fmt.startswith("ts"):
        unit = _TS_UNITS[fmt[2]]
        tz = fmt.split(":", 1)[1] if ":" in fmt else ""
        raw = _buffer(array, 1, np.int64, off + n)[off:]
        base = datetime(1970, 1, 1, tzinfo=UTC) if tz else datetime(1970, 1, 1)
        values = [base + timedelta(microseconds=int(v) * 1_000_000 // unit) for v in raw]
    elif fmt in ("+l", "+L"):
        offsets = _buffer(array, 1, np.int32 if fmt == "+l" else np.int64, off + n + 1)[off:].tolist()
        inner = column_values(schema.children[0].contents, array.children[0].contents)
        values = [inner[offsets[i] : offsets[i + 1]] for i in range(n)]
    else:
        values = [None] * n
    if valid is not None:
        values = [v if ok else None for v, ok in zip(values, valid.tolist(), strict=True)]
    return values


class ArrowBatchReader:
    """Iterate the record batches of an Arrow C stream as ``{column: [values]}`` dicts."""

    def __init__(self, stream_owner: Any) -> None:
        self._capsule = stream_owner.__arrow_c_stream__()
        address = _capsule_pointer(self._capsule, b"arrow_array_stream")
        self._stream = ctypes.cast(address, ctypes.POINTER(ArrowArrayStream))
        self._schema = ArrowSchema()
        self._check(self._stream.contents.get_schema(self._stream, ctypes.byref(self._schema)))
        top = self._schema
        self.columns = [top.children[i].contents.name.decode() for i in range(top.n_children)]
        self.formats = [top.children[i].contents.format.decode() for i in range(top.n_children)]
        self.metadata = [metadata_of(top.children[i].contents) for i in range(top.n_children)]
        self.unsupported = [
            name
            for name, fmt, child in zip(
                self.columns,
                self.formats,
                (top.children[i].contents for i in range(top.n_children)),
                strict=True,
            )
            if not child.dictionary and not _supported(fmt)
        ]

    def _check(self, status: int) -> None:
        if status != 0:
            message = self._stream.contents.get_last_error(self._stream)
            raise ArrowStreamError(message.decode("utf-8", "replace") if message else f"error {status}")

    def __iter__(self) -> Iterator[dict[str, list[Any]]]:
        top = self._schema
        while True:
            batch = ArrowArray()
            self._check(self._stream.contents.get_next(self._stream, ctypes.byref(batch)))
            if not batch.release:  # end of stream
                return
            try:
                out = {
                    self.columns[i]: column_values(top.children[i].contents, batch.children[i].contents)
                    for i in range(top.n_children)
                }
            finally:
                batch.release(ctypes.byref(batch))
            yield out

    def close(self) -> None:
        """Release the schema (the stream itself is released with its capsule)."""
        if self._schema.release:
            self._schema.release(ctypes.byref(self._schema))


def _supported(fmt: str) -> bool:
    return (
        fmt in _FIXED
        or fmt in ("b", "u", "U", "z", "Z", "tdD", "tdm", "+l", "+L")
        or fmt.startswith(("tt", "ts"))
    )
