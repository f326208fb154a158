"""Patient-to-trial matching quality and speed: the matcher vs BM25 vs `trialscope search`.

    .venv/bin/python benchmarks/match.py                # both collections, builds the stores once
    .venv/bin/python benchmarks/match.py --reuse        # reuse the stores under benchmarks/out/
    .venv/bin/python benchmarks/match.py --latency 500000   # ...and match latency at 500k studies

Reads ../shared/data (says so and exits 0 when it is absent). Prints JSON.

Collections (../shared/data/eval): TREC Clinical Trials 2022 (50 admission notes) and SIGIR
2016 (59 patient descriptions). Corpus: every study of ctgov/ and ctgov-extra/ (21,232),
for SIGIR also its own sparse records (title, summary, sex, ages) where no full record
exists; each collection gets its own store under benchmarks/out/ (built once; `--reuse`).

Scoring, judged-only (../shared/data/README.md): a system's ranked list (each system gives
`DEPTH` trials) loses every trial with no judgment for the topic, then
- NDCG@10 with gains 0/1/2 (linear, the trec_eval convention), the ideal ranking being the
  topic's judged trials that the corpus holds;
- P@10 and RR counting only grade 2 (eligible) as relevant;
- Recall@100: the eligible trials in the first 100 judged, over the eligible trials the
  corpus holds.
Topics whose corpus holds no trial judged relevant (grade 1 or 2) are left out: they have no
ideal ranking, and every system would score 0 on them.

Systems, in the same run, on the same store:
- `bm25`: a plain BM25 (tantivy, one field: title, conditions, brief summary, detailed
  description, eligibility criteria), queried with every word of the note;
- `search`: `trialscope search` with the note as its query (lenient);
- `match_fused`: the matcher's candidates in reciprocal-rank-fusion order (no learned ranker);
- `match`: the whole matcher: facts, candidates, two-stage learned ranking with the
  criterion-by-criterion assessment. Its ranker is trained by `rank.fit`, exactly as
  `scripts/train_match_ranker.py` trains the shipped one, but k-fold by topic: each topic is
  ranked by a model trained on the other folds' topics of BOTH collections; figures on
  training topics are never reported. Beside it: the re-rank's gain over `match_fused`
  (paired CIs), the matcher's figures over `FOLD_SPLITS` shuffled fold assignments (mean,
  min, max: how much of a difference the split alone makes) and `rerank_ceiling`, what a perfect re-rank of the assessed candidates
  would score (how much is left to the ranker, and how much only to retrieval).

Latency (`match_latency`): `trialscope.match.match()` end to end (facts, candidates,
ranking, assessment of the first rank.ASSESS, the top 20 returned) for every note of both
collections, p50/p95 over all; `--latency N` also times it at N synthetic studies
(benchmarks/corpus.py) with the index, vectors and criteria built for them. Each run also
digests every note's output (`match().as_json()`: its ranked trials, scores, assessments,
candidate count). `--baseline TREE` (with `--no-quality`) times this tree's code against
another source tree's (e.g. a worktree of main) in fresh child processes, interleaved A B B A
... for `--rounds`, on the same store, and says for how many notes the two outputs are
identical: a speed-only change must keep every one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
# --code TREE (a --baseline child): that tree's trialscope, this tree's benchmark
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv[:-1] else ROOT
sys.path.insert(0, str(CODE / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from stats import paired_ci  # noqa: E402  (after the path it is found on)

SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out"
EVAL = SHARED / "eval"
DEPTH = 1000
FOLDS = 5
FOLD_SPLITS = 10  # shuffled fold assignments the matcher is also cross-validated over (seeds 0..9)
CORPUS = [SHARED / "ctgov" / "ctg-studies.json.zip", SHARED / "ctgov" / "AllPublicXML.zip",
          SHARED / "ctgov-extra" / "AllPublicXML-extra.zip"]
COLLECTIONS = {
    # name -> (sources in ingest order: full records last, so they replace sparse ones)
    "trec2022": CORPUS,
    "sigir2016": [EVAL / "sigir2016" / "ctg-studies.json.zip", *CORPUS],
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- data ------------------------------------------------------------------------------------
def eval_store(name: str, reuse: bool) -> str:
    """The collection's store (with its search index, vectors and criteria), built once."""
    from trialscope.cli import after_ingest
    from trialscope.index import criteria as criteria_index
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    path = OUT / f"match-{name}.db"
    if reuse and path.exists():
        store = open_store(str(path))
        after_ingest(store)  # derived data the code now wants (a parser of a newer format)
        criteria_index.warm(store)  # typed now, or the first matches would type them
        store.close()
        return str(path)
    for p in OUT.glob(f"match-{name}.db*"):
        if p.is_dir():
            import shutil

            shutil.rmtree(p)
        else:
            p.unlink()
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    store = open_store(str(path))
    summary = ingest(store, [str(p) for p in COLLECTIONS[name]], progress=False)
    after_ingest(store)
    criteria_index.warm(store)
    log(f"  {name}: store of {store.count():,} studies built in {time.perf_counter() - t0:.0f}s "
        f"({summary.added:,} added, {summary.updated:,} updated)")
    store.close()
    return str(path)


