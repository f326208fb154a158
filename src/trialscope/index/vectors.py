"""The vector index behind "See also": one embedding and one feature row per study.

Lives in `derived_dir(store.url, "vectors")` and is rebuildable from the store at any time:

- `vectors.npy`: float16 [rows, dim], row i = the i-th study version embedded;
- `rows.sqlite`: `rows(row, nct, live, feat)` (feat = the structured/lexical features of
  `trialscope.index.features.study_features`, JSON), `current(nct -> row)`, `df(tok, n)` for the
  lexical idf, and `meta` (store seq caught up to, encoder fingerprint);
- `hnsw.faiss`: a faiss HNSW graph (inner product) over every row, built once the index
  holds more than `HNSW_THRESHOLD` rows; below that kNN is an exact numpy product.

Updates are append-only: `catch_up(store)` reads `store.changes_since(seq)`, embeds the
changed studies, appends their rows and marks the rows they replace dead (queries skip
dead rows). `rebuild(store)` starts over and compacts. Readers reopen the files when
`meta.json` changes, so a web process sees a catch-up made by an ingest process.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from ..store import derived_dir
from .folders import locked, meta, set_meta

HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 256
BATCH = 2000
FORMAT = 7  # bump when the stored features change: the index is rebuilt


def index_dir(store_or_url) -> Path:
    url = store_or_url if isinstance(store_or_url, str) else store_or_url.url
    return Path(derived_dir(url, "vectors"))


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS rows (row INTEGER PRIMARY KEY, nct TEXT NOT NULL,
                                         live INTEGER NOT NULL, feat BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS current (nct TEXT PRIMARY KEY, row INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS df (tok INTEGER PRIMARY KEY, n INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
        """
    )
    return db


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def prepare(records: list[dict], enc) -> list[tuple[bytes, bytes]]:
    """(features as stored, embedding as float16 bytes) of each record: the per-study work,
    run where the records are (a parse worker, or `catch_up` itself)."""
    from .embeddings import study_text
    from .features import encode_features, study_features

    vecs = enc.encode([study_text(r) for r in records]).astype(np.float16)
    return [(encode_features(study_features(r)), v.tobytes()) for r, v in zip(records, vecs, strict=True)]


class _Writer:
    """Appends rows to the index under its lock; nothing is visible until `commit`."""

    def __init__(self, store, enc):
        self.enc = enc
        self.folder = index_dir(store)
        self._lock = locked(self.folder)
        self._lock.__enter__()
        try:
            db = _connect(self.folder / "rows.sqlite")
            built_with = meta(db, "encoder")
            if built_with is not None and (built_with != enc.fingerprint or meta(db, "format") != str(FORMAT)):
                db.close()
                _wipe(self.folder)
                db = _connect(self.folder / "rows.sqlite")
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self.db = db
        self.seq = int(meta(db, "seq", 0))
        self.vec_path = self.folder / "vectors.npy"
        self.old = np.load(self.vec_path) if self.vec_path.exists() else np.zeros((0, enc.dim), np.float16)
        self.next_row = self.old.shape[0]
        self.blocks: list[np.ndarray] = []
        self.added = 0

    @property
    def current(self) -> bool:
        return self.vec_path.exists()

    def add(self, rows: list[tuple[str, bytes, bytes]]) -> None:
        """(NCT id, features, embedding) of each study, the last of an NCT id winning."""
        from .features import decode_features

        db = self.db
        df_delta: Counter = Counter()
        vecs = []
        for nct, feat, vec in rows:
            prev = db.execute("SELECT row FROM current WHERE nct = ?", (nct,)).fetchone()
            if prev is not None:
                (pfeat,) = db.execute("SELECT feat FROM rows WHERE row = ?", (prev[0],)).fetchone()
                df_delta.subtract(np.frombuffer(decode_features(pfeat).kh, dtype=np.uint32).tolist())
                db.execute("UPDATE rows SET live = 0 WHERE row = ?", (prev[0],))
            df_delta.update(np.frombuffer(decode_features(feat).kh, dtype=np.uint32).tolist())
            db.execute("INSERT INTO rows (row, nct, live, feat) VALUES (?, ?, 1, ?)", (self.next_row, nct, feat))
            db.execute("INSERT OR REPLACE INTO current (nct, row) VALUES (?, ?)", (nct, self.next_row))
            self.next_row += 1
            vecs.append(vec)
        db.executemany(
            "INSERT INTO df (tok, n) VALUES (?, ?) ON CONFLICT(tok) DO UPDATE SET n = n + excluded.n",
            [(t, n) for t, n in df_delta.items() if n],
        )
        if vecs:
            self.blocks.append(np.frombuffer(b"".join(vecs), dtype=np.float16).reshape(len(vecs), -1))
        self.added += len(rows)

    def commit(self, seq: int) -> None:
        allv = np.concatenate([self.old, *self.blocks]) if self.blocks else self.old
        _save_npy(self.vec_path, allv)
        _update_hnsw(self.folder, allv, self.old.shape[0])
        for key, value in (("seq", seq), ("encoder", self.enc.fingerprint), ("format", FORMAT),
                           ("dim", self.enc.dim)):
            set_meta(self.db, key, value)
        self.db.commit()
        (self.folder / "meta.json").write_bytes(orjson.dumps(
            {"seq": seq, "rows": int(allv.shape[0]), "encoder": self.enc.fingerprint, "at": time.time()}))
        self.seq, self.old, self.blocks = seq, allv, []

    def close(self) -> None:
        if self.db is not None:
            self.db.close()  # uncommitted rows are rolled back
            self.db = None
            self._lock.__exit__(None, None, None)


