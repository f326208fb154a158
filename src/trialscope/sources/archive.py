"""Zip archives split into documents with bounded memory, whatever an entry claims.

Nothing is inflated in full before it is checked. An entry's declared size is checked
against the limits (per entry, per archive, compression ratio) before any of it is
inflated; then every inflation stops one byte past the declared size, so an entry that
lies about its size costs no more than it declared. Entries are inflated in bounded
pieces: a JSON Lines entry streams line by line; a study document is inflated whole, but
only up to its (checked) declared size.
"""

from __future__ import annotations

import bz2
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from .base import Document, Origin, Reject, SourceFailure
from .limits import Limits, size_text

ZIP_MAGIC = b"PK\x03\x04"
HEAD = 65536  # bytes of an entry inflated at most to tell its format
PIECE = 1 << 20  # the most bytes one inflation step produces
READ = 1 << 16  # compressed bytes read from the archive at a time
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2"}


def zip_documents(p: Path, limits: Limits) -> Iterator[Document | Reject]:
    from . import detect, line_documents

    try:
        archive = zipfile.ZipFile(p)
        raw = p.open("rb")
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceFailure(f"{p}: broken or truncated zip archive ({exc})") from None
    with archive, raw:
        entries = [i for i in archive.infolist()
                   if not i.is_dir() and not Path(i.filename).name.startswith(".")]
        inflated = 0  # declared sizes of the entries taken so far (each is checked to match)
        for number, info in enumerate(entries):
            origin = Origin(str(p), info.filename)
            refused = _refused(info, limits)
            if refused:
                yield Reject(origin, refused)
                continue
            inflated += info.file_size
            if inflated > limits.archive_bytes:
                left = len(entries) - number - 1
                yield Reject(origin, limits.past("archive inflates", "archive_bytes")
                             + (f": this entry and the {left} after it are skipped" if left else ""))
                return
            try:
                head, whole = _head(raw, info)
                kind = detect(head, whole)
                if kind == "jsonl":  # streamed: each line is a document
                    yield from line_documents(_inflated(raw, info), origin, limits)
                    continue
                if kind not in ("json", "xml"):
                    yield Reject(origin, "archive entry is neither JSON nor XML")
                    continue
                if info.file_size > limits.entry_bytes:
                    yield Reject(origin, limits.past("archive entry inflates", "entry_bytes"))
                    continue
                if info.compress_type == zipfile.ZIP_DEFLATED:
                    # left deflated: the worker that parses it inflates it (bounded there)
                    yield Document(_compressed(raw, info), origin, kind, (info.file_size, info.CRC))
                else:
                    yield Document(b"".join(_inflated(raw, info)), origin, kind)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                yield Reject(origin, f"corrupt archive entry: {exc}")


def _refused(info: zipfile.ZipInfo, limits: Limits) -> str | None:
    """Why an entry is not read at all, from its directory record alone; None if it is."""
    if info.flag_bits & 0x1:
        return "archive entry is encrypted"
    if info.compress_type not in METHODS:
        return (f"archive entry uses compression method {info.compress_type}:"
                " only stored, deflate and bzip2 entries are read")
    if info.file_size > limits.ratio_floor_bytes:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.ratio:
            return limits.past(f"archive entry would inflate {ratio:,.0f}:1 ({size_text(info.file_size)}),", "ratio")
    return None


def _compressed_pieces(fh, info: zipfile.ZipInfo, size: int | None = None) -> Iterator[bytes]:
    """An entry's bytes as the archive holds them, read a piece at a time (the file handle
    is shared: each read seeks to where this entry's reader left off)."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or header[:4] != ZIP_MAGIC:
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    at = info.header_offset + 30 + name_len + extra_len
    left = info.compress_size if size is None else size
    while left > 0:
        fh.seek(at)
        piece = fh.read(min(READ, left))
        if not piece:
            raise EOFError("entry is truncated")
        at += len(piece)
        left -= len(piece)
        yield piece


def _compressed(fh, info: zipfile.ZipInfo) -> bytes:
    # a deflate stream is never much larger than what it inflates to: a larger one is corrupt
    if info.compress_size > info.file_size + (info.file_size >> 6) + 4096:
        raise ValueError("compressed size is larger than its declared inflated size allows")
    return b"".join(_compressed_pieces(fh, info))


def _inflated(fh, info: zipfile.ZipInfo, step: int = PIECE) -> Iterator[bytes]:
    """An entry inflated in pieces of at most ``step`` bytes, checked against its declared
    size (stopping just past it) and, at its end, its CRC-32."""
    size, total, crc = info.file_size, 0, 0
    for out in _raw_inflate(fh, info, step):
        total += len(out)
        if total > size:
            raise ValueError(f"inflates past its declared size of {size} bytes")
        crc = zlib.crc32(out, crc)
        yield out
    if total != size or crc != info.CRC:
        raise ValueError("size or CRC-32 does not match the archive's directory")


def _raw_inflate(fh, info: zipfile.ZipInfo, step: int) -> Iterator[bytes]:
    pieces = _compressed_pieces(fh, info)
    if info.compress_type == zipfile.ZIP_STORED:
        yield from pieces
        return
    if info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        for piece in pieces:
            while piece and not inflater.eof:
                yield inflater.decompress(piece, step)
                piece = inflater.unconsumed_tail
            if inflater.eof:
                break
        while not inflater.eof:  # output still held back by the step limit
            out = inflater.decompress(b"", step)
            if not out:
                raise ValueError("deflate stream ends early (truncated entry)")
            yield out
        return
    unbzip = bz2.BZ2Decompressor()
    for piece in pieces:
        yield unbzip.decompress(piece, step)
        while not unbzip.needs_input and not unbzip.eof:
            yield unbzip.decompress(b"", step)
        if unbzip.eof:
            return
    if not unbzip.eof:
        raise ValueError("bzip2 stream ends early (truncated entry)")


def _head(fh, info: zipfile.ZipInfo) -> tuple[bytes, bool]:
    """Enough of an entry's start to tell its format (at most HEAD bytes, and for one that
    opens like JSON, two lines to tell JSON Lines from one document); and whether that is
    the whole entry."""
    head = b""
    stream = _inflated(fh, info, 4096)
    try:
        for out in stream:
            head += out
            if len(head) >= HEAD or _enough(head):
                return head, len(head) == info.file_size
    finally:
        stream.close()
    return head, True


def _enough(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return False
    if text[:1] not in b"{[":
        return True
    first, _, rest = text.partition(b"\n")
    return b"\n" in rest.lstrip(b" \t\r\n")


