"""Every reader fuzzed with random and mutated bytes: whatever the input, reading it gives
records or clean rejects (or one SourceFailure for an unreadable source), never another
exception. Bounded in time: a fixed number of examples per reader, no deadline flakiness."""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.inputs import SAMPLE, study_bytes
from trialscope import sources
from trialscope.ingest import to_version
from trialscope.sources import Limits, Reject, SourceFailure, SourceRecord

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# small limits, so mutated sizes hit them quickly
LIMITS = Limits(entry_bytes=1 << 20, archive_bytes=4 << 20, file_bytes=1 << 20, line_bytes=256 << 10)
WORK = Path(tempfile.mkdtemp(prefix="fuzz-readers-"))
atexit.register(shutil.rmtree, WORK, True)


def _xml() -> bytes:
    with zipfile.ZipFile(SAMPLE / "AllPublicXML.zip") as z:
        return z.read(next(n for n in sorted(z.namelist()) if n.endswith(".xml")))


def _zip(method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        z.writestr("a.json", study_bytes("NCT09999902"))
        z.writestr("b.xml", _xml())
        z.writestr("c.jsonl", study_bytes("NCT09999903") + b"\n{}\n")
    return buf.getvalue()


SEEDS = {
    "json": study_bytes(),
    "jsonl": study_bytes("NCT09999902") + b"\n" + study_bytes("NCT09999903") + b"\n",
    "xml": _xml(),
    "zip": _zip(zipfile.ZIP_DEFLATED),
    "zip-stored": _zip(zipfile.ZIP_STORED),
    "zip-bzip2": _zip(zipfile.ZIP_BZIP2),
}


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
            if not data:
                break
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at : at + draw(st.integers(1, 64))]
            if not data:
                break
    return bytes(data)


def read_everything(data: bytes) -> list:
    WORK.mkdir(parents=True, exist_ok=True)  # /tmp is shared: a cleaner may have removed it
    path = WORK / "input"
    path.write_bytes(data)
    out = []
    try:
        for doc in sources.documents(path, LIMITS):
            items = [doc] if isinstance(doc, Reject) else list(sources.parse(doc))
            for item in items:
                assert isinstance(item, (SourceRecord, Reject)), item
                out.append(to_version(item) if isinstance(item, SourceRecord) else item)
    except SourceFailure as exc:
        assert str(exc)
        return []
    for item in out:
        if isinstance(item, Reject):
            assert item.message and "Traceback" not in item.message
    return out


@pytest.mark.parametrize("kind", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_mutated_input_reads_to_records_or_rejects(kind, data):
    read_everything(data.draw(mutated(SEEDS[kind])))


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_read_to_records_or_rejects(raw):
    read_everything(raw)


@FUZZ
@given(st.sampled_from([b"{", b"[", b"<", b"PK\x03\x04", b"\xef\xbb\xbf{", b"{}\n"]), st.binary(max_size=2048))
def test_random_bytes_behind_each_format_signature(prefix, raw):
    read_everything(prefix + raw)


def test_the_seeds_themselves_read_cleanly():
    for kind, seed in SEEDS.items():
        got = read_everything(seed)
        assert any(not isinstance(g, Reject) for g in got), kind
