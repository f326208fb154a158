"""Search at scale: index build rate and query latency, trialscope (tantivy) vs SQLite FTS5
vs PostgreSQL tsvector, on the same corpus and the same queries in the same run.

The corpus is `benchmarks/corpus.py`: N studies (default 500,000) recombined from the shared
real records with new NCT ids (NCT9xxxxxxx): real text, synthetic combinations. Each system
answers every query as the product does: top 20 by relevance, the total count, and eight
facets over the filtered result set (status, phase, study type, intervention type, sponsor
class, country, condition MeSH terms, has results).

    python benchmarks/search.py --n 50000            # quick
    python benchmarks/search.py                      # 500,000 (tens of minutes; builds 3 indexes)
    python benchmarks/search.py --n 50000 --no-pg --no-fts

Prints JSON: build rates, latency p50/p95/p99 (ms) per system and per query kind, and the
ratios FTS5/trialscope and PostgreSQL/trialscope. Without ../shared/data the corpus is made
from the in-repo sample (and the output says so); without PostgreSQL binaries that baseline
is skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import OUT, base_records, build_corpus  # noqa: E402

from trialscope.index import FullTextIndex, bulk_build  # noqa: E402
from trialscope.index.fulltext import TEXT_WEIGHTS, study_document  # noqa: E402
from trialscope.search import OPEN_STATUSES, Searcher, SearchRequest  # noqa: E402
from trialscope.web.app import PAGE_FACETS  # noqa: E402

FACET_SINGLE = {"status": "status", "study_type": "stype", "sponsor_class": "sclass", "has_results": "results"}
FACET_MULTI = {"phase": "phase", "intervention_type": "itype", "country": "country", "condition_mesh": "mesh_facet"}
FACET_SIZE = {"status": 20, "phase": 10, "study_type": 5, "intervention_type": 15, "sponsor_class": 10,
              "country": 25, "condition_mesh": 15, "has_results": 2}
WORD = re.compile(r"^[a-z][a-z0-9]{2,}$")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50": round(pct(ms, 50), 3), "p95": round(pct(ms, 95), 3),
            "p99": round(pct(ms, 99), 3), "mean": round(statistics.fmean(ms), 3) if ms else None}


# ---------------------------------------------------------------------------------------
# The query set: structured, rendered for each system


def make_queries(base: list[dict], seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    conds, drugs, sponsors, words = Counter(), Counter(), Counter(), Counter()
    countries = Counter()
    for rec in base:
        p = rec.get("protocolSection") or {}
        for c in (p.get("conditionsModule") or {}).get("conditions") or ():
            toks = c.lower().split()
            if 1 <= len(toks) <= 3 and all(WORD.match(t) for t in toks):
                conds[" ".join(toks)] += 1
                words.update(toks)
        for iv in (p.get("armsInterventionsModule") or {}).get("interventions") or ():
            name = (iv.get("name") or "").lower().split()
            if iv.get("type") == "DRUG" and name and WORD.match(name[0]) and len(name[0]) > 5:
                drugs[name[0]] += 1
        lead = ((p.get("sponsorCollaboratorsModule") or {}).get("leadSponsor") or {}).get("name") or ""
        toks = lead.lower().split()[:2]
        if toks and all(WORD.match(t) for t in toks):
            sponsors[" ".join(toks)] += 1
        for loc in (p.get("contactsLocationsModule") or {}).get("locations") or ():
            if loc.get("country"):
                countries[loc["country"]] += 1
    stop = {"and", "the", "with", "for", "disease", "syndrome", "type", "chronic", "acute"}
    cond_list = [c for c, n in conds.most_common(400) if n >= 2]
    word_list = [w for w, n in words.most_common(300) if w not in stop]
    drug_list = [d for d, n in drugs.most_common(200) if n >= 2]
    sponsor_list = [s for s, n in sponsors.most_common(100)]
    country_list = [c for c, n in countries.most_common(15)]

    def filt(kind: str) -> dict:
        f: dict = {}
        if kind in ("filtered", "filters_only"):
            choice = rng.randrange(5)
            if choice == 0:
                f["status"] = ["open"]
            elif choice == 1:
                f["phase"] = [rng.choice(["PHASE2", "PHASE3"])]
            elif choice == 2:
                f["status"] = ["open"]
                f["age"] = rng.choice([8, 30, 45, 70])
            elif choice == 3:
                f["country"] = [rng.choice(country_list)] if country_list else []
            else:
                f["has_results"] = True
                f["phase"] = ["PHASE3"]
        return f

    plan = [("word", 0.15), ("words", 0.2), ("phrase", 0.12), ("cond", 0.12), ("intr", 0.08),
            ("spons", 0.04), ("filtered", 0.15), ("filters_only", 0.06), ("boolean", 0.04), ("prefix", 0.04)]
    out: list[dict] = []
    for kind, share in plan:
        for _ in range(max(1, round(count * share))):
            q: dict = {"kind": kind, "filters": filt(kind)}
            if kind == "word":
                q["terms"] = [("word", rng.choice(word_list))]
            elif kind in ("words", "filtered"):
                c = rng.choice(cond_list).split()
                if len(c) == 1:
                    c.append(rng.choice(word_list))
                q["terms"] = [("word", w) for w in c]
            elif kind == "phrase":
                q["terms"] = [("phrase", rng.choice([c for c in cond_list if " " in c] or cond_list))]
            elif kind == "cond":
                q["field"], q["terms"] = "cond", [("phrase", rng.choice(cond_list))]
            elif kind == "intr":
                q["field"], q["terms"] = "intr", [("word", rng.choice(drug_list))]
            elif kind == "spons":
                q["field"], q["terms"] = "spons", [("phrase", rng.choice(sponsor_list))]
            elif kind == "filters_only":
                q["terms"] = []
            elif kind == "boolean":
                a, b = rng.sample(drug_list, 2)
                if rng.random() < 0.5:
                    q["terms"], q["op"] = [("word", a), ("word", b)], "or"
                else:
                    q["terms"], q["op"] = [("word", rng.choice(word_list)), ("word", b)], "andnot"
            elif kind == "prefix":
                q["terms"] = [("prefix", rng.choice([w for w in word_list if len(w) >= 7])[:5])]
            out.append(q)
    return out


def ts_request(q: dict) -> SearchRequest:
    parts = []
    for kind, text in q["terms"]:
        parts.append(f'"{text}"' if kind == "phrase" else (text + "*" if kind == "prefix" else text))
    op = q.get("op")
    if op == "or":
        text = " OR ".join(parts)
    elif op == "andnot":
        text = f"{parts[0]} -{parts[1]}"
    else:
        text = " ".join(parts)
    if q.get("field"):
        text = f"{q['field']}:({text})" if len(parts) > 1 else f"{q['field']}:{text}"
    f = q["filters"]
    return SearchRequest(query=text, status=f.get("status", []), phase=f.get("phase", []),
                         age=f.get("age"), country=f.get("country", []), has_results=f.get("has_results"),
                         limit=20, facets=True, snippets=False)


# ---------------------------------------------------------------------------------------
# trialscope


class _IndexOnly:
    """A stand-in store for a ready-made index directory (nothing to catch up)."""

    def __init__(self, index_dir: str):
        self.url = index_dir.removesuffix(".index")

    def max_seq(self) -> int:
        return 0


def build_trialscope(n: int, seed: int, base: list[dict], path: str) -> dict:
    if os.path.isdir(path):
        shutil.rmtree(path)
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)

    def progress(i: int) -> None:
        if i % 100_000 == 0:
            log(f"  trialscope: {i:,} indexed, {i / (time.perf_counter() - t0):,.0f}/s")

    # the product's bulk build (`trialscope index`, a first ingest): same writer, one commit
    bulk_build(path, (study_document(rec) for rec in build_corpus(n, seed, base)), progress, expected=n)
    return _built(path, n, t0, r0)


def build_trialscope_in_pass(docs, n: int, path: str) -> dict:
    """The trialscope index from the baselines' pass (--build-baselines --with-trialscope):
    the same bulk build on the documents that pass makes anyway; its seconds and CPU are
    shared with the baselines' loading (one process), so they are no build rate."""
    if os.path.isdir(path):
        shutil.rmtree(path)
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    bulk_build(path, (doc for _, _, doc in docs), expected=n)
    out = _built(path, n, t0, r0)
    out["note"] = "built in the baselines' pass: time and CPU shared with them"
    return out


