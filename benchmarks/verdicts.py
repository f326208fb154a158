"""How right the assessment's verdicts are, against the judgments of TREC Clinical Trials 2022.

    .venv/bin/python benchmarks/verdicts.py                         # benchmarks/out/match-trec2022.db
    .venv/bin/python benchmarks/verdicts.py --store STORE.db --examples 5 --dump out.jsonl

Reads ../shared/data/eval (says so and exits 0 when it is absent) and a store holding the
shared corpus (benchmarks/match.py builds `match-trec2022.db`; only its records are read).
Prints JSON.

TREC's grades say what a human assessor decided for a (note, trial) pair: 2 eligible,
1 excluded (the right disease, but a criterion rules the patient out), 0 not relevant. For
every judged pair whose trial the store holds, the trial's criteria are parsed and typed by
this checkout's code (`criteria.read_record`, not the store's derived index, so a change to
typing shows at once) and assessed against the note's facts (`match.read_facts`,
`assess.assess`). Then:

- `excluded`: precision and recall of the "excluded" verdict for grade 1 among the relevant
  pairs (grades 1 and 2): an "excluded" verdict on a grade-2 trial is a **false exclusion**;
- `false_exclusions` / `true_exclusions`: counted by what decided them, the decisive
  criterion's section and kind ("exclusion/condition", "inclusion/lab", "structured/age");
  a criterion decided by its sub-items counts under the deciding item's kind;
- `verdicts`: every verdict against every grade (grade 0 included: an "excluded" there is
  neither right nor wrong);
- `likely`: how often "likely eligible" lands on each grade (lower on grades 1 and 0 is
  better), and the share of grade 2 among them;
- `examples`: the first false exclusions of each kind (note, trial, criterion, reason).

`--dump` writes every decisive verdict on a relevant pair (one JSON line each) for reading;
`--missed` every grade-1 pair the assessment does not exclude, with each criterion's status
and reason: what to read to find the criterion the assessor must have used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from match import EVAL, OUT, topics_and_qrels  # noqa: E402  (after the path it is found on)


def deciding(r):
    """The result that decided a decisive criterion: itself, or the sub-item that did."""
    while r.children and not r.criterion.facts:
        kid = next((c for c in r.children if c.status == r.status), None)
        if kid is None:
            break
        r = kid
    return r


def _key(r) -> str:
    d = deciding(r)
    return f"{r.section}/{d.criterion.kind}" if r.section != "structured" else f"structured/{r.criterion.label}"


def evaluate(store_path: str, collection: str, examples: int, dump: str | None, missed: str | None = None) -> dict:
    from trialscope.criteria import read_record
    from trialscope.match import read_facts
    from trialscope.match.assess import EXCLUDED, LIKELY, assess
    from trialscope.store import open_store

    topics, qrels = topics_and_qrels(collection)
    store = open_store(store_path)
    cpu, wall = time.process_time(), time.perf_counter()
    parsed: dict[str, object] = {}
    verdicts: Counter = Counter()
    false_by: Counter = Counter()
    true_by: Counter = Counter()
    shown: dict[str, list] = defaultdict(list)
    lines = []
    missed_lines = []
    parse_s = assess_s = 0.0
    for tp in topics:
        judged = qrels.get(tp["id"], {})
        need = [n for n in judged if n not in parsed]
        t = time.process_time()
        for n, s in store.get_many(need).items():
            parsed[n] = read_record(s.record)
        for n in need:
            parsed.setdefault(n, None)
        parse_s += time.process_time() - t
        t = time.process_time()
        facts = read_facts(tp["text"], {})
        for nct, grade in sorted(judged.items()):
            crit = parsed.get(nct)
            if crit is None:
                continue
            a = assess(crit, facts)
            verdicts[(a.eligible, grade)] += 1
            if missed and grade == 1 and a.eligible != EXCLUDED:
                missed_lines.append(_missed_row(tp, nct, a))
            if a.eligible != EXCLUDED or grade == 0:
                continue
            first = a.decisive[0]
            key = _key(first)
            (false_by if grade == 2 else true_by)[key] += 1
            d = deciding(first)
            row = {"topic": tp["id"], "nct": nct, "grade": grade, "key": key,
                   "criterion": f"{first.section} {first.criterion.label}".strip(),
                   "text": d.criterion.text[:300], "reason": d.reason,
                   "evidence": [tp["text"][e.start:e.end] if e.start >= 0 else e.fact for e in d.evidence][:3],
                   "decisive": len(a.decisive)}
            if dump:
                lines.append(row)
            if grade == 2 and len(shown[key]) < examples:
                shown[key].append(row)
        assess_s += time.process_time() - t
    store.close()

    def count(verdict: str | None = None, grade: int | None = None) -> int:
        return sum(v for (ve, g), v in verdicts.items()
                   if (verdict is None or ve == verdict) and (grade is None or g == grade))

    excl_relevant = count(EXCLUDED, 1) + count(EXCLUDED, 2)
    if dump:
        Path(dump).write_text("".join(json.dumps(x) + "\n" for x in lines))
    if missed:
        Path(missed).write_text("".join(json.dumps(x) + "\n" for x in missed_lines))
    likely = count(LIKELY)
    return {
        "benchmark": "assessment verdicts vs judgments", "collection": collection,
        "store": Path(store_path).name, "topics": len(topics), "judged_pairs_in_store": count(),
        "trials_parsed": sum(1 for c in parsed.values() if c is not None),
        "load_average": round(os.getloadavg()[0], 2),
        "seconds": {"wall": round(time.perf_counter() - wall, 1), "cpu": round(time.process_time() - cpu, 1),
                    "cpu_parse_and_type": round(parse_s, 1), "cpu_assess": round(assess_s, 1)},
        "excluded": {
            "precision": round(count(EXCLUDED, 1) / excl_relevant, 3) if excl_relevant else None,
            "recall": round(count(EXCLUDED, 1) / count(grade=1), 3) if count(grade=1) else None,
            "false_exclusions": count(EXCLUDED, 2), "eligible_pairs": count(grade=2),
            "false_exclusion_rate": round(count(EXCLUDED, 2) / count(grade=2), 3) if count(grade=2) else None,
            "true_exclusions": count(EXCLUDED, 1), "excluded_pairs": count(grade=1),
            "on_not_relevant": count(EXCLUDED, 0), "not_relevant_pairs": count(grade=0)},
        "likely": {"on_eligible": count(LIKELY, 2), "on_excluded": count(LIKELY, 1), "on_not_relevant": count(LIKELY, 0),
                   "eligible_share": round(count(LIKELY, 2) / likely, 3) if likely else None},
        "verdicts": {f"{v} / grade {g}": n for (v, g), n in sorted(verdicts.items())},
        "false_exclusions": dict(false_by.most_common()),
        "true_exclusions": dict(true_by.most_common()),
        "examples": dict(shown),
    }


def _missed_row(tp: dict, nct: str, a) -> dict:
    """A grade-1 pair the assessment let through: its verdict and every criterion read."""
    note = tp["text"]
    return {"topic": tp["id"], "nct": nct, "verdict": a.eligible, "explanation": a.explanation,
            "criteria": [{"section": r.section, "kind": r.criterion.kind, "status": r.status,
                          "text": r.criterion.text[:300], "reason": r.reason,
                          "evidence": [note[e.start:e.end] if e.start >= 0 else e.fact for e in r.evidence][:3]}
                         for r in a.criteria]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(OUT / "match-trec2022.db"))
    parser.add_argument("--collection", default="trec2022", choices=("trec2022", "sigir2016"))
    parser.add_argument("--examples", type=int, default=3, help="false exclusions shown per kind")
    parser.add_argument("--dump", metavar="JSONL", help="write every decisive verdict on a relevant pair here")
    parser.add_argument("--missed", metavar="JSONL", help="write every grade-1 pair not excluded here, criterion by criterion")
    args = parser.parse_args()
    if not (EVAL / args.collection / "qrels.tsv").exists() or not Path(args.store).exists():
        print(json.dumps({"skipped": f"absent: {EVAL / args.collection} or {args.store} "
                                     "(benchmarks/match.py builds the store)"}))
        return 0
    print(json.dumps(evaluate(args.store, args.collection, args.examples, args.dump, args.missed), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
