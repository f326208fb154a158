"""Patient facts read from notes: age and sex precision and recall, and time per note.

Reads the TREC 2022 and SIGIR 2016 topics (../shared/data/eval) and the hand-checked gold in
benchmarks/data/patient_facts_gold.tsv. An age counts as right within half a year (a month
under two years). Also prints how many conditions (own, negated, family), treatments and labs
each note yields, and the extraction time per note (median, max) beside the time to lower-case
and tokenise the same notes (a floor for any reader). Prints JSON.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

from trialscope.match.patient import extract_facts

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "eval"
GOLD = ROOT / "benchmarks" / "data" / "patient_facts_gold.tsv"


def _gold() -> dict[str, tuple[float | None, str | None]]:
    out = {}
    for line in GOLD.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        tid, age, sex = line.split("\t")
        out[tid] = (float(age) if age != "None" else None, sex if sex != "None" else None)
    return out


def _pr(pairs: list[tuple[object, object]], same) -> dict:
    predicted = [p for p, _ in pairs if p is not None]
    relevant = [g for _, g in pairs if g is not None]
    correct = sum(1 for p, g in pairs if p is not None and g is not None and same(p, g))
    return {"precision": round(correct / len(predicted), 3) if predicted else None,
            "recall": round(correct / len(relevant), 3) if relevant else None,
            "predicted": len(predicted), "gold": len(relevant), "correct": correct}


def main() -> int:
    files = [SHARED / "trec2022" / "topics.jsonl", SHARED / "sigir2016" / "topics.jsonl"]
    if not all(f.exists() for f in files):
        print(json.dumps({"benchmark": "patient_facts", "skipped": "shared data absent"}))
        return 0
    topics = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    gold = _gold()
    ages, sexes, times, floor, errors = [], [], [], [], []
    counts = {"own_conditions": 0, "negated_conditions": 0, "family_conditions": 0, "treatments": 0, "labs": 0}
    for t in topics:
        start = time.perf_counter()
        facts = extract_facts(t["text"])
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        re.findall(r"\w+", t["text"].lower())
        floor.append(time.perf_counter() - start)
        g_age, g_sex = gold.get(t["id"], (None, None))
        ages.append((facts.age, g_age))
        sexes.append((facts.sex, g_sex))
        if facts.age != g_age or facts.sex != g_sex:
            errors.append({"id": t["id"], "age": [facts.age, g_age], "sex": [facts.sex, g_sex]})
        counts["own_conditions"] += len(facts.present_conditions())
        counts["negated_conditions"] += sum(c.negated for c in facts.conditions)
        counts["family_conditions"] += sum(c.family for c in facts.conditions)
        counts["treatments"] += len(facts.treatments)
        counts["labs"] += len(facts.labs)

    def same_age(p: float, g: float) -> bool:
        return abs(p - g) <= (1 / 12 if g < 2 else 0.5)

    print(json.dumps({
        "benchmark": "patient_facts",
        "topics": len(topics),
        "age": _pr(ages, same_age),
        "sex": _pr(sexes, lambda p, g: p == g),
        "mismatches": errors,
        "per_note": {k: round(v / len(topics), 2) for k, v in counts.items()},
        "extract_ms_per_note": {"median": round(statistics.median(times) * 1e3, 2), "max": round(max(times) * 1e3, 2)},
        "tokenise_ms_per_note_baseline": round(statistics.median(floor) * 1e3, 3),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
