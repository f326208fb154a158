"""Check that the ingest's per-study outputs are byte-identical to another source tree's.

What the parse workers make of each study of the shared archives (../shared/data/ctgov by
default; `--extra` adds ctgov-extra): the stored record (its JSON as stored), its summary
and last-update date, the rejects' messages, and what each pipeline stage prepares for it
(the index document's JSON, the vector features and embedding, the criteria split). Each is
digested per study in a subprocess running this tree and one running `--baseline DIR`'s
src/; the digests must match one for one. Run it after any change to conversion, document
building, features or criteria preparation:

    python benchmarks/ingest_identical.py --baseline /path/to/main-worktree

Both run with one string-hash seed: a document's set-valued fields (countries, geo cells)
come in hash order, which differs from process to process (tantivy indexes them alike).
Prints JSON: the studies compared, per output, and the first differing studies (exit 1).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def digests(paths: list[str]) -> dict[str, dict[str, str]]:
    """{origin: {output: sha1}} of every document under `paths`, as this tree converts it."""
    from trialscope import ingest as ing
    from trialscope.ingest import CHUNK, _convert, _documents
    from trialscope.pipeline import Pipeline
    from trialscope.sources.base import Reject
    from trialscope.sources.limits import Limits
    from trialscope.store import open_store

    def sha(value) -> str:
        if isinstance(value, str):
            value = value.encode()
        elif not isinstance(value, bytes):
            value = json.dumps(value, sort_keys=True, default=repr).encode()
        return hashlib.sha1(value).hexdigest()

    out: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "check.db"))
        pipe = Pipeline.open(store)
        ing._PREPARE = pipe.prepare
        try:
            docs = list(_documents(paths, [], Limits.from_env()))
            for i in range(0, len(docs), CHUNK):
                for got, prepared in _convert(docs[i:i + CHUNK]):
                    key = str(got.origin) if isinstance(got, Reject) else got.source
                    if isinstance(got, Reject):
                        out[key] = {"reject": sha(got.message)}
                        continue
                    row = {"record": sha(got.record), "summary": sha(got.summary),
                           "last_update": sha(got.last_update), "raw": got.raw_sha}
                    for stage, value in (prepared or {}).items():
                        if isinstance(value, tuple):  # the vectors: (features, embedding)
                            for j, part in enumerate(value):
                                row[f"{stage}.{j}"] = sha(part)
                        else:
                            row[stage] = sha(value)
                    out[key] = row
        finally:
            ing._PREPARE = None
            pipe.close()
            store.close()
    return out


def _run(paths: list[str], source: Path | None) -> dict:
    env = dict(os.environ, PYTHONHASHSEED="0")  # the documents hold sets: one string hash order
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    got = subprocess.run([sys.executable, __file__, "--digests", *paths],
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(got.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the source tree (its src/) to compare with")
    parser.add_argument("--extra", action="store_true", help="also check ctgov-extra (13k XML studies)")
    parser.add_argument("--digests", nargs="+", help=argparse.SUPPRESS)  # internal: one tree's digests
    args = parser.parse_args()
    if args.digests:
        print(json.dumps(digests(args.digests)))
        return 0
    if args.baseline is None:
        parser.error("--baseline is required")
    from ingest import ctgov_inputs  # the sibling benchmark's inputs: the same archives

    names, missing = ctgov_inputs(args.extra)
    if missing:
        print(json.dumps({"check": "ingest_identical", "skipped": f"shared data absent: {missing}"}))
        return 0
    ours, base = _run(names, None), _run(names, args.baseline)
    outputs = sorted({k for row in (*ours.values(), *base.values()) for k in row})
    differ = {k: [o for o in sorted(set(ours) | set(base))
                  if (ours.get(o) or {}).get(k) != (base.get(o) or {}).get(k)] for k in outputs}
    report = {
        "check": "ingest_identical",
        "inputs": [str(Path(p).relative_to(SHARED)) for p in names],
        "documents": {"this": len(ours), "baseline": len(base)},
        "outputs": {k: {"compared": sum(k in r for r in ours.values()), "differ": len(v),
                        "first": v[:5]} for k, v in differ.items()},
        "identical": not any(differ.values()) and set(ours) == set(base),
    }
    print(json.dumps(report, indent=1))
    return 0 if report["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
