"""Hostile studies built in the tests: a record with a payload in every text field, and a
store of such records behind a real server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from tests.servers import running_server
from trialscope.essie.areas import PIECES
from trialscope.web.metadata import _list_paths

# never payloads: the ids the store keys on, and the fields ingest validates as codes or dates
_SKIP = {"NCTId", "NCTIdAlias"}


def with_text_everywhere(nct: str, payload: str, base: dict | None = None) -> dict:
    """A valid study whose every text and markup piece (protocol and derived sections)
    carries `payload` (list fields get one item)."""
    lists = _list_paths()
    record = json.loads(json.dumps(base or {}))
    for p in PIECES.values():
        if p.type not in ("text", "markup") or p.name in _SKIP:
            continue
        if not p.path.startswith(("protocolSection.", "derivedSection.")):
            continue
        parts = p.path.split(".")
        node = record
        for i, part in enumerate(parts):
            path = ".".join(parts[: i + 1])
            last = i == len(parts) - 1
            if path in lists:
                items = node.setdefault(part, [] if last else [{}])
                if last:
                    items.append(payload)
                    break
                node = items[0]
            elif last:
                node[part] = payload
            else:
                node = node.setdefault(part, {})
    ident = record.setdefault("protocolSection", {}).setdefault("identificationModule", {})
    ident["nctId"] = nct
    status = record["protocolSection"].setdefault("statusModule", {})
    status.update({"overallStatus": "RECRUITING", "lastUpdatePostDateStruct": {"date": "2024-01-02"},
                   "studyFirstPostDateStruct": {"date": "2023-05-06"},
                   "startDateStruct": {"date": "2023-06-01"}})
    record["protocolSection"].setdefault("designModule", {}).update(
        {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"]})
    return record


@contextlib.contextmanager
def serve_records(folder: Path, records: list[dict]) -> Iterator[str]:
    """Ingest the records into a new store in `folder` and serve it; yields the base URL."""
    from trialscope.cli import after_ingest
    from trialscope.ingest import ingest
    from trialscope.store import open_store

    files = []
    for r in records:
        f = folder / f"{r['protocolSection']['identificationModule']['nctId']}.json"
        f.write_text(json.dumps(r))
        files.append(str(f))
    db = str(folder / "hostile.db")
    store = open_store(db)
    ingest(store, files, progress=False)
    assert store.count() == len(records), "every hostile record is accepted"
    after_ingest(store)
    store.close()
    with running_server(db) as base:
        yield base