def _encoder(encoder=None):
    from .embeddings import EncoderUnavailable, get_encoder

    try:
        return encoder or get_encoder()
    except EncoderUnavailable as exc:  # e.g. TRIALSCOPE_EMBEDDINGS=minilm without the extra
        print(f"warning: vector index not updated: {exc}", file=sys.stderr)
        return None


def catch_up(store, encoder=None, progress: bool = False) -> int:
    """Bring the vector index up to the store's seq; returns how many studies were embedded.

    Called after every ingest (cli.AFTER_INGEST). Starts a fresh index when there is none or
    when it was built with another encoder.
    """
    enc = _encoder(encoder)
    if enc is None:
        return 0
    writer = _Writer(store, enc)
    try:
        return _catch_up(store, writer, progress)
    finally:
        writer.close()


def _catch_up(store, writer: _Writer, progress: bool = False) -> int:
    if store.max_seq() <= writer.seq and writer.current:
        return 0
    seq, done, t0 = writer.seq, 0, time.time()
    while True:
        batch = store.changes_since(seq, limit=BATCH)
        if not batch:
            break
        latest = {s.nct_id: s for s in batch}
        records = [s.record for s in latest.values()]
        writer.add([(nct, feat, vec) for nct, (feat, vec) in zip(latest, prepare(records, writer.enc), strict=True)])
        seq = max(s.seq for s in batch)
        done += len(latest)
        if progress:
            rate = done / max(time.time() - t0, 1e-9)
            print(f"\rvectors: {done:,} studies embedded ({rate:,.0f}/s)", end="", flush=True, file=sys.stderr)
    if progress and done:
        print(file=sys.stderr)
    writer.commit(seq)
    return done


class VectorStage:
    """The vector index as a stage of the ingest pipeline (trialscope.pipeline): features
    and embeddings computed in the parse workers, rows appended here, one commit at the end."""

    name = "vectors"

    def __init__(self) -> None:
        self.writer: _Writer | None = None
        self.enc = None

    def prepare(self, records: list[dict]) -> list[tuple[bytes, bytes]]:
        return prepare(records, self.enc)

    def begin(self, store) -> bool:
        self.enc = _encoder()
        if self.enc is None:
            return False
        from .features import warm_up

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the workers are the parallelism
        warm_up()  # loaded before the workers fork, not once in each
        self.writer = _Writer(store, self.enc)
        _catch_up(store, self.writer)
        return True

    def add(self, items) -> None:
        missing = [c for c in items if c.prepared is None]  # not from a parse worker (sync)
        made = iter(prepare([c.record for c in missing], self.enc) if missing else ())
        self.writer.add([(c.nct_id, *(c.prepared if c.prepared is not None else next(made))) for c in items])

    def finish(self, seq: int) -> None:
        self.writer.commit(seq)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def stage() -> VectorStage:
    return VectorStage()


