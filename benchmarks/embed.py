"""Embedding throughput: the static model2vec model vs the full MiniLM, same texts, same run.

    .venv/bin/python benchmarks/embed.py [--n 5000] [--minilm-n 300] [--python /tmp/distill-venv/bin/python]

Texts are `study_text()` of real records: the shared data (../shared/data/ctgov) when
present, else the in-repo sample (said so in the output). The static model runs in this
process (torch-free). The full MiniLM needs torch + sentence-transformers: it runs here if
they import, else through `--python` (an interpreter that has the `full` extra), else it is
reported as unavailable. Prints JSON: trials/s (median of 3 runs) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SHARED = ROOT.parent / "shared" / "data"


def load_texts(n: int) -> tuple[list[str], str]:
    from trialscope.index.embeddings import study_text

    texts: list[str] = []
    src = SHARED / "ctgov" / "ctg-studies.json.zip"
    if src.exists():
        origin = str(src)
        with zipfile.ZipFile(src) as zf:
            for name in zf.namelist():
                if name.endswith(".json"):
                    texts.append(study_text(json.loads(zf.read(name))))
    else:
        origin = "sample/ctg-studies.json.zip (shared data absent)"
        with zipfile.ZipFile(ROOT / "sample" / "ctg-studies.json.zip") as zf:
            for name in zf.namelist():
                if name.endswith(".json"):
                    texts.append(study_text(json.loads(zf.read(name))))
    base = list(texts)
    while len(texts) < n:  # repeat to reach n (the model has no cache, so repeats cost the same)
        texts.extend(base[: n - len(texts)])
    return texts[:n], origin


def rate(encoder, texts: list[str], repeats: int = 3) -> dict:
    encoder.encode(texts[:64])  # warm-up
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        encoder.encode(texts)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    return {"n": len(texts), "seconds_median": round(med, 3), "trials_per_s": round(len(texts) / med, 1),
            "first_run_trials_per_s": round(len(texts) / times[0], 1),
            "trials_per_cpu_s": round(len(texts) / statistics.median(cpu), 1)}


def minilm_child(n: int, texts_file: str) -> None:
    from trialscope.index.embeddings import MiniLMEncoder

    texts = json.loads(Path(texts_file).read_text())[:n]
    print(json.dumps(rate(MiniLMEncoder(), texts, repeats=1)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--minilm-n", type=int, default=300)
    ap.add_argument("--python", default="/tmp/distill-venv/bin/python",
                    help="an interpreter with torch + sentence-transformers for the MiniLM figure")
    ap.add_argument("--minilm-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.minilm_child:
        minilm_child(args.minilm_n, args.minilm_child)
        return
    import numpy as np  # noqa: F401

    from trialscope.index.embeddings import StaticEncoder

    texts, origin = load_texts(args.n)
    out: dict = {"texts_from": origin, "cores": os.cpu_count(), "load_average": os.getloadavg(),
                 "mean_chars": round(sum(map(len, texts)) / len(texts))}
    t0 = time.perf_counter()
    enc = StaticEncoder()
    out["static_load_s"] = round(time.perf_counter() - t0, 3)
    out["static"] = rate(enc, texts)
    out["static"]["dims"] = enc.dim
    minilm: dict
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(texts[: args.minilm_n], fh)
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401

        cmd = [sys.executable]
    except ImportError:
        cmd = [args.python] if Path(args.python).exists() else None
    if cmd is None:
        minilm = {"unavailable": "torch/sentence-transformers not installed (pip install 'trialscope[full]')"}
    else:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run([*cmd, __file__, "--minilm-child", fh.name, "--minilm-n", str(args.minilm_n)],
                              capture_output=True, text=True, env=env)
        if proc.returncode == 0:
            minilm = json.loads(proc.stdout.strip().splitlines()[-1])
            minilm["python"] = cmd[0]
        else:
            minilm = {"unavailable": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    os.unlink(fh.name)
    out["minilm"] = minilm
    if "trials_per_s" in minilm:
        out["static_over_minilm"] = round(out["static"]["trials_per_s"] / minilm["trials_per_s"], 1)
    out["target_static_trials_per_s"] = 1000
    out["meets_target"] = out["static"]["trials_per_s"] >= 1000
    out["note"] = ("first_run = cold word-piece cache; wall-clock rates include waiting for a core on a "
                   "shared machine (load_average); trials_per_cpu_s is the rate per busy core")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
