"""Ingest end to end through the CLI: summaries, versioning, rejects, and a real kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import orjson

from trialscope.cli import main
from trialscope.ingest import estimate_total, ingest
from trialscope.store import open_store

SAMPLE = Path(__file__).resolve().parents[1] / "sample"


def json_studies() -> list[dict]:
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        return [json.loads(z.read(i)) for i in sorted(z.infolist(), key=lambda i: i.filename)]


def with_id(study: dict, number: int, last_update: str | None = None) -> dict:
    doc = json.loads(json.dumps(study))
    doc["protocolSection"]["identificationModule"]["nctId"] = f"NCT9{number:07d}"
    if last_update:
        doc["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": last_update, "type": "ACTUAL"}
    return doc


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI as a user would; the timeout only guards against a hang (a loaded machine is slow)."""
    return subprocess.run(
        [sys.executable, "-m", "trialscope.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_sample_ingests_with_no_rejects_and_keeps_sparse_records(sample_db: str, capsys) -> None:
    store = open_store(sample_db)
    [run] = [r for r in store.runs() if r.kind == "ingest"]
    assert run.status == "done" and run.rejected == 0
    manifest = json.loads((SAMPLE / "MANIFEST.json").read_text())
    assert store.count() == manifest["distinct_studies"]
    sparse = store.get("NCT05113290")
    assert sparse is not None
    assert "briefTitle" not in sparse.record["protocolSection"]["identificationModule"]
    # The versions in the extra archive: one current, the other filed in history.
    for nct in manifest["versions_in_extra"]:
        assert len(store.history(nct)) == 1, nct


def test_show_accepts_any_case_and_raw_is_byte_exact(sample_db: str, capsys) -> None:
    assert main(["show", "nct05113290", "--db", sample_db]) == 0
    text = capsys.readouterr().out
    assert "NCT05113290" in text and "Summary" in text and "H101" in text
    assert main(["show", "NCT03949231", "--raw", "--db", sample_db]) == 0
    raw = capsys.readouterr().out
    with zipfile.ZipFile(SAMPLE / "AllPublicXML.zip") as z:
        assert raw.rstrip("\n") == z.read("NCT0394xxxx/NCT03949231.xml").decode().rstrip("\n")
    assert main(["show", "NCT03949231", "--json", "--db", sample_db]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["protocolSection"]["designModule"]["phases"] == ["PHASE3"]


def test_show_unknown_and_malformed_ids_are_one_line_errors(sample_db: str) -> None:
    missing = run_cli("show", "NCT00000001", "--db", sample_db)
    assert missing.returncode == 2 and "not in the store" in missing.stderr
    bad = run_cli("show", "12345", "--db", sample_db)
    assert bad.returncode == 2 and "not an NCT id" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_stats_json(sample_db: str, capsys) -> None:
    assert main(["stats", "--json", "--db", sample_db]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["total"] == sum(stats["overallStatus"].values())
    assert stats["studyType"]["INTERVENTIONAL"] > 0 and "PHASE3" in stats["phase"]


def test_versioning_newer_replaces_older_never_overwrites_same_is_noop(tmp_path: Path) -> None:
    base = json_studies()[0]
    old, new = with_id(base, 1, "2020-01-01"), with_id(base, 1, "2022-06-30")
    for name, doc in (("old.json", old), ("new.json", new)):
        (tmp_path / name).write_bytes(orjson.dumps(doc))
    store = open_store(str(tmp_path / "v.db"))
    s1 = ingest(store, [str(tmp_path / "new.json")], progress=False)
    s2 = ingest(store, [str(tmp_path / "old.json")], progress=False)
    s3 = ingest(store, [str(tmp_path / "new.json")], progress=False)
    assert (s1.added, s2.unchanged, s3.unchanged) == (1, 1, 1)
    current = store.get("NCT90000001")
    assert current.last_update == "2022-06-30"
    assert [h.last_update for h in store.history("NCT90000001")] == ["2020-01-01"]
    store2 = open_store(str(tmp_path / "w.db"))
    ingest(store2, [str(tmp_path / "old.json")], progress=False)
    s4 = ingest(store2, [str(tmp_path / "new.json")], progress=False)
    assert s4.updated == 1 and store2.get("NCT90000001").last_update == "2022-06-30"
    assert [h.last_update for h in store2.history("NCT90000001")] == ["2020-01-01"]


def test_bad_records_are_rejected_with_reasons_and_the_batch_goes_on(tmp_path: Path) -> None:
    good = json_studies()[:2]
    no_id = json.loads(json.dumps(good[0]))
    del no_id["protocolSection"]["identificationModule"]["nctId"]
    bad_id = with_id(good[0], 5)
    bad_id["protocolSection"]["identificationModule"]["nctId"] = "NCT123"
    wrong_type = with_id(good[0], 6)
    wrong_type["protocolSection"]["designModule"] = {"phases": "PHASE3"}
    lines = [orjson.dumps(d) for d in (good[0], no_id, bad_id, wrong_type, good[1])]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join(lines[:2]) + b"\n{broken\n" + b"\n".join(lines[2:]) + b"\n")
    db = str(tmp_path / "r.db")
    result = run_cli("ingest", str(path), "--db", db, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["added"], summary["rejected"]) == (2, 4)
    rejects = json.loads(run_cli("rejects", "--db", db, "--json").stdout)
    by_line = {r["origin"].rsplit(":", 1)[1]: r["message"] for r in rejects}
    assert "nctId" in by_line["2"]
    assert "invalid JSON" in by_line["3"]
    assert "malformed NCT id 'NCT123'" in by_line["4"]
    assert "phases" in by_line["5"] and "got `str`" in by_line["5"]


def test_unreadable_input_fails_clearly_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_text("not a registry file")
    cut = tmp_path / "cut.zip"
    cut.write_bytes((SAMPLE / "ctg-studies.json.zip").read_bytes()[:5000])
    db = str(tmp_path / "e.db")
    for path, message in ((tmp_path / "junk.txt", "unknown format"), (cut, "truncated"),
                          (tmp_path / "missing", "no such file")):
        result = run_cli("ingest", str(path), "--db", db)
        assert result.returncode == 1, path
        assert message in result.stderr and "Traceback" not in result.stderr
    # A readable source beside a broken one: the readable one goes in, exit status 0.
    good = tmp_path / "good.json"
    good.write_bytes(orjson.dumps(json_studies()[0]))
    result = run_cli("ingest", str(cut), str(good), "--db", db)
    assert result.returncode == 0 and "1 added" in result.stdout and "truncated" in result.stderr


def test_kill_9_mid_ingest_leaves_a_consistent_store_and_rerun_completes(tmp_path: Path) -> None:
    studies = json_studies()
    total = 6_000
    path = tmp_path / "big.jsonl"
    with path.open("wb") as fh:
        for i in range(total):
            fh.write(orjson.dumps(with_id(studies[i % len(studies)], i)) + b"\n")
    db = tmp_path / "k.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialscope.cli", "ingest", str(path), "--db", str(db), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    committed = 0
    while time.monotonic() < deadline and committed < 2000:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    committed = conn.execute("SELECT count(*) FROM studies").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < committed < total, "the kill must land mid-ingest"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = conn.execute("SELECT count(*) FROM studies").fetchone()[0]
        assert stored % 500 == 0, "only whole batches are committed"
        status, pid = conn.execute("SELECT status, pid FROM ingest_runs").fetchone()
        assert status == "running" and pid == proc.pid  # the killed run is visibly unfinished
    # the search index and vectors were fed while the store was written: killed before their
    # one commit, they hold nothing of this run (never more than the store committed)
    assert derived_seqs(db) == {"index": 0, "vectors": 0}
    # its process is gone: listed as died at once, and marked so when the next run begins
    [listed] = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert listed["status"] == "died" and f"process {proc.pid}" in listed["message"]
    again = run_cli("ingest", str(path), "--db", str(db), "--json")
    summary = json.loads(again.stdout)
    assert summary["added"] == total - stored and summary["unchanged"] == stored
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM ingest_runs ORDER BY id").fetchall() == [("died",), ("done",)]
    store = open_store(str(db))
    assert store.count() == total
    # the re-run caught the derived data up with the studies the killed run had stored, and
    # fed it the rest: each reflects the whole store, every study once
    assert derived_seqs(db) == {"index": store.max_seq(), "vectors": store.max_seq()}
    assert search_total(db, "") == total
    with sqlite3.connect(f"{db}.vectors/rows.sqlite") as conn:
        assert conn.execute("SELECT count(*), sum(live) FROM rows").fetchone() == (total, total)


def derived_seqs(db: Path) -> dict[str, int]:
    """The store seq the search index and the vector index say they reflect (0: none yet)."""
    index = Path(f"{db}.index") / "trialscope-index.json"
    out = {"index": orjson.loads(index.read_bytes())["seq"] if index.exists() else 0, "vectors": 0}
    meta = Path(f"{db}.vectors") / "meta.json"
    if meta.exists():
        out["vectors"] = orjson.loads(meta.read_bytes())["seq"]
    return out


def search_total(db: Path, query: str) -> int:
    got = run_cli("search", *([query] if query else []), "--db", str(db), "--json", "--limit", "1")
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)["total"]


def test_one_run_stores_indexes_and_embeds_every_version_once(tmp_path: Path) -> None:
    """Two versions of a study in one run: the index and the vectors hold the later one once."""
    studies = [s for s in json_studies() if "statusModule" in s["protocolSection"]]
    path = tmp_path / "two.jsonl"
    lines = [with_id(studies[i % len(studies)], i, "2020-01-01") for i in range(30)]
    newer = with_id(studies[0], 0, "2024-06-01")
    newer["protocolSection"]["identificationModule"]["briefTitle"] = "Zanzibarian quokka trial"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in [*lines, newer]))
    db = tmp_path / "v.db"
    summary = json.loads(run_cli("ingest", str(path), "--db", str(db), "--json").stdout)
    assert (summary["added"], summary["updated"]) == (30, 1)
    assert set(summary["command"]["stages"]) >= {"read", "store", "index", "vectors", "criteria"}
    assert summary["command"]["cpu_s"] > 0
    assert search_total(db, "") == 30
    assert search_total(db, "quokka") == 1
    assert derived_seqs(db) == {"index": 31, "vectors": 31}
    with sqlite3.connect(f"{db}.vectors/rows.sqlite") as conn:
        assert conn.execute("SELECT count(*), sum(live) FROM rows").fetchone() == (31, 30)
        [(live,)] = conn.execute("SELECT live FROM rows r JOIN current c ON c.row = r.row"
                                 " WHERE c.nct = 'NCT90000000'").fetchall()
        assert live == 1
    # an unchanged re-run changes nothing and says so
    again = json.loads(run_cli("ingest", str(path), "--db", str(db), "--json").stdout)
    assert again["unchanged"] == 31 and derived_seqs(db) == {"index": 31, "vectors": 31}
    assert search_total(db, "") == 30