def _built(path: str, n: int, t0: float, r0) -> dict:
    dt = time.perf_counter() - t0
    cpu = _cpu_since(r0)
    FullTextIndex(path).set_seq(1)
    size = sum(f.stat().st_size for f in Path(path).iterdir())
    return {"studies": n, "seconds": round(dt, 1), "studies_per_s": round(n / dt), "index_mb": round(size / 1e6),
            "cpu_s": round(cpu, 1), "studies_per_cpu_s": round(n / cpu)}


def _cpu_since(r0) -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime - r0.ru_utime) + (r.ru_stime - r0.ru_stime)


def run_trialscope(searcher: Searcher, queries: list[dict], mode: str = "full") -> tuple[list[float], list[int]]:
    """Time each query as one surface asks for it (wall clock and process CPU, all threads):
    `full`: hits + total + all 8 facets (the CLI's JSON; what the baselines compute);
    `api`: hits + total (the API v2 search: no facets in its contract, no snippets);
    `page`: hits + total + snippets (the search page's first paint);
    `facets`: the page's four facets alone, given the total the page showed (/facets)."""
    times, totals, cpu = [], [], []
    for q in queries:
        req = ts_request(q)
        if mode in ("api", "page"):
            req.facets, req.snippets = False, mode == "page"
        hint = _TOTALS.get(id(q)) if mode == "facets" else None
        c, t = time.process_time(), time.perf_counter()
        if mode == "facets":
            searcher.facet_counts(req, PAGE_FACETS, hint)
            total = hint
        else:
            total = searcher.search(req).total
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        totals.append(total)
        if mode == "api":
            _TOTALS[id(q)] = total
    return times, totals, cpu


_TOTALS: dict[int, int] = {}  # query -> its total, from the api pass (the page's total)


# ---------------------------------------------------------------------------------------
# shared field extraction for the baselines: exactly the text trialscope indexes


FTS_COLS = list(TEXT_WEIGHTS)


def corpus_fields(n: int, seed: int, base: list[dict]):
    """(i, fields, document) for the corpus: the study's tantivy document (what trialscope
    indexes) and its fields as a dict (what both baselines load)."""
    for i, rec in enumerate(build_corpus(n, seed, base), 1):
        doc = study_document(rec)
        yield i, doc.to_dict(), doc


