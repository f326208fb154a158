"""Start a real `trialscope serve` process on loopback for tests (and the sync helper)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command() -> list[str]:
    exe = Path(sys.executable).parent / "trialscope"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "trialscope.cli"]


@contextlib.contextmanager
def running_server(db: str, port: int | None = None, env: dict | None = None,
                   timeout: float = 60.0, args: list[str] | None = None) -> Iterator[str]:
    """Run `trialscope serve --db DB` on 127.0.0.1; yields its base URL; stops it after."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, **(env or {})}
    cmd = [*_command(), "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port), *(args or [])]
    # Output goes to a file, not a pipe: nobody reads a pipe while tests run, and a chatty
    # server would block once it filled.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                out = log.read().decode(errors="replace")
                raise RuntimeError(f"trialscope serve exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"trialscope serve did not answer on {base} within {timeout}s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
