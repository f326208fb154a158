"""The condition index: one pseudo-document per condition (MeSH term), so that a note that
describes a disease by its signs ("noncaseating granulomas, bilateral hilar adenopathy,
elevated ACE") can be told which diseases those signs belong to.

A condition's document is what the trials filed under it say about their patients: titles,
conditions and keywords as written, the opening of the brief summary and of the inclusion
criteria, of at most TRIALS_PER_CONDITION trials (the most recently registered: a common
disease's document stays a sample, not a corpus). `infer(terms)` ranks the documents by BM25
against a note's words. Trials' condition terms come from the vector index's features (the
same MeSH terms See also and the matcher compare), their texts from the store.

Derived and rebuildable: it lives in `derived_dir(store.url, "conditions")` (a tantivy index
and `meta.json`: the store seq and study count it reflects, and FORMAT). It is built whole,
not caught up study by study: a disease's profile hardly moves with a few new trials, so it
is rebuilt only when it is absent, of another FORMAT, or the store's study count has changed
by REBUILD_SHARE since it was built (`stale`). `open_index` builds an absent one at once (the
first match on a new store waits for it) and rebuilds a stale one in a background thread
while the old one serves; `catch_up` (an AFTER_INGEST hook: sync, copy) rebuilds a stale one
at once. Building reads the sampled studies' records once (21,232 studies: ~6 s of one core).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
import zlib
from collections import defaultdict
from pathlib import Path

import msgspec
import orjson
import tantivy

from ..store import derived_dir
from .folders import locked
from .fulltext import analyzer

FORMAT = 1
TRIALS_PER_CONDITION = 200
REBUILD_SHARE = 0.1
READ_BATCH = 1000
META_FILE = "meta.trialscope.json"
SUMMARY_CHARS, INCLUSION_CHARS = 2000, 3000
_EXCLUSION = re.compile(r"\bexclusion\s+criteria\b|\bexclusions?\s*:", re.I)


def index_dir(store_or_url) -> Path:
    url = store_or_url if isinstance(store_or_url, str) else store_or_url.url
    return Path(derived_dir(url, "conditions"))


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("name", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("body", tokenizer_name="en", index_option="freq")
    sb.add_integer_field("trials", stored=True)
    return sb.build()


def study_text(record: dict) -> str:
    """What a trial says about the patients it wants (see the module docstring)."""
    p = record.get("protocolSection") or {}
    ident = p.get("identificationModule") or {}
    conds = p.get("conditionsModule") or {}
    return _text(ident.get("briefTitle"), ident.get("officialTitle"), conds.get("conditions"), conds.get("keywords"),
                 (p.get("descriptionModule") or {}).get("briefSummary"),
                 (p.get("eligibilityModule") or {}).get("eligibilityCriteria"))


class _Ident(msgspec.Struct):
    briefTitle: str | None = None
    officialTitle: str | None = None


class _Conditions(msgspec.Struct):
    conditions: list[str] = []
    keywords: list[str] = []


class _Description(msgspec.Struct):
    briefSummary: str | None = None


class _Eligibility(msgspec.Struct):
    eligibilityCriteria: str | None = None


class _Protocol(msgspec.Struct):
    identificationModule: _Ident | None = None
    conditionsModule: _Conditions | None = None
    descriptionModule: _Description | None = None
    eligibilityModule: _Eligibility | None = None


class _Record(msgspec.Struct):
    protocolSection: _Protocol | None = None


_RECORD = msgspec.json.Decoder(_Record)


def study_text_json(record_json: bytes) -> str:
    """`study_text` of a record's JSON, decoding only the fields it reads (a fifth of the
    time of decoding the whole record); a record of unexpected shape is decoded whole."""
    try:
        p = _RECORD.decode(record_json).protocolSection or _Protocol()
    except msgspec.DecodeError:
        return study_text(orjson.loads(record_json))
    ident, conds = p.identificationModule or _Ident(), p.conditionsModule or _Conditions()
    return _text(ident.briefTitle, ident.officialTitle, conds.conditions, conds.keywords,
                 p.descriptionModule.briefSummary if p.descriptionModule else None,
                 p.eligibilityModule.eligibilityCriteria if p.eligibilityModule else None)


def _text(title, official, conditions, keywords, summary, eligibility) -> str:
    elig = eligibility if isinstance(eligibility, str) else ""
    cut = _EXCLUSION.search(elig)
    inclusion = elig[: cut.start()] if cut else elig
    parts = [title, official, " ; ".join(_strings(conditions)), " ; ".join(_strings(keywords)),
             summary[:SUMMARY_CHARS] if isinstance(summary, str) else "", inclusion[:INCLUSION_CHARS]]
    return "\n".join(x for x in parts if isinstance(x, str) and x)


def _strings(values) -> list[str]:
    return [v for v in values or [] if isinstance(v, str)] if isinstance(values, list) else []


def build(store) -> int:
    """(Re)build the index from the store; returns how many conditions it holds. Reads only
    the sampled studies' records. Needs the vector index (the trials' condition terms):
    without one it builds nothing."""
    with locked(index_dir(store)):
        return _build_locked(store)


def _build_unless(store, current) -> int:
    """Build under the folder's writer lock unless `current(store)` says, once the lock is held,
    that another thread or process (serve's warm-up, an ingest hook) has just built it: the
    lock is taken before the records are read, so a second builder waits instead of repeating
    minutes of work at 500,000 studies."""
    with locked(index_dir(store)):
        return 0 if current(store) else _build_locked(store)


def _build_locked(store) -> int:
    from .vectors import open_index

    vec = open_index(store)
    if vec is None:
        return 0
    by_condition: dict[str, list[str]] = defaultdict(list)
    for nct, f in vec.features(list(range(vec.rows))).values():
        for name in f.c:
            by_condition[name].append(nct)
    # each condition's sample: its most recently registered trials (the highest NCT ids)
    sample = {name: sorted(ncts, reverse=True)[:TRIALS_PER_CONDITION] for name, ncts in by_condition.items()}
    wanted = {nct for ncts in sample.values() for nct in ncts}
    seq, count = store.max_seq(), store.count()
    texts = {}  # compressed: the sampled studies' texts are held until every one is read
    ordered = sorted(wanted)
    for i in range(0, len(ordered), READ_BATCH):
        for nct, study in store.get_many(ordered[i : i + READ_BATCH]).items():
            texts[nct] = zlib.compress(study_text_json(study.record_json).encode(), 1)
    folder = index_dir(store)
    written = 0
    fresh = folder / "next"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    index = tantivy.Index(_schema(), path=str(fresh))
    index.register_tokenizer("en", analyzer())
    writer = index.writer(100_000_000, 1)
    for name, ncts in sorted(sample.items()):
        body = "\n".join(zlib.decompress(texts[n]).decode() for n in ncts if n in texts)
        if body:
            writer.add_document(tantivy.Document(name=name, body=body, trials=len(by_condition[name])))
            written += 1
    writer.commit()
    writer.wait_merging_threads()
    (fresh / META_FILE).write_bytes(orjson.dumps({"format": FORMAT, "seq": seq, "studies": count}))
    current = folder / "current"
    old = folder / "old"
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    fresh.rename(current)
    shutil.rmtree(old, ignore_errors=True)
    return written


def _meta(folder: Path) -> dict | None:
    try:
        return orjson.loads((folder / "current" / META_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def stale(store) -> bool:
    """Absent, of another FORMAT, or built when the store held REBUILD_SHARE more or fewer
    studies than now."""
    m = _meta(index_dir(store))
    if m is None or m.get("format") != FORMAT:
        return True
    if m.get("seq") == store.max_seq():
        return False
    built, now = int(m.get("studies") or 0), store.count()
    return abs(now - built) > REBUILD_SHARE * max(built, 1)


def catch_up(store) -> int:
    """The AFTER_INGEST hook: rebuild when `stale`; returns the conditions written (0: kept)."""
    if store.max_seq() <= 0 or not stale(store):
        return 0
    return _build_unless(store, lambda st: not stale(st))


class ConditionIndex:
    """An open condition index: `infer` ranks conditions for a bag of words."""

    def __init__(self, folder: Path, meta: dict, stamp: int):
        self.folder, self.stamp, self.seq, self.format = folder, stamp, int(meta.get("seq") or 0), meta.get("format")
        self.index = tantivy.Index.open(str(folder))
        self.index.register_tokenizer("en", analyzer())
        self.searcher = self.index.searcher()
        self.schema = self.index.schema
        self.analyzer = analyzer()
        self._names: dict[int, tuple[str, int]] = {}

    def infer(self, words: str, k: int = 20) -> list[tuple[str, float, int]]:
        """(condition, BM25 score, trials filed under it) of the k conditions whose documents
        best match `words`, best first (ties by name)."""
        terms = sorted({t for w in words.split() for t in self.analyzer.analyze(w)})
        if not terms:
            return []
        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "body", t)) for t in terms])
        out = []
        for score, addr in self.searcher.search(q, k).hits:
            key = addr.segment_ord << 32 | addr.doc
            got = self._names.get(key)
            if got is None:
                doc = self.searcher.doc(addr)
                got = self._names[key] = (doc.get_first("name"), int(doc.get_first("trials") or 0))
            out.append((got[0], float(score), got[1]))
        out.sort(key=lambda x: (-x[1], x[0]))
        return out


_OPEN: dict[str, ConditionIndex] = {}
_LOCK = threading.Lock()
_CHECKED: dict[str, float] = {}  # folder -> when its staleness was last looked at
_BUILDING: set[str] = set()
CHECK_S = 60.0


def open_index(store, build_missing: bool = True) -> ConditionIndex | None:
    """The store's condition index, reopened after a rebuild; built now when it never was
    (`build_missing`) and the store has studies; None when there is none. One that the store
    has outgrown (`stale`) is used while a background thread rebuilds it (looked at once a
    CHECK_S at most, and only when the store's seq has moved)."""
    folder = index_dir(store) / "current"
    key = str(folder)
    try:
        stamp = os.stat(folder / META_FILE).st_mtime_ns
    except OSError:
        stamp = None
    with _LOCK:
        got = _OPEN.get(key)
    if got is None or got.stamp != stamp or got.format != FORMAT:
        m = _meta(index_dir(store)) if stamp is not None else None
        if m is None or m.get("format") != FORMAT:
            if not build_missing or store.max_seq() <= 0:
                return None
            with _builder(key):  # matches that arrive meanwhile wait for this one build
                _build_unless(store, lambda st: (_meta(index_dir(st)) or {}).get("format") == FORMAT)
            return open_index(store, build_missing=False)
        try:
            fresh = ConditionIndex(folder, m, stamp)
        except Exception:  # mid-swap (another process rebuilding): the one open, if any
            return got
        with _LOCK:
            now = _OPEN.get(key)
            got = _OPEN[key] = now if now is not None and now.stamp == stamp and now.format == FORMAT else fresh
    if got.seq != store.max_seq():
        _refresh_later(store, key)
    return got


_BUILDERS: dict[str, threading.Lock] = {}


def _builder(key: str) -> threading.Lock:
    with _LOCK:
        return _BUILDERS.setdefault(key, threading.Lock())


def _refresh_later(store, key: str) -> None:
    now = time.monotonic()
    with _LOCK:
        if key in _BUILDING or now - _CHECKED.get(key, -CHECK_S) < CHECK_S:
            return
        _CHECKED[key] = now
    if not stale(store):
        return
    with _LOCK:
        if key in _BUILDING:
            return
        _BUILDING.add(key)

    def rebuild() -> None:
        try:
            _build_unless(store, lambda st: not stale(st))
        except Exception as exc:  # the old index keeps serving; the next check tries again
            print(f"warning: condition index not rebuilt: {exc}", file=sys.stderr)
        finally:
            with _LOCK:
                _BUILDING.discard(key)

    threading.Thread(target=rebuild, name="conditions-rebuild", daemon=True).start()
