"""Hostile ingest inputs are built here, in the tests, and each is ingested beside a valid
study that must come through: a bad input is rejected, never takes good records with it."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "sample"
VALID_NCT = "NCT09999901"


def sample_study() -> dict:
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        return json.loads(z.read(sorted(z.namelist())[0]))


def study(nct: str = VALID_NCT, **status: object) -> dict:
    """A valid v2 study with the given NCT id (and statusModule fields replaced)."""
    doc = sample_study()
    doc["protocolSection"]["identificationModule"]["nctId"] = nct
    doc["protocolSection"]["statusModule"].update(status)
    return doc


def study_bytes(nct: str = VALID_NCT, **status: object) -> bytes:
    return json.dumps(study(nct, **status)).encode()


def ingest_cli(db: Path, *paths: Path, env: dict | None = None) -> tuple[dict, list[dict]]:
    """`trialscope ingest --json` in a real process; its summary and the run's rejects."""
    run = subprocess.run(
        [sys.executable, "-m", "trialscope.cli", "ingest", *map(str, paths), "--db", str(db),
         "--json", "--no-progress"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 0, run.stderr
    rejects = subprocess.run(
        [sys.executable, "-m", "trialscope.cli", "rejects", "--db", str(db), "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(run.stdout), json.loads(rejects.stdout)


def stored_ids(db: Path) -> set[str]:
    from trialscope.store import open_store

    store = open_store(str(db))
    try:
        return set(store.nct_ids())
    finally:
        store.close()


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip written byte by byte, so an entry can lie: (name, deflate stream, CRC-32,
    declared inflated size, compression method)."""
    body, directory = b"", b""
    for name, data, crc, size, method in entries:
        n = name.encode()
        offset = len(body)
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size,
                            len(n), 0) + n + data
        directory += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                                 len(data), size, len(n), 0, 0, 0, 0, 0, offset) + n
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory),
                      len(body), 0)
    return body + directory + end


def deflated(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflated_zeros(size: int, prefix: bytes = b"") -> tuple[bytes, int]:
    """A deflate stream of ``prefix`` then zeros, ``size`` bytes in all, built a piece at a
    time (never held inflated); and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = b"\0" * (1 << 24)
    parts, crc = [c.compress(prefix)], zlib.crc32(prefix)
    left = size - len(prefix)
    while left:
        chunk = piece[: min(left, len(piece))]
        parts.append(c.compress(chunk))
        crc = zlib.crc32(chunk, crc)
        left -= len(chunk)
    parts.append(c.flush())
    return b"".join(parts), crc