def write_bulk(url: str, ncts: list[str], vectors: np.ndarray, features: list[bytes],
               df: dict[int, int], seq: int, encoder_fingerprint: str) -> None:
    """Write a whole index at once from precomputed rows (benchmarks build 500k this way).

    `features` are `encode_features` bytes, `df` the key-token document frequencies.
    """
    folder = index_dir(url)
    with locked(folder):
        _wipe(folder)
        db = _connect(folder / "rows.sqlite")
        try:
            db.executemany("INSERT INTO rows (row, nct, live, feat) VALUES (?, ?, 1, ?)",
                           ((i, n, f) for i, (n, f) in enumerate(zip(ncts, features, strict=True))))
            db.executemany("INSERT INTO current (nct, row) VALUES (?, ?)", ((n, i) for i, n in enumerate(ncts)))
            db.executemany("INSERT INTO df (tok, n) VALUES (?, ?)", df.items())
            allv = np.ascontiguousarray(vectors, dtype=np.float16)
            _save_npy(folder / "vectors.npy", allv)
            _update_hnsw(folder, allv, 0)
            for key, value in (("seq", seq), ("encoder", encoder_fingerprint), ("format", FORMAT),
                               ("dim", allv.shape[1])):
                set_meta(db, key, value)
            db.commit()
            (folder / "meta.json").write_bytes(orjson.dumps(
                {"seq": seq, "rows": int(allv.shape[0]), "encoder": encoder_fingerprint, "at": time.time()}))
        finally:
            db.close()


def _update_hnsw(folder: Path, allv: np.ndarray, old_rows: int) -> None:
    path = folder / "hnsw.faiss"
    if allv.shape[0] <= HNSW_THRESHOLD:
        path.unlink(missing_ok=True)
        return
    import faiss

    if path.exists() and old_rows > 0:
        index = faiss.read_index(str(path))
        if index.ntotal != old_rows:
            index = None
    else:
        index = None
    if index is None:
        index = faiss.IndexHNSWFlat(allv.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        start = 0
    else:
        start = old_rows
    for i in range(start, allv.shape[0], 50_000):
        index.add(np.ascontiguousarray(allv[i : i + 50_000], dtype=np.float32))
    tmp = path.with_suffix(".tmp")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)


def _wipe(folder: Path) -> None:
    for name in ("rows.sqlite", "rows.sqlite-wal", "rows.sqlite-shm", "vectors.npy", "hnsw.faiss", "meta.json"):
        (folder / name).unlink(missing_ok=True)


def rebuild(store, encoder=None, progress: bool = False) -> int:
    """Drop the vector index and build it again from the whole store (compacts dead rows)."""
    folder = index_dir(store)
    with locked(folder):
        _wipe(folder)
    _CACHE.pop(str(folder), None)
    return catch_up(store, encoder=encoder, progress=progress)


def is_current(idx: VectorIndex, encoder) -> bool:
    """Built with this encoder and this feature format (else catch_up rebuilds it)."""
    return idx.encoder == encoder.fingerprint and idx.format == str(FORMAT)