def fan_out(stream, consumers) -> list:
    """Run each consumer(iterable) in its own thread over one pass of `stream` (the fields
    are built once for both baselines: building them is most of the cost); -> their results."""
    import queue
    import threading

    done = object()
    queues = [queue.Queue(maxsize=256) for _ in consumers]
    results: list = [None] * len(consumers)
    errors: list = []

    def drain(q):
        while (item := q.get()) is not done:
            yield item

    def run(k, consume):
        try:
            results[k] = consume(drain(queues[k]))
        except BaseException as exc:  # reported after the pass
            errors.append(exc)
            while queues[k].get() is not done:  # keep the producer unblocked
                pass

    threads = [threading.Thread(target=run, args=(k, c)) for k, c in enumerate(consumers)]
    for t in threads:
        t.start()
    for item in stream:
        for q in queues:
            q.put(item)
    for q in queues:
        q.put(done)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def kept_pg_server(folder: Path):
    """A PostgreSQL cluster in `folder` that outlives the run (--keep / --reuse): started
    on a kept data directory when there is one; `.stop()` stops it and keeps the files."""
    from trialscope.store.postgres import TemporaryServer

    class Kept(TemporaryServer):
        def start(self):
            if not (folder / "data").exists():
                shutil.rmtree(folder, ignore_errors=True)
                shutil.move(str(self.dir), str(folder))
                self.dir = folder
                return super().start()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = folder
            opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=200"
                    " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            self._run(str(self.bindir / "pg_ctl"), "-D", str(folder / "data"), "-o", opts,
                      "-l", str(folder / "server.log"), "-w", "-t", "120", "start")
            return self

        def stop(self):
            with contextlib.suppress(Exception):
                self._run(str(self.bindir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop")

    return Kept()


def build_fts(docs, path: str) -> dict:
    """FTS5 over `docs`: (i, fields, document) triples (see corpus_fields)."""
    if os.path.exists(path):
        os.unlink(path)
    db = sqlite3.connect(path)
    db.executescript(f"""
        PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;
        CREATE VIRTUAL TABLE fts USING fts5({", ".join(FTS_COLS)},
            tokenize="porter unicode61 remove_diacritics 2");
        CREATE TABLE meta(id INTEGER PRIMARY KEY, nct TEXT, title TEXT, status TEXT, stype TEXT,
            sclass TEXT, results TEXT, min_age REAL, max_age REAL);
        CREATE TABLE mv(id INTEGER, f TEXT, v TEXT);
    """)
    # bulk load: no incremental merging while loading (only FTS5's crisis merge of 16
    # segments at a level, fewer rewrites than the default 4), one 'optimize' at the end
    db.execute("INSERT INTO fts(fts, rank) VALUES('automerge', 0)")
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    rows, metas, mvs = [], [], []
    n = 0
    for i, d, _ in docs:
        n = i
        rows.append((i, *(" \n ".join(d.get(c, [])) for c in FTS_COLS)))
        hit = orjson.loads(d["hit"][0])
        metas.append((i, d["nct"][0], hit.get("t"), *(d.get(f, [None])[0] for f in ("status", "stype", "sclass", "results")),
                      d["min_age"][0], d["max_age"][0]))
        for name, f in FACET_MULTI.items():
            for v in d.get(f, []):
                mvs.append((i, name, v))
        if len(rows) >= 5000:
            _fts_flush(db, rows, metas, mvs)
        if i % 100_000 == 0:
            log(f"  fts5: {i:,} indexed, {i / (time.perf_counter() - t0):,.0f}/s")
    _fts_flush(db, rows, metas, mvs)
    db.executescript("""
        CREATE INDEX meta_status ON meta(status); CREATE INDEX mv_id ON mv(id, f);
        CREATE INDEX mv_fv ON mv(f, v, id); INSERT INTO fts(fts) VALUES('optimize'); ANALYZE;
    """)
    db.commit()
    dt = time.perf_counter() - t0
    cpu = _cpu_since(r0)
    db.close()
    return {"studies": n, "seconds": round(dt, 1), "studies_per_s": round(n / dt),
            "db_mb": round(os.path.getsize(path) / 1e6), "cpu_s": round(cpu, 1), "studies_per_cpu_s": round(n / cpu),
            "note": "includes extracting the same fields trialscope indexes (study_document) per study"}


def _fts_flush(db, rows, metas, mvs) -> None:
    db.executemany(f"INSERT INTO fts(rowid, {', '.join(FTS_COLS)}) VALUES ({', '.join('?' * (len(FTS_COLS) + 1))})", rows)
    db.executemany("INSERT INTO meta VALUES (?,?,?,?,?,?,?,?,?)", metas)
    db.executemany("INSERT INTO mv VALUES (?,?,?)", mvs)
    rows.clear(), metas.clear(), mvs.clear()


_FTS_FIELD = {"cond": "{cond mesh mesh_anc}", "intr": "{intr}", "spons": "{lead collab}"}


def fts_match(q: dict) -> str | None:
    parts = []
    for kind, text in q["terms"]:
        if kind == "prefix":
            parts.append(f'"{text}" *')
        else:
            parts.append(f'"{text}"' if kind == "phrase" else f'"{text}"')
    if not parts:
        return None
    op = q.get("op")
    if op == "or":
        expr = " OR ".join(parts)
    elif op == "andnot":
        expr = f"{parts[0]} NOT {parts[1]}"
    else:
        expr = " AND ".join(parts)
    if q.get("field"):
        expr = f"{_FTS_FIELD[q['field']]} : ({expr})"
    return expr


def sql_filters(f: dict, id_col: str, meta: str, mv: str, ph: str) -> tuple[list[str], list]:
    """WHERE clauses (+ params) for the filters; `ph` is the placeholder style."""
    where, params = [], []
    if f.get("status"):
        vals = [s for v in f["status"] for s in (OPEN_STATUSES if v == "open" else [v])]
        where.append(f"{meta}.status IN ({', '.join([ph] * len(vals))})")
        params += vals
    if f.get("age") is not None:
        days = f["age"] * 365.25
        where.append(f"{meta}.min_age <= {ph} AND {meta}.max_age >= {ph}")
        params += [days, days]
    if f.get("has_results") is not None:
        where.append(f"{meta}.results = {ph}")
        params.append("true" if f["has_results"] else "false")
    for name in ("phase", "country"):
        if f.get(name):
            clause, vals = mv(name, list(f[name]))
            where.append(clause)
            params += vals
    return where, params


def run_fts(path: str, queries: list[dict]) -> tuple[list[float], list[int]]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA cache_size=-1000000")
    db.execute("PRAGMA temp_store=MEMORY")
    db.execute("CREATE TEMP TABLE hits(id INTEGER PRIMARY KEY)")
    weights = ", ".join(str(TEXT_WEIGHTS[c]) for c in FTS_COLS)
    times, totals, cpu = [], [], []
    for q in queries:
        c, t = time.process_time(), time.perf_counter()
        match = fts_match(q)
        where, params = sql_filters(
            q["filters"], "id", "meta",
            lambda name, vals: (f"meta.id IN (SELECT id FROM mv WHERE f = '{name}' AND v IN ({', '.join('?' * len(vals))}))",
                                vals), "?")
        db.execute("DELETE FROM hits")
        if match:
            # (not "... AND rowid IN hits": FTS5 would then run the MATCH once per hit)
            join = " JOIN meta ON meta.id = fts.rowid" if where else ""
            cond = " WHERE fts MATCH ?" + "".join(" AND " + w for w in where)
            db.execute("INSERT INTO hits SELECT fts.rowid FROM fts" + join + cond, [match, *params])
            top = db.execute(f"SELECT fts.rowid, bm25(fts, {weights}) AS r FROM fts{join}{cond} "
                             "ORDER BY r LIMIT 20", [match, *params]).fetchall()
        else:
            db.execute("INSERT INTO hits SELECT meta.id FROM meta" + (" WHERE " + " AND ".join(where) if where else ""), params)
            top = db.execute("SELECT id, 0 FROM hits ORDER BY id LIMIT 20").fetchall()
        total = db.execute("SELECT count(*) FROM hits").fetchone()[0]
        ids = [r[0] for r in top]
        db.execute(f"SELECT nct, title FROM meta WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall()
        for name, col in FACET_SINGLE.items():
            db.execute(f"SELECT m.{col}, count(*) c FROM hits JOIN meta m ON m.id = hits.id GROUP BY 1 "
                       f"ORDER BY c DESC LIMIT {FACET_SIZE[name]}").fetchall()
        for name in FACET_MULTI:
            db.execute("SELECT v, count(*) c FROM hits JOIN mv ON mv.id = hits.id AND mv.f = ? GROUP BY v "
                       f"ORDER BY c DESC LIMIT {FACET_SIZE[name]}", [name]).fetchall()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        totals.append(total)
    db.close()
    return times, totals, cpu


# ---------------------------------------------------------------------------------------
# PostgreSQL tsvector

_PG_WEIGHT = {"title": "A", "acronym": "A", "cond": "A", "ids": "A", "mesh": "B", "intr": "B", "kw": "B",
              "summary": "C", "descr": "C", "outc": "C", "lead": "C", "collab": "C",
              "elig": "D", "loc": "D", "mesh_anc": "D"}
_PG_FIELD = {"cond": "tsv_cond", "intr": "tsv_intr", "spons": "tsv_spons"}


def build_pg(docs, url: str) -> dict:
    """PostgreSQL tsvector over `docs`: (i, fields, document) triples, bulk loaded: COPY into
    an unlogged table whose row trigger computes the tsvectors as the rows arrive (so the
    server's text analysis overlaps the client's field extraction, on the other core), the
    GIN and other indexes created after the load, each with maintenance_work_mem."""
    import psycopg

    n = 0
    cols = list(_PG_WEIGHT)
    tsv = " || ".join(f"setweight(to_tsvector('english', coalesce(NEW.f_{c}, '')), '{w}')" for c, w in _PG_WEIGHT.items())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("""CREATE UNLOGGED TABLE docs (id int, nct text, title text, status text, stype text,
            sclass text, results text, min_age real, max_age real, phase text[], itype text[],
            country text[], mesh text[], tsv tsvector, tsv_cond tsvector, tsv_intr tsvector, tsv_spons tsvector)""")
        conn.execute(f"""CREATE UNLOGGED TABLE stage (id int, nct text, title text, status text, stype text,
            sclass text, results text, min_age real, max_age real, phase text[], itype text[],
            country text[], mesh text[], {", ".join(f"f_{c} text" for c in cols)})""")
        conn.execute(f"""CREATE FUNCTION stage_to_docs() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO docs VALUES (NEW.id, NEW.nct, NEW.title, NEW.status, NEW.stype, NEW.sclass,
                NEW.results, NEW.min_age, NEW.max_age, NEW.phase, NEW.itype, NEW.country, NEW.mesh, {tsv},
                to_tsvector('english', coalesce(NEW.f_cond, '') || ' ' || coalesce(NEW.f_mesh, '') || ' '
                            || coalesce(NEW.f_mesh_anc, '')),
                to_tsvector('english', coalesce(NEW.f_intr, '')),
                to_tsvector('english', coalesce(NEW.f_lead, '') || ' ' || coalesce(NEW.f_collab, '')));
              RETURN NULL;
            END $$""")
        conn.execute("CREATE TRIGGER stage_rows BEFORE INSERT ON stage FOR EACH ROW EXECUTE FUNCTION stage_to_docs()")
        t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        with conn.cursor() as cur, cur.copy("COPY stage FROM STDIN") as cp:
            for i, d, _ in docs:
                n = i
                hit = orjson.loads(d["hit"][0])
                cp.write_row((i, d["nct"][0], hit.get("t"), *(d.get(f, [None])[0] for f in ("status", "stype", "sclass", "results")),
                              d["min_age"][0], d["max_age"][0], d.get("phase", []), d.get("itype", []),
                              d.get("country", []), d.get("mesh_facet", []), *(" \n ".join(d.get(c, [])) for c in cols)))
                if i % 100_000 == 0:
                    log(f"  postgres: {i:,} copied, {i / (time.perf_counter() - t0):,.0f}/s")
        load_s = time.perf_counter() - t0
        conn.execute("DROP TABLE stage")
        conn.execute("DROP FUNCTION stage_to_docs()")
        for c in ("tsv", "tsv_cond", "tsv_intr", "tsv_spons"):
            conn.execute(f"CREATE INDEX ON docs USING gin ({c})")
        conn.execute("CREATE INDEX ON docs (id)")
        conn.execute("CREATE INDEX ON docs (status)")
        conn.execute("CREATE INDEX ON docs USING gin (phase)")
        conn.execute("CREATE INDEX ON docs USING gin (country)")
        conn.execute("VACUUM ANALYZE docs")
        dt = time.perf_counter() - t0
        size = conn.execute("SELECT pg_total_relation_size('docs')").fetchone()[0]
    return {"studies": n, "seconds": round(dt, 1), "studies_per_s": round(n / dt), "db_mb": round(size / 1e6),
            "load_seconds": round(load_s, 1), "index_seconds": round(dt - load_s, 1),
            "client_cpu_s": round(_cpu_since(r0), 1),
            "note": "client CPU is the whole benchmark process (both baselines' field extraction and loading); "
                    "the server's CPU is not in it"}


def pg_tsquery(q: dict) -> tuple[str, list] | None:
    parts, params = [], []
    for kind, text in q["terms"]:
        if kind == "phrase":
            parts.append("phraseto_tsquery('english', %s)")
            params.append(text)
        elif kind == "prefix":
            parts.append("to_tsquery('english', %s)")
            params.append(text + ":*")
        else:
            parts.append("plainto_tsquery('english', %s)")
            params.append(text)
    if not parts:
        return None
    op = q.get("op")
    if op == "or":
        expr = " || ".join(parts)
    elif op == "andnot":
        expr = f"{parts[0]} && !!{parts[1]}"
    else:
        expr = " && ".join(parts)
    return f"({expr})", params


def run_pg(url: str, queries: list[dict]) -> tuple[list[float], list[int]]:
    import psycopg

    times, totals = [], []  # wall clock only: the work happens in the server process
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute("CREATE TEMP TABLE hits (id int PRIMARY KEY)")
        for q in queries:
            t = time.perf_counter()
            tq = pg_tsquery(q)
            fixed, fparams = sql_filters(q["filters"], "id", "d", lambda name, vals: (f"d.{name} && %s::text[]", [vals]), "%s")
            conn.execute("TRUNCATE hits")
            col = _PG_FIELD.get(q.get("field"), "tsv")
            if tq:
                sql, tparams = tq
                conn.execute(f"INSERT INTO hits SELECT d.id FROM docs d WHERE d.{col} @@ {sql}"
                             + "".join(" AND " + w for w in fixed), [*tparams, *fparams])
                top = conn.execute(f"SELECT d.id, ts_rank(d.{col}, {sql}) r FROM docs d JOIN hits h ON h.id = d.id "
                                   "ORDER BY r DESC LIMIT 20", tparams).fetchall()
            else:
                conn.execute("INSERT INTO hits SELECT d.id FROM docs d" + (" WHERE " + " AND ".join(fixed) if fixed else ""),
                             fparams)
                top = conn.execute("SELECT id, 0 FROM hits ORDER BY id LIMIT 20").fetchall()
            total = conn.execute("SELECT count(*) FROM hits").fetchone()[0]
            conn.execute("SELECT nct, title FROM docs WHERE id = ANY(%s)", [[r[0] for r in top]]).fetchall()
            for name, col_ in FACET_SINGLE.items():
                conn.execute(f"SELECT d.{col_}, count(*) c FROM hits h JOIN docs d ON d.id = h.id GROUP BY 1 "
                             f"ORDER BY c DESC LIMIT {FACET_SIZE[name]}").fetchall()
            for name, col_ in {"phase": "phase", "intervention_type": "itype", "country": "country",
                               "condition_mesh": "mesh"}.items():
                conn.execute(f"SELECT v, count(*) c FROM hits h JOIN docs d ON d.id = h.id, unnest(d.{col_}) v "
                             f"GROUP BY v ORDER BY c DESC LIMIT {FACET_SIZE[name]}").fetchall()
            times.append((time.perf_counter() - t) * 1000)
            totals.append(total)
    return times, totals


# ---------------------------------------------------------------------------------------


def by_kind(queries: list[dict], times: list[float]) -> dict:
    kinds: dict[str, list[float]] = {}
    for q, t in zip(queries, times, strict=True):
        kinds.setdefault(q["kind"], []).append(t)
    return {k: summary(v) for k, v in kinds.items()}


def pass_breakdown(searcher: Searcher, queries: list[dict], repeat: int) -> dict:
    """Where a query's time goes: the two passes the binding makes (top hits with count,
    then the facet aggregation), each alone, and the alternatives measured against them:
    hits without count, the count as an aggregation (no scoring), and both passes on two
    threads (which gains only if the binding releases the GIL while it searches)."""
    from concurrent.futures import ThreadPoolExecutor

    built = [searcher.build_query(ts_request(q))[1] for q in queries]
    raw = searcher._searcher
    count_agg = {"n": {"value_count": {"field": "shard"}}}
    passes = {
        "hits_with_count": lambda q: raw.search(q, 20, count=True),
        "hits_without_count": lambda q: raw.search(q, 20, count=False),
        "count_by_aggregation": lambda q: raw.aggregate(q, count_agg),
        "facets_exact": searcher.facets,
        "page_facets_exact": lambda q: searcher.facets(q, None, PAGE_FACETS),
        "both_passes_serial": lambda q: (raw.search(q, 20, count=True), searcher.facets(q)),
    }
    pool = ThreadPoolExecutor(2)

    def two_threads(q):
        hits = pool.submit(raw.search, q, 20, True)
        facets = pool.submit(searcher.facets, q)
        return hits.result(), facets.result()

    passes["both_passes_two_threads"] = two_threads
    times: dict[str, list[list[float]]] = {name: [] for name in passes}
    for _ in range(repeat):
        for name, run in passes.items():
            row = []
            for q in built:
                t = time.perf_counter()
                run(q)
                row.append((time.perf_counter() - t) * 1000)
            times[name].append(row)
    pool.shutdown()
    return {name: summary([statistics.median(r[i] for r in rows) for i in range(len(built))])
            for name, rows in times.items()}


def stages(searcher: Searcher, queries: list[dict], repeat: int) -> dict:
    """The request path stage by stage, CPU time per query (medians of `repeat` passes),
    for what the API and the page's first paint do: compiling the query with its filters,
    tantivy's top 20 with the count, fetching and decoding the 20 stored hits, the page's
    snippets, and apart from them the page's facets (the aggregation, given the total)."""
    import tantivy

    from trialscope.index.fulltext import hit_data
    from trialscope.search.snippets import snippet

    raw = searcher._searcher
    names = ("compile", "search_and_count", "fetch_hits", "snippets", "page_facets")
    per: dict[str, list[list[float]]] = {k: [[] for _ in queries] for k in names}
    for _ in range(repeat):
        for i, q in enumerate(queries):
            req = ts_request(q)
            c = time.process_time()
            text_q, full_q = searcher.build_query(req)
            c1 = time.process_time()
            res = raw.search(full_q, 20, count=True)
            c2 = time.process_time()
            docs = [raw.doc(addr) for _, addr in res.hits]
            for d in docs:
                hit_data(d)
            c3 = time.process_time()
            if text_q is not None:
                gen = tantivy.SnippetGenerator.create(raw, text_q, searcher.schema, "summary")
                gen.set_max_num_chars(240)
                for d in docs:
                    snippet(d, gen)
            c4 = time.process_time()
            if res.count:
                searcher._facets_of(raw, full_q, False, PAGE_FACETS, res.count)
            c5 = time.process_time()
            for name, a, b in zip(names, (c, c1, c2, c3, c4), (c1, c2, c3, c4, c5), strict=True):
                per[name][i].append((b - a) * 1000)
    return {name: summary([statistics.median(r) for r in rows]) for name, rows in per.items()}


def timed_search(searcher: Searcher, q: dict, mode: str) -> tuple[float, float, int, list[str]]:
    """One query as the API (`api`: hits + total) or the page's first paint (`page`: with
    snippets) asks it: -> (wall ms, process CPU ms, total, the hits' NCT ids in order)."""
    req = ts_request(q)
    req.facets, req.snippets = False, mode == "page"
    c, t = time.process_time(), time.perf_counter()
    res = searcher.search(req)
    wall, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
    return wall, cpu, res.total, [h.nct_id for h in res.hits]


class CodeTree:
    """The same index searched by another source tree's code (--compare-code: e.g. the
    baseline commit's `src/`), in a child process that times each query itself, so that the
    pipe between the two is outside every figure."""

    def __init__(self, tree: str, index_dir: str):
        import subprocess

        env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve() / "src")}
        self.proc = subprocess.Popen([sys.executable, __file__, "--answer-queries", index_dir],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        hello = orjson.loads(self.proc.stdout.readline())
        self.segments, self.code = hello["segments"], hello["code"]
        if not self.code.startswith(str(Path(tree).resolve())):
            raise SystemExit(f"--compare-code {tree}: the child imported trialscope from {self.code}")

    def timed(self, q: dict, mode: str) -> tuple[float, float, int, list[str]]:
        self.proc.stdin.write(orjson.dumps({"q": q, "mode": mode}) + b"\n")
        self.proc.stdin.flush()
        return tuple(orjson.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def answer_queries(index_dir: str) -> int:
    """The child of CodeTree: one JSON line per query on stdin, its timed_search on stdout."""
    import trialscope

    searcher = Searcher(_IndexOnly(index_dir))
    out = sys.stdout.buffer
    out.write(orjson.dumps({"segments": searcher._searcher.num_segments, "code": trialscope.__file__}) + b"\n")
    out.flush()
    for line in sys.stdin.buffer:
        ask = orjson.loads(line)
        out.write(orjson.dumps(timed_search(searcher, ask["q"], ask["mode"])) + b"\n")
        out.flush()
    return 0


def side_by_side(searchers: dict, queries: list[dict], repeat: int) -> dict:
    """The API and the page's first paint on two or more indexes, or the same index under
    other code (CodeTree), in the same run: each query asked of each in turn (the order
    alternating per pass), `repeat` passes after a warm-up one, medians per query; wall and
    process CPU p95 per surface, and how many queries gave the first one's total and hits."""
    names = list(searchers)
    wall = {(n, m): [[] for _ in queries] for n in names for m in ("api", "page")}
    cpu = {(n, m): [[] for _ in queries] for n in names for m in ("api", "page")}
    answers: dict = {}
    for p in range(repeat + 1):
        for i, q in enumerate(queries):
            for n in (names if (p + i) % 2 == 0 else names[::-1]):
                for mode in ("api", "page"):
                    s = searchers[n]
                    w, c, total, ids = s.timed(q, mode) if isinstance(s, CodeTree) else timed_search(s, q, mode)
                    if p:
                        wall[n, mode][i].append(w)
                        cpu[n, mode][i].append(c)
                    else:
                        answers[n, mode, i] = (total, ids)
    out: dict = {}
    first, *rest = names
    for n in names:
        s = searchers[n]
        out[n] = {"segments": s.segments if isinstance(s, CodeTree) else s._searcher.num_segments}
        if isinstance(s, CodeTree):
            out[n]["code"] = str(Path(s.code).parents[2].name)
        for mode in ("api", "page"):
            out[n][mode] = {"wall_ms": summary([statistics.median(r) for r in wall[n, mode]]),
                            "cpu_ms": summary([statistics.median(r) for r in cpu[n, mode]])}
            if n != first:
                same = sum(answers[n, mode, i] == answers[first, mode, i] for i in range(len(queries)))
                out[n][mode]["same_total_and_hits_as_" + first] = f"{same}/{len(queries)}"
    for n in rest:
        out[f"p95_ratio_{n}_over_{first}"] = {f"{m}_{k}": round(out[n][m][k]["p95"] / out[first][m][k]["p95"], 3)
                                              for m in ("api", "page") for k in ("wall_ms", "cpu_ms")}
    return out


def build_split(base: list[dict], n: int, seed: int) -> dict:
    """CPU per study of the index build's two halves on the first n studies of the corpus:
    building tantivy documents in Python, and tantivy's indexing (its threads included)."""
    import tempfile

    recs = [rec for _, rec in zip(range(n), build_corpus(n, seed, base), strict=False)]
    c = time.process_time()
    docs = [study_document(r) for r in recs]
    doc_cpu = time.process_time() - c
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "split.index")
        FullTextIndex._create(path)
        writer = FullTextIndex(path).writer()
        c = time.process_time()
        for doc in docs:
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        index_cpu = time.process_time() - c
    doc_us, index_us = doc_cpu / n * 1e6, index_cpu / n * 1e6
    cores = os.cpu_count() or 1
    return {"studies": n, "document_building_cpu_us_per_study": round(doc_us),
            "tantivy_indexing_cpu_us_per_study": round(index_us),
            f"ceiling_studies_per_s_on_{cores}_cores": round(cores * 1e6 / (doc_us + index_us))}


NEAR_PLACES = ("Chicago, IL", "Boston, MA", "Houston, TX", "Los Angeles, CA", "New York, NY", "Toronto",
               "London, United Kingdom", "Paris, France", "Berlin", "Shanghai", "Seoul", "Sao Paulo")


def near_vs_plain(searcher: Searcher, queries: list[dict], repeat: int) -> dict:
    """The same queries with and without a distance filter (a place from NEAR_PLACES within
    100 km, geocoded once: what the web page does), and sorted by distance; medians of
    `repeat` passes per query, interleaved so machine noise hits all three alike."""
    from trialscope.geo import geocode

    points = [geocode(p) for p in NEAR_PLACES]
    plain, near, by_distance = [], [], []
    for i, q in enumerate(queries):
        pt = points[i % len(points)]
        variants = [ts_request(q), ts_request(q), ts_request(q)]
        variants[1].near = variants[2].near = (pt.lat, pt.lon, 100.0)
        variants[2].sort = "distance"
        runs: list[list[float]] = [[], [], []]
        for _ in range(repeat):
            for k, req in enumerate(variants):
                t = time.perf_counter()
                searcher.search(req)
                runs[k].append((time.perf_counter() - t) * 1000)
        plain.append(statistics.median(runs[0]))
        near.append(statistics.median(runs[1]))
        by_distance.append(statistics.median(runs[2]))
    out = {"without_distance": summary(plain), "near_100km": summary(near),
           "near_100km_sorted_by_distance": summary(by_distance)}
    out["p95_ratio_near_over_plain"] = round(out["near_100km"]["p95"] / out["without_distance"]["p95"], 2)
    out["p95_ratio_distance_sort_over_plain"] = round(
        out["near_100km_sorted_by_distance"]["p95"] / out["without_distance"]["p95"], 2)
    return out


def measure(name: str, fn, queries: list[dict], repeat: int) -> dict:
    """Median per query over `repeat` passes after a warm-up pass. Wall-clock latency, and
    for in-process systems also the process CPU time per query (robust to a busy machine)."""
    fn(queries[: min(len(queries), 50)])  # warm caches
    runs = [fn(queries) for _ in range(repeat)]
    per_query = [statistics.median(r[0][i] for r in runs) for i in range(len(queries))]
    out = {"latency_ms": summary(per_query), "by_kind": by_kind(queries, per_query), "totals": runs[0][1]}
    p95 = pct(per_query, 95)  # which kinds of query make the tail
    out["kinds_at_or_above_p95"] = dict(Counter(q["kind"] for q, t in zip(queries, per_query, strict=True) if t >= p95))
    if len(runs[0]) > 2:
        cpu = [statistics.median(r[2][i] for r in runs) for i in range(len(queries))]
        out["cpu_ms"] = summary(cpu)
    log(f"  {name}: p50 {pct(per_query, 50):.2f} ms, p95 {pct(per_query, 95):.2f} ms"
        + (f" (cpu p95 {out['cpu_ms']['p95']:.2f} ms)" if "cpu_ms" in out else ""))
    return out


def baselines(args, base: list[dict], work: Path, queries: list[dict], result: dict) -> None:
    """Build (or, with --reuse, reopen the kept) FTS5 and PostgreSQL baselines, both from one
    pass over the corpus, then time the same queries against each."""
    fts_path = str(work / "fts5.sqlite")
    fts_done = work / "fts5-build.json"
    want_fts = not args.no_fts
    want_pg = not args.no_pg
    if want_pg:
        try:
            from trialscope.store.postgres import TemporaryServer, find_bindir
        except ImportError:
            find_bindir = None  # noqa: N806
        if find_bindir is None or find_bindir() is None:
            result["postgres"] = "skipped: PostgreSQL server binaries not found"
            log(result["postgres"])
            want_pg = False
    else:
        result["postgres"] = "skipped (--no-pg)"
    if not want_fts:
        result["fts5"] = "skipped (--no-fts)"
    with contextlib.ExitStack() as stack:
        consumers, names = [], []
        if want_fts:
            if args.reuse and fts_done.exists():
                result["fts5_build"] = {**orjson.loads(fts_done.read_bytes()), "reused": fts_path}
            else:
                consumers.append(lambda docs: build_fts(docs, fts_path))
                names.append("fts5_build")
        url = None
        if want_pg:
            server = kept_pg_server(work / "pg") if args.keep else TemporaryServer()
            stack.enter_context(server)
            pg_done = work / "pg" / "build.json"
            if args.reuse and pg_done.exists():
                url = server.url("search_bench")
                result["postgres_build"] = {**orjson.loads(pg_done.read_bytes()), "reused": "kept cluster"}
            else:
                url = server.create_database("search_bench")
                consumers.append(lambda docs: build_pg(docs, url))
                names.append("postgres_build")
        if args.with_trialscope:
            ts_path = str(work / "trialscope.db.index.building")
            consumers.append(lambda docs: build_trialscope_in_pass(docs, args.n, ts_path))
            names.append("trialscope_build")
        if consumers:
            log(f"building {' and '.join(n.removesuffix('_build') for n in names)} from one pass over the corpus ...")
            t0 = time.perf_counter()
            for name, built in zip(names, fan_out(corpus_fields(args.n, args.seed, base), consumers), strict=True):
                built["one_pass_seconds"] = round(time.perf_counter() - t0, 1)
                result[name] = built
                log(f"  {name}: {built}")
            if "fts5_build" in names and args.keep:
                fts_done.write_bytes(orjson.dumps(result["fts5_build"]))
            if "postgres_build" in names and args.keep:
                (work / "pg" / "build.json").write_bytes(orjson.dumps(result["postgres_build"]))
            if "trialscope_build" in names:  # swapped in; the index it replaces is kept beside it
                ts_dir = work / "trialscope.db.index"
                if ts_dir.exists():
                    prev = work / "trialscope-previous.db.index"
                    shutil.rmtree(prev, ignore_errors=True)
                    ts_dir.rename(prev)
                (work / "trialscope.db.index.building").rename(ts_dir)
        if args.build_baselines:
            return
        reps = args.baseline_repeat
        if want_fts:
            result["fts5"] = measure("fts5", lambda qs: run_fts(fts_path, qs), queries, reps)
            if not args.keep:
                os.unlink(fts_path)
        if want_pg:
            result["postgres"] = measure("postgres", lambda qs: run_pg(url, qs), queries, reps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500_000, help="corpus size (default 500,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--queries", type=int, default=240)
    ap.add_argument("--repeat", type=int, default=3, help="measured passes per system (median per query)")
    ap.add_argument("--no-fts", action="store_true")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the built indexes under benchmarks/out/")
    ap.add_argument("--baseline-repeat", type=int, default=2,
                    help="measured passes for FTS5 and PostgreSQL (seconds per query at 500k; default 2)")
    ap.add_argument("--surfaces-only", action="store_true",
                    help="only the surfaces (API, first paint, facets, full), their stages and the baselines: "
                         "no near, pass breakdown or build split")
    ap.add_argument("--build-baselines", action="store_true",
                    help="build and keep the FTS5 and PostgreSQL baselines, then stop (no trialscope, no queries)")
    ap.add_argument("--compare-index", action="append", default=[], metavar="DIR",
                    help="another trialscope index directory (e.g. trialscope-previous.db.index) timed side by side "
                         "with this one, query by query, for the API and the page's first paint")
    ap.add_argument("--compare-code", action="append", default=[], metavar="TREE",
                    help="another source tree (a checkout of the baseline commit) whose trialscope searches this "
                         "index side by side with this tree's, in a child process, query by query (API and first "
                         "paint), with how many queries gave the same total and hits")
    ap.add_argument("--answer-queries", metavar="INDEX", help=argparse.SUPPRESS)
    ap.add_argument("--with-trialscope", action="store_true",
                    help="with --build-baselines: also build the trialscope index in that pass (kept; the index "
                         "it replaces is kept as trialscope-previous.db.index)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the kept indexes of the same --n: trialscope, FTS5 and PostgreSQL (query timings only; implies --keep)")
    args = ap.parse_args(argv)
    if args.answer_queries:
        return answer_queries(args.answer_queries)
    args.keep = args.keep or args.reuse or args.build_baselines

    base, source = base_records()
    log(f"corpus: {args.n:,} studies recombined from {len(base):,} real studies ({source})")
    work = OUT / f"search-{args.n}"
    work.mkdir(parents=True, exist_ok=True)
    queries = make_queries(base, args.seed, args.queries)
    result: dict = {
        "corpus": {"studies": args.n, "seed": args.seed, "base_studies": len(base), "source": source,
                   "note": "synthetic: real study modules recombined across studies, new NCT ids (NCT9xxxxxxx)"},
        "machine": {"cpus": os.cpu_count(), "load_avg_at_start": [round(x, 1) for x in os.getloadavg()]},
        "queries": {"count": len(queries), "kinds": dict(Counter(q["kind"] for q in queries)),
                    "each": "top 20 by relevance + total count + 8 facets over the filtered set"},
    }
    if args.build_baselines:
        baselines(args, base, work, queries, result)
        print(orjson.dumps({k: v for k, v in result.items() if k.endswith("_build")}, option=orjson.OPT_INDENT_2).decode())
        return 0

    log("building trialscope (tantivy) index ...")
    ts_dir = str(work / "trialscope.db.index")
    if args.reuse and os.path.isdir(ts_dir):
        result["trialscope_build"] = {"studies": args.n, "reused": ts_dir}
    else:
        result["trialscope_build"] = build_trialscope(args.n, args.seed, base, ts_dir)
    log(f"  {result['trialscope_build']}")
    searcher = Searcher(_IndexOnly(ts_dir))
    result["trialscope_index"] = {"segments": searcher._searcher.num_segments, "docs": searcher.num_docs}
    # what each surface waits for, same queries, same run (see run_trialscope)
    for mode, key in (("api", "trialscope_api"), ("page", "trialscope_page_first_paint"),
                      ("facets", "trialscope_page_facets"), ("full", "trialscope")):
        load0 = os.getloadavg()[0]
        out = measure(f"trialscope {mode}", lambda qs, m=mode: run_trialscope(searcher, qs, m), queries, args.repeat)
        out["load_avg_1min"] = [round(load0, 1), round(os.getloadavg()[0], 1)]
        if mode != "full":
            out.pop("totals")
        result[key] = out
    result["request_stages_cpu_ms"] = stages(searcher, queries, args.repeat)
    log("  stages (cpu p50/p95 ms): " + ", ".join(f"{k} {v['p50']}/{v['p95']}"
                                                  for k, v in result["request_stages_cpu_ms"].items()))
    if args.compare_index or args.compare_code:
        load0 = os.getloadavg()[0]
        others = {Path(d).name: Searcher(_IndexOnly(d)) for d in args.compare_index}
        # code against code: both in lean child processes alike (this one holds the corpus)
        trees = {f"code:{Path(d).resolve().name}": CodeTree(d, ts_dir) for d in args.compare_code}
        this = CodeTree(str(Path(__file__).resolve().parents[1]), ts_dir) if trees else searcher
        if trees:
            trees["this"] = this
        try:
            result["side_by_side"] = side_by_side({"this": this, **others, **trees}, queries, args.repeat)
        finally:
            for tree in trees.values():
                tree.close()
        result["side_by_side"]["load_avg_1min"] = [round(load0, 1), round(os.getloadavg()[0], 1)]
        log(f"  side by side: {result['side_by_side']}")
    if args.surfaces_only:
        baselines(args, base, work, queries, result)
        return finish(args, work, queries, result)
    log("near: the same queries within 100 km of a place, and sorted by distance ...")
    result["near"] = near_vs_plain(searcher, queries, args.repeat)
    log(f"  {result['near']}")
    log("where the time goes: each pass alone, and the build's two halves ...")
    result["query_passes_ms"] = pass_breakdown(searcher, queries, args.repeat)
    result["build_cpu_split"] = build_split(base, min(args.n, 30_000), args.seed)
    log(f"  {result['build_cpu_split']}")

    baselines(args, base, work, queries, result)
    return finish(args, work, queries, result)


def finish(args, work: Path, queries: list[dict], result: dict) -> int:
    """Ratios and targets; prints the JSON."""
    p95 = result["trialscope"]["latency_ms"]["p95"]
    ratios = {}
    for name in ("fts5", "postgres"):
        if isinstance(result.get(name), dict):
            other = result[name]["latency_ms"]
            mine = result["trialscope"]["latency_ms"]
            ratios[name] = {k: round(other[k] / mine[k], 1) for k in ("p50", "p95", "p99")}
            if "cpu_ms" in result[name]:
                ratios[name]["cpu_p95"] = round(result[name]["cpu_ms"]["p95"] / result["trialscope"]["cpu_ms"]["p95"], 1)
            # how often do the systems agree on the result count (same queries, different analyzers)
            agree = sum(1 for a, b in zip(result["trialscope"]["totals"], result[name]["totals"], strict=True)
                        if a == b)
            result[name]["same_total_as_trialscope"] = f"{agree}/{len(queries)}"
    result["ratio_baseline_over_trialscope"] = ratios
    result["targets"] = {
        "api_p95_le_8ms": result["trialscope_api"]["latency_ms"]["p95"] <= 8,
        "page_first_paint_p95_le_10ms": result["trialscope_page_first_paint"]["latency_ms"]["p95"] <= 10,
        "page_facets_p95_le_15ms": result["trialscope_page_facets"]["latency_ms"]["p95"] <= 15,
        "full_p95_le_10ms": p95 <= 10,
        "p95_5x_below_fts5": ratios.get("fts5", {}).get("p95", 0) >= 5 if "fts5" in ratios else None,
    }
    result["machine"]["load_avg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    for name in ("trialscope", "fts5", "postgres"):
        if isinstance(result.get(name), dict):
            result[name].pop("totals", None)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