def topics_and_qrels(name: str) -> tuple[list[dict], dict[str, dict[str, int]]]:
    base = EVAL / name
    topics = [orjson.loads(line) for line in (base / "topics.jsonl").read_bytes().splitlines() if line.strip()]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (base / "qrels.tsv").read_text().splitlines()[1:]:
        q, n, s = line.split("\t")
        qrels[q][n] = int(s)
    return topics, qrels


# --- scoring ---------------------------------------------------------------------------------
def score_topic(ranked: list[str], judged: dict[str, int], in_corpus: set[str]) -> dict[str, float]:
    """Judged-only NDCG@10 (linear gains), P@10, RR (grade 2), Recall@100 (grade 2)."""
    kept = [judged[n] for n in ranked if n in judged]
    top = kept[:10]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(top))
    ideal = sorted((g for n, g in judged.items() if n in in_corpus), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    rr = next((1.0 / (i + 1) for i, g in enumerate(kept) if g == 2), 0.0)
    eligible = sum(1 for n, g in judged.items() if g == 2 and n in in_corpus)
    return {"NDCG@10": dcg / idcg if idcg else 0.0, "P@10": sum(1 for g in top if g == 2) / 10, "RR": rr,
            "Recall@100": sum(1 for g in kept[:100] if g == 2) / eligible if eligible else None}


def summarise(per_topic: dict[str, dict[str, float]]) -> dict:
    out = {}
    for metric in ("NDCG@10", "P@10", "RR", "Recall@100"):
        vals = [m[metric] for m in per_topic.values() if m[metric] is not None]
        out[metric] = round(statistics.mean(vals), 4) if vals else None
    out["topics"] = len(per_topic)
    return out



# --- baselines -------------------------------------------------------------------------------
class PlainBM25:
    """One tantivy field (title, conditions, summary, description, criteria), default BM25."""

    def __init__(self, store, path: Path):
        import tantivy

        self.tantivy = tantivy
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("nct", stored=True, tokenizer_name="raw")
        sb.add_text_field("body", stored=False, tokenizer_name="en_stem")
        self.schema = sb.build()
        stamp = path / "seq"
        if not (path.exists() and stamp.exists() and stamp.read_text() == str(store.max_seq())):
            import shutil

            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            index = tantivy.Index(self.schema, path=str(path))
            w = index.writer(300_000_000, 1)
            for s in store.iter_studies():
                w.add_document(tantivy.Document(nct=s.nct_id, body=self.text(s.record)))
            w.commit()
            w.wait_merging_threads()
            stamp.write_text(str(store.max_seq()))
        self.index = tantivy.Index.open(str(path))
        self.index.reload()
        self.searcher = self.index.searcher()
        self.analyzer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(
            tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase()).filter(
            tantivy.Filter.stemmer("english")).build()

    @staticmethod
    def text(record: dict) -> str:
        p = record.get("protocolSection") or {}
        ident = p.get("identificationModule") or {}
        desc = p.get("descriptionModule") or {}
        return "\n".join(x for x in (
            ident.get("briefTitle") or "", ident.get("officialTitle") or "",
            " ; ".join((p.get("conditionsModule") or {}).get("conditions") or []),
            desc.get("briefSummary") or "", desc.get("detailedDescription") or "",
            (p.get("eligibilityModule") or {}).get("eligibilityCriteria") or "") if x)

    def search(self, note: str, k: int) -> list[str]:
        Query, Occur = self.tantivy.Query, self.tantivy.Occur
        terms = self.analyzer.analyze(note)
        if not terms:
            return []
        q = Query.boolean_query([(Occur.Should, Query.term_query(self.schema, "body", t)) for t in terms])
        return [self.searcher.doc(a)["nct"][0] for _, a in self.searcher.search(q, k).hits]


def search_run(store, note: str, k: int) -> list[str]:
    from trialscope.match.retrieve import searcher_for
    from trialscope.search import SearchRequest

    res = searcher_for(store).search(SearchRequest(query=note, lenient=True, limit=k, facets=False,
                                                   snippets=False))
    return [h.nct_id for h in res.hits]


POOL_FIRST = 50  # the fused candidates the ranker re-orders (rank.ASSESS)


DISEASES_READ = 3  # the first diseases of each reading that `pool_diagnosis` looks at


def pool_diagnosis(topics: list, judged_of: dict[str, dict[str, int]], in_corpus: set[str],
                   diseases_of: dict[str, set[str]] | None = None) -> dict:
    """Where the matcher loses, per collection: how much of what was judged relevant (grade
    1 or 2) and eligible (grade 2) its candidate pool holds in the first 50 (what the ranker
    re-orders), 100 and 1000 fused; how many trials of each grade the first 50 hold per
    topic (`grade_N_in_first50`; unjudged ones count for none); which source found the
    relevant ones (a trial may be found by several); and, given the trials' diseases
    (`diseases_of`: NCT id -> disease MeSH terms), how often each reading of the note names
    a disease of one of the topic's eligible trials among its first DISEASES_READ
    (`eligible_disease_in_first3`: the condition index's guesses, the first round's
    feedback, the agreed diseases `dis` searches, the note's stated diagnosis; over the
    topics with an eligible trial, a topic whose reading is empty counting as a miss)."""
    from trialscope.match.retrieve import SOURCE_WEIGHTS

    rec: dict[str, list[float]] = defaultdict(list)
    by_source: dict[str, list[float]] = defaultdict(list)
    named: dict[str, list[float]] = defaultdict(list)
    for t in topics:
        judged = {n: g for n, g in judged_of[t.id].items() if n in in_corpus}
        if diseases_of is not None and any(g == 2 for g in judged.values()):
            wanted = set().union(*(diseases_of.get(n, set()) for n, g in judged.items() if g == 2))
            q = t.prepared.queries
            for reading, names in (("inferred", [n for n, _ in q.inferred]), ("feedback", q.feedback),
                                   ("agreed", [n for n, _ in q.diseases]), ("stated", q.stated)):
                named[reading].append(float(bool(wanted & set(names[:DISEASES_READ]))))
        pos = {n: i for i, n in enumerate(t.ncts)}
        for label, want in (("relevant", 1), ("eligible", 2)):
            targets = [n for n, g in judged.items() if g >= want]
            if targets:
                for k in (50, 100, 1000):
                    rec[f"{label}_in_pool@{k}"].append(sum(pos.get(n, k) < k for n in targets) / len(targets))
        first = [judged.get(n, -1) for n in t.ncts[:POOL_FIRST]]
        for g in (2, 1, 0):
            rec[f"grade_{g}_in_first{POOL_FIRST}"].append(first.count(g))
        relevant = [n for n, g in judged.items() if g >= 1]
        if relevant:
            for source in SOURCE_WEIGHTS:
                by_source[source].append(sum(source in t.prepared.cands[pos[n]].ranks for n in relevant if n in pos)
                                         / len(relevant))
    out = {**{k: round(statistics.mean(v), 4) for k, v in rec.items()},
           "relevant_found_by_source": {s: round(statistics.mean(v), 4) for s, v in by_source.items()}}
    if named:
        out[f"eligible_disease_in_first{DISEASES_READ}"] = {r: round(statistics.mean(v), 4) for r, v in named.items()}
    return out


def trial_diseases(store, ncts) -> dict[str, set[str]]:
    """NCT id -> the disease MeSH terms (`condition_weight` 1) the trial is filed under, from
    the vector index's features (what the matcher's readings name diseases with)."""
    from trialscope.match.retrieve import condition_weight, vector_index

    idx = vector_index(store)
    if idx is None:
        return {}
    rows = idx.rows_of(list(ncts))
    return {n: {c for c in f.c if condition_weight(c) >= 1.0} for n, f in idx.features(list(rows.values())).values()}


def rerank_ceiling(topics: list, judged_of: dict[str, dict[str, int]], in_corpus: set[str]) -> dict:
    """What a perfect re-rank of the first `rank.ASSESS` candidates (the rest in fusion order,
    as `order` leaves them) would score: the most the ranker can add. A topic with ten
    judged trials or fewer among them gets its first ten judged from the fusion order beyond:
    no re-rank moves its P@10."""
    from trialscope.match import rank

    per, fixed = {}, 0
    for t in topics:
        judged = judged_of[t.id]
        head = sorted(t.ncts[:rank.ASSESS], key=lambda n: -judged.get(n, -1))
        per[t.id] = score_topic(head + t.ncts[rank.ASSESS:], judged, in_corpus)
        fixed += sum(n in judged for n in t.ncts[:rank.ASSESS]) <= 10
    s = summarise(per)
    return {"NDCG@10": s["NDCG@10"], "P@10": s["P@10"], "topics_whose_P@10_no_rerank_moves": fixed}


def grade_oracles(run: dict[str, list[str]], judged_of: dict[str, dict[str, int]], in_corpus: set[str]) -> dict:
    """The matcher's ranking with every judged trial of one grade moved last, as if that
    kind of mistake were never made: `excluded_read_perfectly` (each grade-1 trial known to
    exclude the patient, the most a perfect reading of the criteria could add) and
    `off_topic_read_perfectly` (each grade-0 trial known to be about something else). What
    each lever can be worth at most, in the same run."""
    out = {}
    for label, grade in (("excluded_read_perfectly", 1), ("off_topic_read_perfectly", 0)):
        per = {}
        for tid, ranked in run.items():
            judged = judged_of[tid]
            per[tid] = score_topic([n for n in ranked if judged.get(n) != grade]
                                   + [n for n in ranked if judged.get(n) == grade], judged, in_corpus)
        s = summarise(per)
        out[label] = {"NDCG@10": s["NDCG@10"], "P@10": s["P@10"]}
    return out


# --- the matcher -----------------------------------------------------------------------------
class Topic:
    """One note's matcher inputs, computed once: its candidates in fusion order, the
    assessment and features of the first `rank.ASSESS`, and their grades."""

    def __init__(self, coll: str, topic: dict, store, judged: dict[str, int]):
        from trialscope.match import (
            assess_many,
            feature_rows,
            filters_for,
            prepare,
            rank,
            read_facts,
        )

        self.coll, self.id = coll, topic["id"]
        t0 = time.perf_counter()
        facts = read_facts(topic["text"])
        self.prepared = prepare(store, topic["text"], facts, filters_for(facts))
        wanted = [c.nct_id for c in self.prepared.cands[:rank.ASSESS]]
        self.rows = feature_rows(self.prepared, assess_many(store, facts, wanted), rank.ASSESS)
        self.seconds = time.perf_counter() - t0
        self.ncts = [c.nct_id for c in self.prepared.cands]
        self.grades = [judged.get(n, -1) for n in self.ncts]

    def judged(self) -> tuple[list[dict], list[int]]:
        """The judged candidates' feature rows and grades (what the ranker learns from)."""
        keep = [i for i in range(len(self.rows)) if self.grades[i] >= 0]
        return [self.rows[i] for i in keep], [self.grades[i] for i in keep]


def train(topics: list[Topic]):
    """The ranker trained on these topics, exactly as scripts/train_match_ranker.py does."""
    from trialscope.match import rank

    return rank.fit([t.judged() for t in topics])


def folds_of(topics: list[Topic], folds: int, seed: int | None = None) -> dict[str, int]:
    """Topic id -> fold: each collection's topics dealt round-robin in id order (the reported
    figures), or in an order shuffled by `seed` (the spread over splits)."""
    import random

    by_coll = defaultdict(list)
    for t in topics:
        by_coll[t.coll].append(t)
    out = {}
    for ts in by_coll.values():
        ts = sorted(ts, key=lambda t: t.id)
        if seed is not None:
            random.Random(seed).shuffle(ts)
        out.update({t.id: i % folds for i, t in enumerate(ts)})
    return out


def matcher_runs(topics: list[Topic], folds: int, seed: int | None = None) -> dict[str, list[str]]:
    """Each topic ranked by a model trained on the other folds' topics (both collections)."""
    from trialscope.match import order

    fold_of = folds_of(topics, folds, seed)
    runs = {}
    for k in range(folds):
        model = train([t for t in topics if fold_of[t.id] != k])
        for t in topics:
            if fold_of[t.id] == k:
                ordered, _ = order(t.prepared, t.rows, model)
                runs[t.id] = [t.ncts[i] for i in ordered]
    return runs


# --- latency ---------------------------------------------------------------------------------
SERVE_GC_THRESHOLD = (100_000, 50, 50)  # trialscope.web.app_factory's


def pct(xs: list[float]) -> dict:
    xs = sorted(xs)
    if not xs:
        return {}
    return {"p50_ms": round(xs[len(xs) // 2], 1), "p95_ms": round(xs[max(0, math.ceil(len(xs) * 0.95) - 1)], 1),
            "max_ms": round(xs[-1], 1), "n": len(xs)}


def output_digest(result) -> str:
    """What a match returned, as one digest (its JSON, keys sorted)."""
    return hashlib.sha1(orjson.dumps(result.as_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def timed_matches(store, notes: list[str], repeat: int = 1) -> dict:
    """match() of every note `repeat` times: wall and CPU ms (this process, all its threads),
    each step's wall ms, the first round's output digests."""
    from trialscope.match import match

    wall, cpu, digests = [], [], []
    steps: dict[str, list[float]] = defaultdict(list)
    for r in range(repeat):
        for note in notes:
            t, c = time.perf_counter(), time.process_time()
            res = match(store, note)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            for k, v in res.timings.items():
                steps[k].append(v)
            if r == 0:
                digests.append(output_digest(res))
    return {"wall": wall, "cpu": cpu, "steps": steps, "digests": digests}


def serve_gc() -> None:
    """The collector as `serve` sets it once started (`gc.freeze()`: the long-lived objects
    leave the cyclic collector's full passes; a larger first generation)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVE_GC_THRESHOLD)


def match_latency(store, notes: list[str], repeat: int = 1) -> dict:
    """match() end to end for every note, wall and CPU (this process, all its threads), its
    steps' wall time, and one `trialscope search` of the note as the baseline; then the same
    with the collector set as `serve` sets it (`serve_gc`)."""
    import gc

    from trialscope.match import match

    for note in notes[:5]:  # warm-up: caches, index readers, the model
        match(store, note)
    out: dict = {}
    thresholds = gc.get_threshold()
    for mode in ("default_gc", "gc_as_serve_sets_it"):
        if mode == "gc_as_serve_sets_it":
            serve_gc()
        got = timed_matches(store, notes, repeat)
        base = []
        for note in notes:
            t = time.perf_counter()
            search_run(store, note, 20)
            base.append((time.perf_counter() - t) * 1000)
        out[mode] = {"match_end_to_end": pct(got["wall"]), "match_cpu_time": pct(got["cpu"]),
                     "match_steps_wall": {k: pct(v) for k, v in got["steps"].items()},
                     "baseline_search_with_the_note_top20": pct(base),
                     "outputs_sha1": hashlib.sha1("".join(got["digests"]).encode()).hexdigest(),
                     "load_average": [round(x, 2) for x in os.getloadavg()]}
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    out["note"] = ("match(): facts, eleven candidate sources fused, 50 assessed and re-ranked, the top 20 "
                   "returned; the baseline is one trialscope search of the note. CPU time is the whole "
                   "process's (the sources run on a thread pool). Wall clock includes waiting for a core "
                   "on a shared machine (see load_average)")
    return out


def latency_child(store, notes: list[str], repeat: int) -> dict:
    """One --baseline child's figures: serve's collector, after the same warm-up."""
    import trialscope
    from trialscope.match import match

    if not Path(trialscope.__file__).resolve().is_relative_to(CODE):
        raise SystemExit(f"--code {CODE}: imported trialscope from {trialscope.__file__}")
    for note in notes[:5]:
        match(store, note)
    serve_gc()
    got = timed_matches(store, notes, repeat)
    return {"wall": got["wall"], "cpu": got["cpu"], "digests": got["digests"], "load": os.getloadavg()[0]}


def compare_code(args, notes: list[str]) -> dict:
    """This tree's match() against `args.baseline`'s, each round in two fresh child
    processes (order alternating), pooled per tree; and whether every note's output is
    identical."""
    import subprocess

    trees = {"this": ROOT, "baseline": Path(args.baseline).resolve()}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(args.rounds):
        for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            cmd = [sys.executable, __file__, "--child", "--code", str(trees[name]), "--no-quality", "--reuse",
                   "--repeat", str(args.repeat), *(["--latency", str(args.latency)] if args.latency else []),
                   *(["--only", args.only] if args.only else [])]
            got = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if got.returncode:
                raise SystemExit(f"{name} child failed: {got.stderr[-2000:]}")
            runs[name].append(orjson.loads(got.stdout))
            log(f"  round {r + 1} {name}: wall p95 {pct(runs[name][-1]['wall'])['p95_ms']} ms")
    out: dict = {"rounds": args.rounds, "notes": len(notes), "repeat": args.repeat}
    for name, rs in runs.items():
        out[name] = {"tree": str(trees[name]), "match_end_to_end": pct([x for r in rs for x in r["wall"]]),
                     "match_cpu_time": pct([x for r in rs for x in r["cpu"]]),
                     "wall_p95_per_round": [pct(r["wall"])["p95_ms"] for r in rs],
                     "cpu_p95_per_round": [pct(r["cpu"])["p95_ms"] for r in rs],
                     "load_average_1min": [round(r["load"], 2) for r in rs]}
    a, b = runs["this"][0]["digests"], runs["baseline"][0]["digests"]
    out["identical_outputs"] = f"{sum(x == y for x, y in zip(a, b, strict=True))}/{len(a)}"
    out["ratio_wall_p95"] = round(out["this"]["match_end_to_end"]["p95_ms"]
                                  / out["baseline"]["match_end_to_end"]["p95_ms"], 3)
    out["ratio_cpu_p95"] = round(out["this"]["match_cpu_time"]["p95_ms"]
                                 / out["baseline"]["match_cpu_time"]["p95_ms"], 3)
    return out


# --- latency at scale ------------------------------------------------------------------------
class ComposedStore:
    """The store side of benchmarks/corpus.py's build_corpus(n, seed): records recombined on
    demand from the base pool (what match() reads from a store: the url its derived data
    hangs off, the seq, and the records it shows). The search index, vectors and criteria
    beside it are built for the same n studies."""

    def __init__(self, url: str, n: int, seed: int):
        import gc

        from corpus import base_records
        from similar import _picks

        self.url, self.n = url, n
        self.base, self.what = base_records()
        self.picks = _picks(n, seed, len(self.base))
        # the base pool is millions of long-lived objects: out of the collector's full passes
        # (they tripled the cost of every record built from it)
        gc.collect()
        gc.freeze()

    def record(self, i: int) -> dict:
        from corpus import recombine

        return recombine(i, *(self.base[j] for j in self.picks[i]))

    def max_seq(self) -> int:
        return 1  # what the search index says it holds: nothing to catch up

    def get_many(self, ncts) -> dict:
        from corpus import FIRST_ID

        out = {}
        for nct in ncts:
            i = int(nct[3:]) - FIRST_ID
            if 0 <= i < self.n:
                out[nct] = _Record(nct, self.record(i))
        return out

    def get(self, nct: str):
        return self.get_many([nct]).get(nct)

    def count(self) -> int:
        return self.n


class _Record:
    def __init__(self, nct_id: str, record: dict, seq: int = 1):
        self.nct_id, self.record, self.seq = nct_id, record, seq

    @property
    def record_json(self) -> bytes:
        return orjson.dumps(self.record)


class _CriteriaFeed:
    """build_corpus(n, seed) as store changes, for the criteria index's own catch_up."""

    def __init__(self, store: ComposedStore):
        self.store, self.url = store, store.url

    def max_seq(self) -> int:
        return self.store.n

    def changes_since(self, seq: int, limit: int = 1000) -> list[_Record]:
        from corpus import nct_for

        return [_Record(nct_for(i), self.store.record(i), i + 1) for i in range(seq, min(self.store.n, seq + limit))]


def _composed_criteria():
    """criteria_of for recombined records: a recombined study's eligibility text is one of
    the base pool's, so its parse is cached by text; its structured eligibility (ages, sex,
    conditions) is read from the record itself, as criteria_of does."""
    import msgspec

    from trialscope.criteria import eligibility_of, encode, parse_criteria

    cache: dict[str, object] = {}

    def criteria_of(record: dict) -> bytes:
        module = (record.get("protocolSection") or {}).get("eligibilityModule") or {}
        text = module.get("eligibilityCriteria") if isinstance(module.get("eligibilityCriteria"), str) else None
        key = text or ""
        parsed = cache.get(key)
        if parsed is None:
            parsed = cache[key] = parse_criteria(text)
        return encode(msgspec.structs.replace(parsed, eligibility=eligibility_of(record)))

    return criteria_of


def scale_store(n: int, seed: int = 1) -> tuple[ComposedStore, dict]:
    """The n-study corpus with its search index, vector index, condition index and criteria
    (cached)."""
    import search as search_bench
    from similar import compose_index

    from trialscope.criteria import encode, read_record
    from trialscope.index import conditions, index_path, vectors
    from trialscope.index import criteria as criteria_index
    from trialscope.index.embeddings import get_encoder

    url = str(OUT / f"match-scale-{n}-{seed}.db")
    store = ComposedStore(url, n, seed)
    built: dict = {"corpus": f"{n:,} studies: benchmarks/corpus.py build_corpus(n={n}, seed={seed}) ({store.what})"}
    t0 = time.perf_counter()
    path = index_path(store)
    from trialscope.index import FullTextIndex

    if not (os.path.isdir(path) and FullTextIndex(path).seq == 1 and FullTextIndex(path).index.searcher().num_docs == n):
        built["search_index"] = search_bench.build_trialscope(n, seed, store.base, path)
    idx = vectors.open_index(url)
    if idx is None or idx.rows != n or not vectors.is_current(idx, get_encoder()):
        t1 = time.perf_counter()
        compose_index(url, n, seed)
        built["vector_index_s"] = round(time.perf_counter() - t1, 1)
    t1 = time.perf_counter()
    if conditions.catch_up(store):  # the `inf` source's condition index (built whole, from the sampled studies)
        built["condition_index_s"] = round(time.perf_counter() - t1, 1)
    if criteria_index.seq(store) != n:
        t1 = time.perf_counter()
        real = criteria_index.criteria_of
        criteria_index.criteria_of = _composed_criteria()
        try:
            criteria_index.catch_up(_CriteriaFeed(store), workers=1)
        finally:
            criteria_index.criteria_of = real
        built["criteria_index_s"] = round(time.perf_counter() - t1, 1)
    check = _composed_criteria()  # typed, as index.criteria.warm() leaves every row
    same = sum(check(store.record(i)) == encode(read_record(store.record(i))) for i in range(200))
    built["criteria_composition_check"] = f"{same}/200 identical to read_record (typed)"
    built["ready_s"] = round(time.perf_counter() - t0, 1)
    return store, built


# --- main ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse", action="store_true", help="reuse the stores under benchmarks/out/")
    ap.add_argument("--only", choices=list(COLLECTIONS), default=None)
    ap.add_argument("--folds", type=int, default=FOLDS)
    ap.add_argument("--latency", type=int, default=0, help="also time match() at this many synthetic studies")
    ap.add_argument("--no-quality", action="store_true", help="latency only")
    ap.add_argument("--no-latency", action="store_true", help="quality only")
    ap.add_argument("--baseline", metavar="TREE", help="with --no-quality: time this code against TREE's "
                    "(fresh processes, interleaved) and compare every note's output")
    ap.add_argument("--rounds", type=int, default=3, help="--baseline: child processes per tree")
    ap.add_argument("--repeat", type=int, default=1, help="--baseline: passes over the notes per child")
    ap.add_argument("--code", metavar="TREE", help=argparse.SUPPRESS)  # a --baseline child: TREE's src
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not SHARED.exists():
        print(json.dumps({"skipped": f"shared data absent ({SHARED}); this benchmark needs it"}))
        return
    from trialscope.store import open_store

    report: dict = {"scoring": "judged-only; NDCG@10 linear gains 0/1/2, P@10 / RR / Recall@100 on grade 2",
                    "depth": DEPTH, "folds": args.folds}
    names = [args.only] if args.only else list(COLLECTIONS)
    notes = [t["text"] for n in names for t in topics_and_qrels(n)[0]]
    if args.child:
        store = scale_store(args.latency)[0] if args.latency else open_store(str(OUT / f"match-{names[0]}.db"))
        print(json.dumps(latency_child(store, notes, args.repeat)))
        return
    if args.baseline:
        if not args.no_quality:
            raise SystemExit("--baseline times latency only: give --no-quality too")
        if not args.latency:
            eval_store(names[0], args.reuse)
        report["latency_against_baseline"] = {"studies": args.latency or "shared corpus",
                                              **compare_code(args, notes)}
        print(json.dumps(report, indent=2))
        return
    if args.no_quality and args.latency:  # the scale figures only: the notes, not the 21k stores
        store, built = scale_store(args.latency)
        report[f"latency_{args.latency}"] = {"studies": args.latency, "built": built,
                                              **match_latency(store, notes), "target_p95_ms": 300}
        print(json.dumps(report, indent=2))
        return
    stores = {n: open_store(eval_store(n, args.reuse)) for n in names}
    if not args.no_quality:
        all_topics: list[Topic] = []
        per: dict[str, dict[str, dict]] = {}
        for name in names:
            store = stores[name]
            topics, qrels = topics_and_qrels(name)
            in_corpus = set(store.nct_ids())
            topics = [t for t in topics if any(n in in_corpus and g >= 1 for n, g in qrels.get(t["id"], {}).items())]
            t0 = time.perf_counter()
            bm25 = PlainBM25(store, OUT / f"match-{name}.bm25")
            log(f"{name}: {len(topics)} topics with judged trials in the corpus; BM25 ready in "
                f"{time.perf_counter() - t0:.0f}s")
            runs = {"bm25": {}, "search": {}, "match_fused": {}}
            for t in topics:
                runs["bm25"][t["id"]] = bm25.search(t["text"], DEPTH)
                runs["search"][t["id"]] = search_run(store, t["text"], DEPTH)
                mt = Topic(name, t, store, qrels[t["id"]])
                runs["match_fused"][t["id"]] = mt.ncts
                all_topics.append(mt)
            per[name] = {"runs": runs, "qrels": qrels, "in_corpus": in_corpus, "topics": topics}
            log(f"  {name}: baselines and candidates done")
        cv = matcher_runs(all_topics, args.folds)
        # the same cross-validation over other fold splits: a difference between two rankers
        # smaller than this spread is the split's luck, not the change's
        resplit = [matcher_runs(all_topics, args.folds, seed) for seed in range(FOLD_SPLITS)]
        for name in names:
            d = per[name]
            d["runs"]["match"] = {t["id"]: cv[t["id"]] for t in d["topics"]}
            scores = {sys_: {t["id"]: score_topic(run[t["id"]], d["qrels"][t["id"]], d["in_corpus"])
                             for t in d["topics"]} for sys_, run in d["runs"].items()}
            out = {sys_: summarise(s) for sys_, s in scores.items()}
            ids = [t["id"] for t in d["topics"]]
            for base in ("search", "bm25"):
                out[f"match_minus_{base}_NDCG@10_95ci"] = paired_ci(
                    [scores["match"][i]["NDCG@10"] for i in ids], [scores[base][i]["NDCG@10"] for i in ids])
            out["ranker_minus_fused_95ci"] = {m: paired_ci(  # what the learned re-rank adds to the fusion order
                [scores["match"][i][m] for i in ids], [scores["match_fused"][i][m] for i in ids]) for m in ("NDCG@10", "P@10")}
            split_scores = [summarise({t["id"]: score_topic(run[t["id"]], d["qrels"][t["id"]], d["in_corpus"])
                                       for t in d["topics"]}) for run in resplit]
            out["match_over_fold_splits"] = {m: {"mean": round(statistics.mean(s[m] for s in split_scores), 4),
                                                 "min": min(s[m] for s in split_scores),
                                                 "max": max(s[m] for s in split_scores)} for m in ("NDCG@10", "P@10")}
            out["grade_oracles"] = grade_oracles(d["runs"]["match"], d["qrels"], d["in_corpus"])
            out["rerank_ceiling"] = rerank_ceiling([t for t in all_topics if t.coll == name], d["qrels"], d["in_corpus"])
            mts = [t for t in all_topics if t.coll == name]
            eligible = {n for t in mts for n, g in d["qrels"][t.id].items() if g == 2 and n in d["in_corpus"]}
            out["candidate_pool"] = pool_diagnosis(mts, d["qrels"], d["in_corpus"],
                                                   trial_diseases(stores[name], eligible))
            top = [[d["qrels"][t["id"]][n] for n in d["runs"]["match"][t["id"]] if n in d["qrels"][t["id"]]][:10]
                   for t in d["topics"]]
            out["match_top10_judged_grades"] = {  # what ranks in the first ten judged: how many of each grade
                f"grade_{g}": round(statistics.mean(row.count(g) for row in top), 2) for g in (2, 1, 0)}
            out["candidates_per_topic_median"] = int(statistics.median(len(t.ncts) for t in mts))
            out["matcher_ms_median_during_quality_run"] = round(statistics.median(t.seconds for t in mts) * 1000, 1)
            report[name] = out
    if args.no_latency:
        print(json.dumps(report, indent=2))
        return
    report["latency_shared_corpus"] = {"studies": stores[names[0]].count(),
                                       **match_latency(stores[names[0]], notes), "target_p95_ms": 100}
    if args.latency:
        store, built = scale_store(args.latency)
        report[f"latency_{args.latency}"] = {"studies": args.latency, "built": built,
                                              **match_latency(store, notes), "target_p95_ms": 300}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
