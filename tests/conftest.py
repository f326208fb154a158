"""Shared fixtures: the in-repo sample, and a store holding it (built once per session)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
SHARED = ROOT.parent / "shared" / "data"
ARTIFACTS = ROOT / "test-artifacts"


def sample_archives() -> list[str]:
    """The sample's three archives (the folder also holds MANIFEST.json, which is no study)."""
    return [str(p) for p in sorted(SAMPLE.glob("*.zip"))]


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((SAMPLE / "MANIFEST.json").read_text())


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> str:
    """A SQLite store with the whole sample ingested (and its derived data built).

    Read-only for tests: a test that writes makes its own store.
    """
    from trialscope.cli import after_ingest
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    path = str(tmp_path_factory.mktemp("sample") / "sample.db")
    store = open_store(path)
    ingest(store, sample_archives(), progress=False)
    after_ingest(store)
    store.close()
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_report_header(config):
    return f"shared data: {'present' if SHARED.exists() else 'absent'}; TRIALSCOPE_DB={os.environ.get('TRIALSCOPE_DB', '')}"


# -- PostgreSQL (store and sync helpers) ---------------------------------------------------


@pytest.fixture(scope="session")
def pg_server():
    """A private PostgreSQL server on loopback for the session (skips if not installed)."""
    from trialscope.store.postgres import TemporaryServer, find_bindir

    if find_bindir() is None:
        pytest.fail("PostgreSQL server binaries not installed: run make sysdeps (make test does)")
    server = TemporaryServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server) -> str:
    """The URL of a fresh database on the session's PostgreSQL server."""
    return pg_server.create_database("trialscope_test")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    """A fresh empty store URL of each kind: a SQLite path, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_server").create_database()


@pytest.fixture(scope="module")
def browser():
    """A real chromium for the module's browser tests."""
    from playwright import sync_api

    from tests.browser import ARGS, CHROMIUM

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
