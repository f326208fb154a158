"""Train the matcher's ranker on the shared dev collections and write the shipped model.

    .venv/bin/python scripts/train_match_ranker.py [--reuse]

Reads ../shared/data (TREC 2022 and SIGIR 2016, with the stores benchmarks/match.py builds
under benchmarks/out/; `--reuse` keeps them). Every topic of both collections is used: the
figures to quote are benchmarks/match.py's, which trains the same way k-fold by topic and
ranks each topic with a model that never saw it. Writes
src/trialscope/data/match/ranker.json (features, standardisation, weights, what it was
trained on).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
OUT = ROOT / "src" / "trialscope" / "data" / "match"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse", action="store_true", help="reuse the benchmark stores under benchmarks/out/")
    args = ap.parse_args()
    import match as bench  # benchmarks/match.py: the stores, the topics, the training

    from trialscope.match import rank
    from trialscope.store import open_store

    if not bench.SHARED.exists():
        print(f"shared data absent ({bench.SHARED}): nothing to train on", file=sys.stderr)
        return 1
    topics = []
    for name in bench.COLLECTIONS:
        store = open_store(bench.eval_store(name, args.reuse))
        notes, qrels = bench.topics_and_qrels(name)
        held = set(store.nct_ids())
        for t in notes:
            if any(n in held and g >= 1 for n, g in qrels.get(t["id"], {}).items()):
                topics.append(bench.Topic(name, t, store, qrels[t["id"]]))
        bench.log(f"{name}: {sum(t.coll == name for t in topics)} topics")
    model = bench.train(topics)
    model.about = {
        "trained_by": "scripts/train_match_ranker.py",
        "date": datetime.date.today().isoformat(),
        "collections": {n: sum(t.coll == n for t in topics) for n in bench.COLLECTIONS},
        "judged_rows": sum(len(t.judged()[1]) for t in topics),
        "loss": f"logistic on relevant (grade >= {rank.RELEVANT}), l2 {rank.L2}",
        "figures": "cross-validated by topic: see benchmarks/match.py",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / rank.MODEL_FILE).write_bytes(orjson.dumps(model.as_json(), option=orjson.OPT_INDENT_2) + b"\n")
    print(orjson.dumps(model.as_json(), option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
