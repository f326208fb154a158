"""Archives: a zip bomb is refused in bounded memory, each limit is named in its reject, and
the valid entries beside it are stored."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from tests.hostile.inputs import (
    VALID_NCT,
    deflated,
    deflated_zeros,
    ingest_cli,
    raw_zip,
    stored_ids,
    study_bytes,
)

GB = 1 << 30
# What streaming a hostile entry may add to a plain ingest's peak: a bounded buffer (the
# 64 MB entry and line limits) and its parse, never the 1 GB the entry inflates to.
STREAMING_MB = 150


def bomb(path: Path) -> Path:
    """About 2 MB: 1 GB of zeros (sizes told honestly), the same stream declaring 100 bytes,
    and a valid study."""
    zeros, crc = deflated_zeros(GB, b'{"protocolSection": "')
    good = study_bytes()
    path.write_bytes(raw_zip([
        ("zeros.json", zeros, crc, GB, 8),
        ("liar.json", zeros, crc, 100, 8),
        ("study.json", deflated(good), zlib.crc32(good), len(good), 8),
    ]))
    return path


def peak_rss_mb(args: list[str], env: dict) -> tuple[float, str]:
    """Peak RSS of `trialscope ...` (and every process it started) in a process of its own."""
    probe = (
        "import resource, subprocess, sys\n"
        "run = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(run.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "trialscope.cli", *args],
                         capture_output=True, text=True, timeout=300, env=env, check=True)
    return int(out.stdout.split()[-1]) / 1024, out.stderr


@pytest.fixture(scope="module")
def plain_ingest_mb(tmp_path_factory) -> float:
    """Peak RSS of ingesting the one valid study alone: the models and vocabularies an
    ingest loads, the floor every bounded-memory figure below stands on."""
    folder = tmp_path_factory.mktemp("plain")
    (folder / "study.json").write_bytes(study_bytes())
    rss, _ = peak_rss_mb(["ingest", str(folder / "study.json"), "--db", str(folder / "p.db"), "--no-progress"],
                         dict(os.environ))
    return rss


def test_zip_bomb_ingests_in_bounded_memory_and_the_valid_entry_is_stored(tmp_path, plain_ingest_mb):
    archive = bomb(tmp_path / "bomb.zip")
    assert archive.stat().st_size < 2_200_000
    db = tmp_path / "b.db"
    for ratio in ("", "100000"):  # the ratio guard, then (guard off) the per-entry limit
        env = {**os.environ, "TRIALSCOPE_MAX_RATIO": ratio}
        rss, stderr = peak_rss_mb(["ingest", str(archive), "--db", str(db), "--no-progress"], env)
        assert "Traceback" not in stderr
        assert rss < plain_ingest_mb + STREAMING_MB, (
            f"peak RSS {rss:.0f} MB ingesting a 2 MB zip bomb ({plain_ingest_mb:.0f} MB for the study alone)")
    assert stored_ids(db) == {VALID_NCT}
    _, rejects = ingest_cli(db, archive, env={**os.environ, "TRIALSCOPE_MAX_RATIO": "100000"})
    by_entry = {r["origin"].split("!")[1]: r["message"] for r in rejects}
    assert by_entry["zeros.json"] == "archive entry inflates past 64 MB (TRIALSCOPE_MAX_ENTRY_BYTES)"
    assert by_entry["liar.json"] == "corrupt archive entry: inflates past its declared size of 100 bytes"


def test_ratio_guard_is_named(tmp_path):
    _, rejects = ingest_cli(tmp_path / "r.db", bomb(tmp_path / "bomb.zip"))
    zeros = next(r["message"] for r in rejects if r["origin"].endswith("!zeros.json"))
    assert "past 200:1 (TRIALSCOPE_MAX_RATIO)" in zeros and "1 GB" in zeros


def test_per_entry_and_per_archive_limits_are_configurable(tmp_path):
    archive = tmp_path / "three.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for i in (1, 2, 3):
            z.writestr(f"s{i}.json", study_bytes(f"NCT0999990{i}"))
    size = len(study_bytes("NCT09999901"))
    env = {**os.environ, "TRIALSCOPE_MAX_ARCHIVE_BYTES": str(2 * size + 10)}
    summary, rejects = ingest_cli(tmp_path / "a.db", archive, env=env)
    assert summary["added"] == 2
    assert [r["message"] for r in rejects] == [
        f"archive inflates past {_size(2 * size + 10)} (TRIALSCOPE_MAX_ARCHIVE_BYTES)"]
    env = {**os.environ, "TRIALSCOPE_MAX_ENTRY_BYTES": str(size - 1)}
    summary, rejects = ingest_cli(tmp_path / "e.db", archive, env=env)
    assert summary["added"] == 0 and len(rejects) == 3
    assert all("(TRIALSCOPE_MAX_ENTRY_BYTES)" in r["message"] for r in rejects)


def test_a_broken_limit_variable_is_one_clear_error(tmp_path):
    env = {**os.environ, "TRIALSCOPE_MAX_ENTRY_BYTES": "lots"}
    run = subprocess.run([sys.executable, "-m", "trialscope.cli", "ingest", str(tmp_path), "--db",
                          str(tmp_path / "x.db")], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 2 and "TRIALSCOPE_MAX_ENTRY_BYTES" in run.stderr
    assert "Traceback" not in run.stderr


def test_lying_stored_and_bzip2_entries_are_rejected(tmp_path):
    import bz2

    good = study_bytes()
    big = b'{"protocolSection": "' + b"x" * (8 << 20)
    archive = tmp_path / "lies.zip"
    archive.write_bytes(raw_zip([
        ("stored.json", big, zlib.crc32(big), 100, 0),
        ("bz.json", bz2.compress(big), zlib.crc32(big), 100, 12),
        ("study.json", deflated(good), zlib.crc32(good), len(good), 8),
        ("crc.json", deflated(good), zlib.crc32(good) ^ 1, len(good), 8),
        ("lzma.json", b"\0" * 20, 0, 20, 14),
    ]))
    summary, rejects = ingest_cli(tmp_path / "l.db", archive)
    assert summary["added"] == 1
    by_entry = {r["origin"].split("!")[1]: r["message"] for r in rejects}
    assert "inflates past its declared size of 100 bytes" in by_entry["stored.json"]
    assert "inflates past its declared size of 100 bytes" in by_entry["bz.json"]
    assert "CRC-32" in by_entry["crc.json"]
    assert "compression method 14" in by_entry["lzma.json"]


def test_jsonl_line_and_plain_file_limits(tmp_path):
    good = study_bytes()
    lines = tmp_path / "lines.jsonl"
    lines.write_bytes(good + b"\n" + b'{"x": "' + b"y" * 50_000 + b'"}\n' + b"z" * 300_000 + b"\n"
                      + study_bytes("NCT09999902") + b"\n")
    env = {**os.environ, "TRIALSCOPE_MAX_LINE_BYTES": "200000"}
    summary, rejects = ingest_cli(tmp_path / "j.db", lines, env=env)
    assert summary["added"] == 2
    assert [(r["origin"].rsplit(":", 1)[1], r["message"]) for r in rejects] == [
        ("2", "not a v2 study object (no protocolSection): a JSON object"),
        ("3", "JSON Lines line runs past 195.3 KB (TRIALSCOPE_MAX_LINE_BYTES)"),
    ]
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "big.json").write_bytes(b'{"studies": [' + good + b"," + good + b"]}")
    (folder / "small.json").write_bytes(study_bytes("NCT09999903"))
    env = {**os.environ, "TRIALSCOPE_MAX_FILE_BYTES": str(len(good) + 1000)}
    summary, rejects = ingest_cli(tmp_path / "f.db", folder, env=env)
    assert summary["added"] == 1
    assert "(TRIALSCOPE_MAX_FILE_BYTES)" in rejects[0]["message"] and rejects[0]["origin"].endswith("big.json")


def test_a_jsonl_entry_with_no_newline_streams_in_bounded_memory(tmp_path, plain_ingest_mb):
    """A JSON Lines entry whose second "line" is 1 GB with no newline: skipped at the line
    limit, never held whole."""
    good = study_bytes()
    stream, crc = deflated_zeros(GB, good + b"\n{")
    archive = tmp_path / "lines.zip"
    archive.write_bytes(raw_zip([("all.jsonl", stream, crc, GB, 8)]))
    env = {**os.environ, "TRIALSCOPE_MAX_RATIO": "100000"}
    rss, stderr = peak_rss_mb(["ingest", str(archive), "--db", str(tmp_path / "n.db"), "--no-progress"], env)
    assert rss < plain_ingest_mb + STREAMING_MB, f"peak RSS {rss:.0f} MB ({plain_ingest_mb:.0f} MB for the study alone)"
    assert stored_ids(tmp_path / "n.db") == {VALID_NCT}


def _size(n: int) -> str:
    from trialscope.sources.limits import size_text

    return size_text(n)


def test_limits_read_from_the_environment():
    from trialscope.sources.limits import Limits

    assert Limits.from_env({"TRIALSCOPE_MAX_RATIO": "50"}).ratio == 50
    assert Limits.from_env({}) == Limits()
    for bad in ("-1", "0", "1e9", "٣"):
        try:
            Limits.from_env({"TRIALSCOPE_MAX_LINE_BYTES": bad})
        except ValueError as exc:
            assert "TRIALSCOPE_MAX_LINE_BYTES" in str(exc)
        else:
            raise AssertionError(bad)