def test_ingest_reports_the_whole_command_until_searchable(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    path.write_bytes(b"".join(orjson.dumps(with_id(s, i)) + b"\n" for i, s in enumerate(json_studies()[:2])))
    db = str(tmp_path / "w.db")
    started = time.perf_counter()
    result = run_cli("ingest", str(path), "--db", db, "--json")
    waited = time.perf_counter() - started
    whole = json.loads(result.stdout)["command"]
    stages = whole["stages"]
    assert {"store", "index", "vectors", "other"} <= stages.keys()
    assert abs(sum(s["seconds"] for s in stages.values()) - whole["seconds"]) < 0.01
    assert whole["seconds"] >= json.loads(result.stdout)["seconds"]  # more than the store alone
    assert whole["seconds"] <= waited  # and no more than the process ran
    assert abs(whole["records_per_s"] - 2 / whole["seconds"]) <= 0.01 * whole["records_per_s"] + 0.1
    text = run_cli("ingest", str(path), "--db", str(tmp_path / "t.db")).stdout
    assert "stored in" in text and "searchable in" in text and "records/s end to end" in text


def test_a_store_that_cannot_be_opened_is_one_clear_line(tmp_path: Path) -> None:
    missing = run_cli("ingest", str(SAMPLE / "ctg-studies.json.zip"), "--db", str(tmp_path / "no" / "x.db"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == f"error: cannot open the store {tmp_path / 'no' / 'x.db'}: " \
                                     f"the folder {tmp_path / 'no'} does not exist"
    bad = tmp_path / "bad.db"
    bad.write_text("not a database, just text " * 100)
    got = run_cli("stats", "--db", str(bad))
    assert got.returncode == 2 and "Traceback" not in got.stderr and "not a database" in got.stderr


def test_the_records_expected_count_archives_inside_a_folder(tmp_path: Path) -> None:
    """A folder of archives (the registry's bulk download) holds their entries, not two
    files: the count decides whether parsing gets one worker per core."""
    with zipfile.ZipFile(tmp_path / "studies.zip", "w") as z:
        for i in range(3):
            z.writestr(f"NCT0000000{i}.json", "{}")
    (tmp_path / "NCT00000009.json").write_text("{}")
    assert estimate_total([str(tmp_path)]) == 4
    assert estimate_total([str(tmp_path / "studies.zip")]) == 3
