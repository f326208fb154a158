"""Peak memory of `trialscope ingest` against the size of what it reads: bounded, not growing.

Each input is ingested into a fresh SQLite store twice: the store stage alone (library
ingest() in a process of its own), and the whole `trialscope ingest` command (store, then the
search index and vectors catch-up). The figure is the peak
RSS of the largest single process it ran (ru_maxrss of the waited-for processes: the command
and its parsing workers), measured by a probe process of its own. Baseline in the same run:
one small study (the fixed cost: interpreter, libraries, index writers). Inputs: the shared
corpus (../shared/data/ctgov/*.zip, ctgov-extra/*.zip; said when absent), each archive alone
and all together, and a 2 MB zip bomb built here (1 GB of zeros, an entry that declares 100
bytes and inflates to 1 GB, and a valid study). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = Path(__file__).resolve().parents[1] / "sample"

PROBE = (
    "import resource, subprocess, sys\n"
    "run = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(run.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "print(run.stdout)\n"
)


STORE_ONLY = (
    "import json, sys\n"
    "from trialscope.ingest import ingest\n"
    "from trialscope.store import open_store\n"
    "print(json.dumps(ingest(open_store(sys.argv[1]), sys.argv[2:], progress=False).as_dict()))\n"
)


def measure(paths: list[Path], workdir: Path, stage: str) -> dict:
    """One fresh ingest of ``paths``: the whole command, or (stage "store") the store stage
    alone (library ingest(), no search index or vectors catch-up)."""
    db = workdir / f"m{len(list(workdir.iterdir()))}.db"
    if stage == "command":
        cmd = [sys.executable, "-m", "trialscope.cli", "ingest", *map(str, paths), "--db", str(db),
               "--json", "--no-progress"]
    else:
        cmd = [sys.executable, "-c", STORE_ONLY, str(db), *map(str, paths)]
    out = subprocess.run([sys.executable, "-c", PROBE, *cmd], capture_output=True, text=True, check=True)
    head, _, body = out.stdout.partition("\n")
    code, rss_kb = map(int, head.split())
    summary = json.loads(body) if code == 0 else {}
    size = sum(p.stat().st_size for p in paths)
    inflated = sum(_inflated_size(p) for p in paths)
    return {
        "stage": stage, "input": [p.name for p in paths], "input_bytes": size, "inflated_bytes": inflated,
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "records": sum(summary.get(k, 0) for k in ("added", "updated", "unchanged", "conflicts")),
        "rejected": summary.get("rejected"), "seconds": summary.get("seconds"), "exit": code,
    }


def _inflated_size(p: Path) -> int:
    if not zipfile.is_zipfile(p):
        return p.stat().st_size
    with zipfile.ZipFile(p) as z:
        return sum(i.file_size for i in z.infolist())


def build_bomb(path: Path) -> Path:
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        study = json.loads(z.read(sorted(z.namelist())[0]))
    study["protocolSection"]["identificationModule"]["nctId"] = "NCT09999901"
    good = json.dumps(study).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros, crc, piece = [], 0, b"\0" * (1 << 24)
    for _ in range(64):
        zeros.append(packer.compress(piece))
        crc = zlib.crc32(piece, crc)
    zeros.append(packer.flush())
    bomb = b"".join(zeros)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    entries = [("zeros.json", bomb, crc, 1 << 30), ("liar.json", bomb, crc, 100),
               ("study.json", packer.compress(good) + packer.flush(), zlib.crc32(good), len(good))]
    body, directory = b"", b""
    for name, data, c, size in entries:
        n, offset = name.encode(), len(body)
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, c, len(data), size, len(n), 0)
        body += n + data
        directory += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, c, len(data),
                                 size, len(n), 0, 0, 0, 0, 0, offset) + n
    path.write_bytes(body + directory + struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default="store,command",
                        help="store (library ingest alone), command (trialscope ingest), or both")
    args = parser.parse_args()
    archives = sorted((SHARED / "ctgov").glob("*.zip")) + sorted((SHARED / "ctgov-extra").glob("*.zip"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "dbs").mkdir()
        one = work / "one.json"
        with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
            one.write_bytes(z.read(sorted(z.namelist())[0]))
        inputs = [("baseline: one study", [one]), ("zip bomb", [build_bomb(work / "bomb.zip")])]
        inputs += [("one archive", [a]) for a in archives]
        if len(archives) > 1:
            inputs.append(("whole corpus", archives))
        runs = [{"what": what, **measure(paths, work / "dbs", stage)}
                for what, paths in inputs for stage in args.stages.split(",")]
    print(json.dumps({
        "shared_corpus": "present" if archives else f"absent ({SHARED}): only the baseline and the bomb ran",
        "cpus": os.cpu_count(), "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
