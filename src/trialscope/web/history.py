"""Record history on the web: the record page's History section, the diff page, the history
API (a trialscope extension beyond the ClinicalTrials.gov API v2 contract) and Atom feeds.

`router(web, env)` returns the routes; `record_section` is the record page's History section
(`_history.html`), `history_stamp` what its page cache key adds to the store's seq.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ..history import (
    OutcomeSwitch,
    StudyHistory,
    VersionError,
    compare_versions,
    pick,
    pick_range,
    study_history,
    versions,
)
from ..history.recent import ChangeEntry, recent, search_matcher
from ..record import NCT_RE
from .atom import AtomEntry, feed
from .params import ParamError, parse_ui, ui_request

log = logging.getLogger("trialscope.web")


# -- the API's response schema (what /openapi.json documents and schemathesis checks) -------


class ErrorBody(BaseModel):
    error: str
    parameter: str | None = None
    message: str | None = None
    allowed: Any = None
    status: int | None = None


class StepChanges(BaseModel):
    summary: str = Field(description="the changes from the version before, in a line")
    keyFacts: list[str] = Field(description="e.g. 'status Recruiting → Completed'")
    keys: list[str] = Field(description="which key facts changed: status, enrollment, phase, ...")
    otherModules: list[str] = Field(description="modules changed beyond the key facts")


class VersionInfo(BaseModel):
    version: int = Field(description="1 is the oldest version held")
    lastUpdate: str | None = Field(description="the registry's last-update date of this version")
    source: str = Field(description="where the store read it from")
    format: str = Field(description="json or xml")
    current: bool
    storedAt: str = Field(description="when it was ingested, or filed in history")
    summary: str
    changes: StepChanges | None = None


class SwitchEventInfo(BaseModel):
    kind: Literal["reworded", "removed", "added", "demoted", "promoted"]
    old: str | None
    new: str | None
    similarity: float | None
    fromVersion: int
    toVersion: int
    fromDate: str
    toDate: str
    afterStart: bool = Field(description="whether the change came after the start date (counts for the flag)")


class OutcomeSwitchInfo(BaseModel):
    flagged: bool = Field(description="a primary outcome added, removed, substantially reworded or made "
                                      "secondary after the start date")
    startDate: str | None
    events: list[SwitchEventInfo]


class VersionRef(BaseModel):
    version: int
    lastUpdate: str | None
    source: str
    format: str
    current: bool
    storedAt: str


class FieldChange(BaseModel):
    path: str = Field(description="where in the v2 structure, e.g. $.protocolSection.statusModule.overallStatus")
    label: str
    kind: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None
    old: str | None = Field(description="the earlier value, as shown to people")
    new: str | None = Field(description="the later value, as shown to people")
    words: list[list[str]] | None = Field(None, description="long texts, word by word: [op, text] with "
                                                            "op '=', '-', '+' or '…' (unchanged words left out)")


class ModuleChanges(BaseModel):
    module: str
    label: str
    count: int
    changes: list[FieldChange]
    notListed: int


class VersionDiffInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: VersionRef = Field(alias="from")
    to: VersionRef
    summary: str
    keyFacts: list[str]
    keys: list[str]
    otherModules: list[str]
    count: int
    modules: list[ModuleChanges]


class HistoryResponse(BaseModel):
    nctId: str
    note: str
    versions: list[VersionInfo]
    outcomeSwitch: OutcomeSwitchInfo
    diff: VersionDiffInfo | None = Field(None, description="with from= and/or to=: the diff of two versions")


# -- helpers ---------------------------------------------------------------------------------


def _nct(value: str) -> str:
    nct = value.strip().upper()
    if not NCT_RE.match(nct):
        raise ParamError("nctId", f"not an NCT id: {value[:40]!r}", "NCT followed by 8 digits, e.g. NCT03949231")
    return nct


def _pair(history, from_: str | None, to: str | None):
    """The two versions asked for (either end may be missing), as ParamError when unknown."""
    held = history.versions
    try:
        if from_ and to:
            return pick(held, from_), pick(held, to)
        if from_:
            return pick(held, from_), held[-1]
        return pick_range(held, to or "latest")
    except VersionError as exc:
        param = "to" if to and not from_ else "from"
        raise ParamError(param, str(exc), [str(v.number) for v in held] + [v.last_update for v in held if v.last_update]) from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def history_view(history) -> dict | None:
    """What the record page's History section (and the diff page's list) shows."""
    if history is None:
        return None
    nct = history.nct_id
    rows = []
    for v in history.versions:
        rows.append({"v": v, "summary": history.summary(v),
                     "diff": f"/study/{nct}/history?from={v.number - 1}&to={v.number}" if v.number > 1 else None})
    return {"history": history, "rows": list(reversed(rows))}


# -- routes ----------------------------------------------------------------------------------


def history_stamp(entries) -> tuple:
    """What the record page's History section depends on beyond the store's seq: a late
    older version is filed in history without moving the seq, so a page cached by seq alone
    showed it only after the next write."""
    return (len(entries), max((h.replaced_at or "" for h in entries), default=""))


def record_section(store, stored, entries) -> dict | None:
    """The record page's History section from the study and its history rows, which the
    page has read already. One version held (most studies): nothing to compare and no
    outcome switch to look for, so no record is parsed."""
    try:
        if entries:
            return history_view(study_history(store, stored.nct_id, stored, entries))
        held = versions(store, stored.nct_id, stored, entries)
        return history_view(StudyHistory(stored.nct_id, held, [None], OutcomeSwitch(False, None, [])))
    except Exception:  # the History section must never break the record page
        log.exception("history section failed for %s", stored.nct_id)
        return None


def router(web, env) -> APIRouter:
    r = APIRouter()

    @r.get(
        "/api/v2/studies/{nctId}/history", tags=["trialscope extensions"],
        summary="Versions of a study, and a diff of two (trialscope extension)",
        description="Beyond the ClinicalTrials.gov API v2 contract: every version of the study the "
                    "store holds (oldest first, numbered from 1), what changed in each, and the "
                    "outcome-switch flag. With `from` and/or `to` (version numbers or last-update "
                    "dates), also the field-level diff of the two versions, grouped by module.",
        response_class=Response,
        responses={200: {"model": HistoryResponse, "description": "the versions (and the diff)"},
                   400: {"model": ErrorBody, "description": "a bad NCT id or version"},
                   404: {"model": ErrorBody, "description": "a study the store does not hold"}},
    )
    def history_api(
        nctId: str,
        from_: str | None = Query(None, alias="from", max_length=32, description="version number or last-update date"),
        to: str | None = Query(None, max_length=32, description="version number or last-update date"),
    ):
        nct = _nct(nctId)
        history = study_history(web.store, nct)
        if history is None:
            raise HTTPException(404, f"{nct} is not in this registry copy")
        body = history.as_json()
        if from_ or to:
            body["diff"] = compare_versions(*_pair(history, from_, to)).as_json()
        return Response(orjson.dumps(body), media_type="application/json")

    @r.get("/study/{nct}/history", response_class=HTMLResponse, include_in_schema=False)
    def history_page(nct: str, request: Request):
        canonical = nct.strip().upper()
        if not NCT_RE.match(canonical):
            raise HTTPException(404, f"{nct[:40]!r} is not an NCT id (NCT followed by 8 digits).")
        if canonical != nct:
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/study/{canonical}/history{query}", status_code=301)
        history = study_history(web.store, canonical)
        if history is None:
            raise HTTPException(404, f"{canonical} is not in this registry copy.")
        params = request.query_params
        result = None
        if len(history.versions) > 1:
            result = compare_versions(*_pair(history, params.get("from"), params.get("to")))
        view = history_view(history)
        html = env.get_template("history.html").render(nct=canonical, view=view, result=result,
                                                       title=_title(history.versions[-1].record, canonical))
        return HTMLResponse(html)

    @r.get("/feed.atom", include_in_schema=False)
    def atom(request: Request):
        ui = parse_ui(request.query_params)
        ui.page = ""
        pairs = ui.pairs()
        # the feed reads the store changes the index holds, so each is matched against the
        # search as indexed: the index's seq first, then a searcher that sees at least that
        indexed = web.searcher.index.seq

        def compute() -> bytes:
            web.searcher.catch_up()
            return _feed(web, ui, pairs, str(request.base_url).rstrip("/"), indexed)

        body = web.cached(("feed.atom", tuple(pairs), str(request.base_url), indexed), compute)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    return r


def _title(record: dict, nct: str) -> str:
    from ..history.recent import title_of

    return title_of((record.get("protocolSection") or {}).get("identificationModule"), nct)


def _feed(web, ui, pairs: list[tuple[str, str]], base: str, indexed: int) -> bytes:
    def request_for(ids: list[str]):
        req = ui_request(ui, limit=len(ids), facets=False, snippets=False)
        req.ids = ids
        return req

    entries, _ = recent(web.store, search_matcher(web.searcher, request_for), until_seq=indexed)
    qs = urlencode(pairs)
    what = " ".join(v for k, v in pairs if k in ("q", "cond", "intr", "locn", "spons")) or "all studies"
    return feed(
        feed_id=f"tag:trialscope,2024:feed?{qs}",
        title=f"trialscope: {what}",
        subtitle="New studies and studies whose status or key facts changed, newest first",
        self_url=f"{base}/feed.atom" + (f"?{qs}" if qs else ""),
        html_url=f"{base}/" + (f"?{qs}" if qs else ""),
        updated=entries[0].changed_at if entries else _now(),
        entries=[_atom_entry(e, base) for e in entries],
    )


def _atom_entry(e: ChangeEntry, base: str) -> AtomEntry:
    study = f"{base}/study/{e.nct_id}"
    links = []
    if e.from_version is not None:
        links.append(("related", f"{study}/history?from={e.from_version}&to={e.to_version}", "What changed"))
    head = {"new": "New", "updated": "Updated", "withdrawn": "Gone from the registry"}[e.kind]
    return AtomEntry(
        id=f"tag:trialscope,2024:{e.nct_id}/seq/{e.seq}",
        title=f"{head}: {e.title} ({e.nct_id})",
        link=study,
        updated=e.changed_at,
        summary=e.summary,
        content_lines=e.facts,
        category=e.kind,
        links=links,
    )
