"""Stores of record. `open_store` picks the backend from the URL or path."""

from __future__ import annotations

import os

from .base import Outcome, Store, StoredStudy, StudyVersion

__all__ = ["Outcome", "Store", "StoreUnavailable", "StoredStudy", "StudyVersion", "open_store", "default_db"]

DEFAULT_DB = "trialscope.db"


def default_db() -> str:
    return os.environ.get("TRIALSCOPE_DB") or DEFAULT_DB


class StoreUnavailable(Exception):
    """A store that cannot be opened at all (no such folder, not a database): one clear line."""


def open_store(url: str | None = None) -> Store:
    """`postgresql://...` opens the PostgreSQL store; anything else is a SQLite file path."""
    target = url or default_db()
    if target.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(target)
    import sqlite3

    from .sqlite import SQLiteStore

    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise StoreUnavailable(f"cannot open the store {target}: the folder {folder} does not exist")
    try:
        return SQLiteStore(target)
    except sqlite3.DatabaseError as exc:
        raise StoreUnavailable(f"cannot open the store {target}: {exc}") from None


def derived_dir(url: str, kind: str) -> str:
    """Where data derived from a store lives (kind: "index", "vectors"); rebuildable.

    Beside a SQLite file (`trialscope.db.index`); for a server store, under
    $TRIALSCOPE_DATA (default `var/`), named after the database.
    """
    if url.startswith(("postgresql://", "postgres://")):
        import re

        base = os.environ.get("TRIALSCOPE_DATA", "var")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", url.split("@")[-1].split("?")[0])
        return os.path.join(base, f"{name}.{kind}")
    return f"{url}.{kind}"