def one_blas_thread() -> None:
    """Keep every BLAS library loaded so far (numpy's, faiss's) to one thread, process-wide.

    What this index computes is one query against many rows (a matrix-vector product), and
    OpenBLAS splits one that large over every core; its worker then spins for about a tenth
    of a second after each call before it sleeps, holding a core that the matcher's search
    threads (and a server's other requests) need. One thread gives the same products: over
    the 109 dev notes at 21,232 studies (benchmarks/match.py, same machine, interleaved)
    match() CPU p50 103-119 -> 59-78 ms and wall p50 150-210 -> 59-139 ms (three pairs, load 6-7),
    every note's output identical. About 1 ms: done on every
    open (rare: a catch-up), so a library loaded since is limited too."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class VectorIndex:
    """A read-only view of the index files, as of one meta.json (see `open_index`).
    Opening one keeps BLAS to one thread (`one_blas_thread`)."""

    def __init__(self, folder: Path):
        self.folder = folder
        meta_path = folder / "meta.json"
        self.stamp = meta_path.stat().st_mtime_ns if meta_path.exists() else None
        self.db = _connect(folder / "rows.sqlite")
        self._lock = threading.Lock()
        vec_path = folder / "vectors.npy"
        self.vectors = np.load(vec_path) if vec_path.exists() else np.zeros((0, 1), np.float16)
        self.rows = self.vectors.shape[0]
        self.encoder = meta(self.db, "encoder")
        self.format = meta(self.db, "format")
        self.live = np.zeros(self.rows, dtype=bool)
        live_rows = np.fromiter((r for (r,) in self.db.execute("SELECT row FROM rows WHERE live = 1")), dtype=np.int64)
        live_rows = live_rows[live_rows < self.rows]
        self.live[live_rows] = True
        self.n_live = int(self.live.sum())
        self.hnsw = None
        if (folder / "hnsw.faiss").exists():
            import faiss

            self.hnsw = faiss.read_index(str(folder / "hnsw.faiss"))
            self.hnsw.hnsw.efSearch = HNSW_EF_SEARCH
            self.exact = None
        else:
            self.exact = self.vectors.astype(np.float32)
        self._lexical = None
        one_blas_thread()  # after faiss is loaded: its BLAS too

    # --- lookups -------------------------------------------------------------------------
    def row_of(self, nct: str) -> int | None:
        with self._lock:
            r = self.db.execute("SELECT row FROM current WHERE nct = ?", (nct,)).fetchone()
        return r[0] if r and r[0] < self.rows else None

    def rows_of(self, ncts: list[str]) -> dict[str, int]:
        if not ncts:
            return {}
        marks = ",".join("?" * len(ncts))
        with self._lock:
            got = self.db.execute(f"SELECT nct, row FROM current WHERE nct IN ({marks})", ncts).fetchall()
        return {n: r for n, r in got if r < self.rows}

    def vector(self, row: int) -> np.ndarray:
        return self.vectors[row].astype(np.float32)

    def features(self, rows: list[int]) -> dict[int, tuple[str, object]]:
        """row -> (NCT id, trialscope.index.features.Features)."""
        from .features import decode_features

        out: dict[int, tuple[str, object]] = {}
        rows = [int(r) for r in rows]
        with self._lock:
            for i in range(0, len(rows), 500):
                chunk = rows[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for row, nct, feat in self.db.execute(
                    f"SELECT row, nct, feat FROM rows WHERE row IN ({marks})", chunk
                ):
                    out[row] = (nct, decode_features(feat))
        return out

    def lexical(self):
        """The TF-IDF scorer over this index's document frequencies (loaded once)."""
        if self._lexical is None:
            from .features import Lexical

            with self._lock:
                got = self.db.execute("SELECT tok, n FROM df WHERE n > 0 ORDER BY tok").fetchall()
            keys = np.array([k for k, _ in got], dtype=np.uint32)
            vals = np.array([n for _, n in got], dtype=np.int64)
            self._lexical = Lexical(keys, vals, self.n_live)
        return self._lexical

    # --- kNN -----------------------------------------------------------------------------
    def knn(self, query: np.ndarray, k: int = 200) -> list[tuple[int, float]]:
        """The k live rows nearest to the query vector (inner product = cosine)."""
        if self.rows == 0 or self.n_live == 0:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if self.hnsw is not None:
            want = min(self.rows, k + max(16, k // 4))
            scores, ids = self.hnsw.search(q, want)
            out = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True)
                   if i >= 0 and self.live[i]]
            return out[:k]
        scores = self.exact @ q[0]
        scores = np.where(self.live, scores, -np.inf)
        k = min(k, self.n_live)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top]

    def close(self) -> None:
        self.db.close()


_CACHE: dict[str, VectorIndex] = {}
_CACHE_LOCK = threading.Lock()


def open_index(store_or_url) -> VectorIndex | None:
    """The index for a store, reopened if another process caught it up; None if never built."""
    folder = index_dir(store_or_url)
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    stamp = meta_path.stat().st_mtime_ns
    key = str(folder)
    with _CACHE_LOCK:
        idx = _CACHE.get(key)
        if idx is None or idx.stamp != stamp:
            if idx is not None:
                idx.close()
            idx = VectorIndex(folder)
            _CACHE[key] = idx
        return idx
