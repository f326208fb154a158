"""Hostile input, grouped by class: each reproducer names what an attacker or a careless
user sent, and asserts a clear 400 (or a clean reject) rather than a crash or a 500."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.servers import running_server


@pytest.fixture(scope="module")
def hostile_server(sample_db):
    """A real server process of its own: a request that kills it fails every later test."""
    with running_server(sample_db) as base:
        yield base


def forged_token(real_token: str, offset) -> str:
    """A page token with the fingerprint copied from a real one and any offset."""
    data = json.loads(base64.urlsafe_b64decode(real_token + "=" * (-len(real_token) % 4)))
    data["o"] = offset
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def assert_alive(base: str) -> None:
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
