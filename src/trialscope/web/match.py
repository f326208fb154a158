"""Matching a patient in the web app: the `/match` page and `POST /api/v2/match`.

The page works without JavaScript: the note is a form POSTed to `/match`; the answer shows
the facts read from it as an editable form (which posts the note again with the edited
facts, and those override what the note says), then the ranked trials, each with its
criteria marked met / not met / unknown and the words of the note that decided each one.
`/match?nct=NCT…` checks a note against that one trial (the record page links to it).

The API takes a JSON body (`MatchRequest`) of at most `MAX_BODY` bytes and answers
`trialscope.match.MatchResult.as_json()`, documented by the pydantic models below.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import anyio.to_thread
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..criteria.units import LABELS
from ..match import MAX_LIMIT, MAX_NOTE, MatchError, match
from ..match.assess import by_verdict
from ..match.patient import SETTINGS
from ..record import NCT_RE
from . import api_schema as S
from .backend import FilterError, Web

MAX_BODY = 2_000_000  # bytes of a request body; a 1 MB note fits, and is read up to MAX_NOTE characters
MAX_NCTS = 100
SNIPPET = 40  # characters of the note shown on each side of an evidence span
_NCT = r"^[Nn][Cc][Tt][0-9]{8}$"


# --- the API's request and response, as pydantic models (they are the OpenAPI document) -------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MatchPatientFacts(_Model):
    """Structured facts; each one given replaces what the note says."""

    age: Annotated[float, Field(ge=0, le=120)] | None = Field(None, description="years")
    sex: Literal["female", "male"] | None = None
    conditions: list[Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=50, description="the patient's conditions (names or MeSH terms)")
    pregnant: bool | None = None
    lactating: bool | None = None
    ecog: Annotated[float, Field(ge=0, le=5)] | None = None
    karnofsky: Annotated[float, Field(ge=0, le=100)] | None = None
    smoker: Literal["current", "former", "never"] | None = None
    setting: Literal[SETTINGS] | None = Field(
        None, description="where the patient is seen: office or clinic, emergency department, hospital ward, "
                          "intensive care, mechanically ventilated")


class MatchNear(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(100.0, gt=0, le=20000, alias="radiusKm")


class MatchRequest(_Model):
    """A patient's note, and how to match it."""

    text: str = Field("", description=f"the note (free text; the first {MAX_NOTE:,} characters are read)")
    facts: MatchPatientFacts | None = None
    age: Annotated[float, Field(ge=0, le=120)] | None = Field(None, description="overrides the note")
    sex: Literal["female", "male"] | None = Field(None, description="overrides the note")
    near: MatchNear | Annotated[str, Field(max_length=200)] | None = Field(
        None, description='a point and radius, or a place: "Lyon, France, 50km", "60611,30mi", "41.88,-87.63,100km"')
    open_only: bool = Field(False, alias="openOnly", description="only trials recruiting or about to")
    limit: int = Field(20, ge=1, le=MAX_LIMIT)
    nct_ids: list[Annotated[str, Field(pattern=_NCT)]] | None = Field(
        None, alias="nctIds", max_length=MAX_NCTS, description="assess the note against these trials only")


class MatchEvidence(BaseModel):
    start: int = Field(description="offset into the note (-1: a fact given, not read)")
    end: int
    fact: str


class MatchCriterion(BaseModel):
    section: Literal["inclusion", "exclusion", "structured"]
    label: str
    text: str
    kind: str
    status: Literal["met", "not_met", "unknown"]
    decisive: bool = Field(description="a met exclusion or a failed inclusion: it settles eligibility")
    reason: str
    evidence: list[MatchEvidence]
    criterionSpans: list[list[int]] = Field(description="spans of the criterion text that carry its values")
    children: list[MatchCriterion] | None = None
    judgedBy: str | None = None


class MatchAssessment(BaseModel):
    eligible: Literal["excluded", "possibly eligible", "likely eligible"]
    explanation: str
    summary: dict[str, Any] = Field(description="criteria met / not met / unknown per section, what excluded")
    features: dict[str, float]
    criteria: list[MatchCriterion]


class MatchedTrial(BaseModel):
    nctId: str
    briefTitle: str
    overallStatus: str | None
    phases: list[str]
    score: float
    verdict: Literal["excluded", "possibly eligible", "likely eligible"] = Field(
        description="the assessment's verdict; the /match page and the CLI show the trials that are not "
                    "'excluded' first, then the excluded ones, each group in rank order")
    explanation: str = Field(examples=["meets 7 of 9 inclusion criteria; no exclusion applies; unknown: ECOG"])
    foundBy: list[str] = Field(description="which of the queries found it")
    assessment: MatchAssessment | None


class MatchFilters(BaseModel):
    age: float | None
    sex: str | None
    healthyVolunteer: bool | None
    openOnly: bool
    near: list[float] | None
    ids: list[str] | None


class MatchQueries(BaseModel):
    conditions: list[str]
    keyTerms: list[str]
    treatments: list[str]
    feedbackConditions: list[str] = Field(description="diseases most of the first trials found share")
    inferredConditions: list[str] = Field(default=[], description="diseases the note describes, read from "
                                          "its words by the condition index (best first)")
    describedDiseases: list[str] = Field(default=[], description="diseases the inferred, feedback and named "
                                         "conditions agree on (best first): the `dis` and `dnote` sources' query")


class MatchResponse(BaseModel):
    facts: dict[str, Any] = Field(description="what was read from the note (and given): age, sex, "
                                  "conditions with MeSH terms and negation, treatments, labs, ...")
    filters: MatchFilters
    queries: MatchQueries
    candidates: int = Field(description="trials retrieved before ranking")
    notes: list[str] = Field(description="what was assumed or cut (no age found, a long note)")
    trials: list[MatchedTrial] = Field(description="best first, in the ranker's order: an excluded trial keeps "
                                       "its place (group by `verdict` to show the joinable ones first)")


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing (before reading it) one longer than `limit` bytes."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str, parameter: str | None = None, error: str = "bad parameter") -> Response:
    return Response(orjson.dumps({"error": error, "parameter": parameter, "message": message}),
                    status_code=status, media_type="application/json")


def _near(value) -> tuple[float, float, float] | None:
    """`near` as (lat, lon, km): a Near, or a place string through trialscope.geo."""
    if value is None:
        return None
    if isinstance(value, MatchNear):
        return (value.lat, value.lon, value.radius_km)
    from ..match.cli import near_of

    return near_of(value)[0]


def run_request(web: Web, req: MatchRequest):
    facts = req.facts.model_dump(exclude_none=True) if req.facts else None
    return match(web.store, req.text, facts=facts, age=req.age, sex=req.sex, near=_near(req.near),
                 open_only=req.open_only, limit=req.limit,
                 ids=[n.upper() for n in req.nct_ids] if req.nct_ids else None)


# --- query.patient on GET /api/v2/studies --------------------------------------------------
def patient_page(web: Web, req, text: str) -> tuple[list[str], int, str | None]:
    """`query.patient`: the matcher's ranking for this note (at most MAX_LIMIT studies),
    restricted by the request's other parameters, one page of it: (ids, total, next token).
    Raises ParamError for a note the matcher cannot use."""
    import base64
    from dataclasses import replace

    from .params import ParamError

    if len(text) > MAX_NOTE:
        raise ParamError("query.patient", f"query.patient is longer than {MAX_NOTE:,} characters; "
                         "POST the note to /api/v2/match", f"at most {MAX_NOTE:,} characters")
    offset = 0
    if req.page_token:
        try:
            offset = int(base64.urlsafe_b64decode(req.page_token + "==").decode().removeprefix("patient:"))
        except (ValueError, UnicodeDecodeError):
            raise ParamError("pageToken", "pageToken is not one this search returned",
                             "a nextPageToken from a previous page") from None
    try:
        result = match(web.store, text, near=req.near, limit=MAX_LIMIT)
    except MatchError as exc:
        raise ParamError("query.patient", str(exc), "a patient's note (free text)") from None
    ranked = [t.nct_id for t in result.trials]
    if ranked:  # the request's other parameters (query.cond, filter.*, aggFilters ...) restrict it
        ids = [i for i in ranked if not req.ids or i in set(req.ids)] or ["NCT00000000"]
        kept = web.search(replace(req, ids=ids, limit=len(ids), page_token=None, sort="relevance"))
        keep = {h.nct_id for h in kept.hits}
        ranked = [i for i in ranked if i in keep]
    page = ranked[offset:offset + req.limit]
    nxt = offset + len(page)
    token = base64.urlsafe_b64encode(f"patient:{nxt}".encode()).decode().rstrip("=") if nxt < len(ranked) else None
    return page, len(ranked), token


# --- the page -------------------------------------------------------------------------------
def _snippet(note: str, start: int, end: int) -> dict:
    """The words of the note at start:end with a little context (escaped by the template)."""
    if start < 0 or end > len(note) or end <= start:
        return {"given": True}
    a, b = max(0, start - SNIPPET), min(len(note), end + SNIPPET)
    return {"before": ("…" if a > 0 else "") + note[a:start], "mark": note[start:end],
            "after": note[end:b] + ("…" if b < len(note) else "")}


def _criteria_view(results, note: str) -> list[dict]:
    out = []
    for r in results:
        out.append({
            "section": r.section, "label": r.label, "text": r.text, "status": r.status,
            "decisive": r.decisive, "reason": r.reason,
            "evidence": [_snippet(note, e.start, e.end) | {"fact": e.fact} for e in r.evidence],
            "children": _criteria_view(r.children, note),
        })
    return out


def trial_view(t, note: str, rank: int) -> dict:
    a = t.assessment
    criteria = _criteria_view(a.criteria, note) if a is not None else []
    return {
        "rank": rank, "nct": t.nct_id, "title": t.brief_title, "status": t.overall_status, "phases": t.phases,
        "verdict": t.verdict, "explanation": t.explanation, "found_by": t.found_by,
        "structured": [c for c in criteria if c["section"] == "structured"],
        "inclusion": [c for c in criteria if c["section"] == "inclusion"],
        "exclusion": [c for c in criteria if c["section"] == "exclusion"],
        "decisive": [c for c in criteria if c["decisive"]],
    }


def facts_view(f) -> dict:
    """The facts as the editable form shows them."""
    ecog = next((p.value for p in f.performance if p.scale == "ECOG"), None)
    return {
        "age": "" if f.age is None else f"{f.age:g}", "sex": f.sex or "",
        "conditions": "\n".join(dict.fromkeys(c.text for c in f.present_conditions())),
        "stated": list(dict.fromkeys(c.text for c in f.conditions if c.stated)),
        "negated": [c.text for c in f.conditions if c.negated],
        "family": [c.text for c in f.conditions if c.family],
        "treatments": [t.name for t in f.treatments if not t.negated],
        "pregnant": "" if f.pregnant is None else ("yes" if f.pregnant.value else "no"),
        "ecog": "" if ecog is None else f"{ecog:g}",
        "smoker": getattr(f.smoker, "status", "") if f.smoker else "",
        "setting": f.setting.place if f.setting else "",
        "labs": [_lab(lab) for lab in f.labs],
        "stage": [f"{s.system} {s.value}" for s in f.stage],
    }


def _lab(lab) -> str:
    """A lab as the page shows it: "ALT 85 U/L"; a range the note implies as that range
    ("respiratory rate 12-20 /min (normal vital signs)")."""
    name = LABELS.get(lab.analyte, lab.analyte)
    if lab.high is not None:
        return f"{name} {lab.value:g}-{lab.high:g} {lab.unit} (normal vital signs)".replace("  ", " ")
    return f"{name} {lab.value:g} {lab.unit}".strip()


SHOWN = (20, 50, 100)  # how many trials the page can list: a deeper list holds more of those excluded


def shown(value: str | None) -> int:
    """The page's list length from its form: one of SHOWN, the first for anything else."""
    return int(value) if value in {str(n) for n in SHOWN} else SHOWN[0]


def _form(body: bytes) -> dict[str, str]:
    got = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=40)
    return {k: v[0] for k, v in got.items()}


def _overrides(form: dict[str, str]) -> tuple[dict, list[str]]:
    """The edited facts of the form (only when it was the facts form), and what was unusable."""
    if form.get("edited") != "1":
        return {}, []
    out: dict[str, Any] = {}
    problems = []
    age = form.get("age", "").strip()
    if age:
        try:
            value = float(age)
            if math.isnan(value) or not 0 <= value <= 120:
                raise ValueError
            out["age"] = value
        except ValueError:
            problems.append(f"age {age[:20]!r} is not a number of years from 0 to 120: not used")
    if form.get("sex") in ("female", "male"):
        out["sex"] = form["sex"]
    conditions = [c.strip()[:200] for c in form.get("conditions", "").splitlines() if c.strip()][:50]
    out["conditions"] = conditions
    if form.get("pregnant") in ("yes", "no"):
        out["pregnant"] = form["pregnant"] == "yes"
    ecog = form.get("ecog", "").strip()
    if ecog:
        try:
            value = float(ecog)
            if not 0 <= value <= 5:
                raise ValueError
            out["ecog"] = value
        except ValueError:
            problems.append(f"ECOG {ecog[:20]!r} is not 0 to 5: not used")
    if form.get("smoker") in ("current", "former", "never"):
        out["smoker"] = form["smoker"]
    if form.get("setting") in SETTINGS:
        out["setting"] = form["setting"]
    return out, problems


def router(web: Web, env) -> APIRouter:
    """The page routes and the API route; the request body's schemas join the OpenAPI
    components (`api_schema.COMPONENTS`), the response's come with the route."""
    S.COMPONENTS.update(request_schemas())
    r = APIRouter()

    def page(status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(env.get_template("match.html").render(shown_choices=SHOWN, **ctx), status_code=status)

    def checked_trial(nct: str | None) -> dict | None:
        if not nct:
            return None
        nct = nct.strip().upper()
        if not NCT_RE.match(nct):
            return {"nct": nct, "missing": True}
        stored = web.store.get(nct)
        if stored is None:
            return {"nct": nct, "missing": True}
        ident = (stored.record.get("protocolSection") or {}).get("identificationModule") or {}
        return {"nct": nct, "title": ident.get("briefTitle") or nct}

    @r.get("/match", response_class=HTMLResponse, include_in_schema=False)
    def match_page(nct: str | None = None):
        return page(trial=checked_trial(nct), note="", form={})

    @r.post("/match", response_class=HTMLResponse, include_in_schema=False)
    async def match_post(request: Request):
        try:
            form = _form(await read_body(request))
        except BodyTooLarge:
            return page(413, trial=None, note="", form={},
                        error=f"That note is too long to send (more than {MAX_BODY // 1_000_000} MB).")
        note = form.get("note", "")
        trial = checked_trial(form.get("nct"))
        overrides, problems = _overrides(form)
        ctx: dict[str, Any] = {"trial": trial, "note": note[:MAX_NOTE], "form": form}
        near = None
        if form.get("near", "").strip():
            from ..geo import PlaceError
            from ..match.cli import near_of

            try:
                near = near_of(form["near"])[0]
            except PlaceError as exc:
                return page(400, error=f"Near: {exc}", **ctx)
        ids = [trial["nct"]] if trial and not trial.get("missing") else None
        try:
            result = await anyio.to_thread.run_sync(lambda: match(
                web.store, note, facts=overrides or None, near=near, open_only=form.get("open_only") == "1",
                limit=shown(form.get("limit")), ids=ids))
        except (MatchError, FilterError) as exc:
            return page(400, error=str(exc), **ctx)
        text = note[:MAX_NOTE]
        rank = {t.nct_id: i for i, t in enumerate(result.trials, 1)}
        may_join, excluded = ([trial_view(t, text, rank[t.nct_id]) for t in group]
                              for group in by_verdict(result.trials))
        return page(result=result, facts=facts_view(result.facts), problems=problems,
                    trials=may_join + excluded, may_join=may_join, excluded=excluded, **ctx)

    @r.post("/api/v2/match", summary="Match a patient's note to trials (trialscope extension)",
            tags=["trialscope"], response_class=Response,
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": S.ref("MatchRequest")}}}},
            responses={200: {"model": MatchResponse, "description": "the facts read and the ranked trials, "
                             "each assessed criterion by criterion"},
                       **S.BAD_REQUEST, 413: S.error("The body is larger than 2 MB")})
    async def api_match(request: Request):
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return _error(413, f"the body is larger than {MAX_BODY:,} bytes", None, "body too large")
        try:
            req = MatchRequest.model_validate_json(body or b"{}")
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err.get("loc") or ()) or None
            return _error(400, err.get("msg") or "invalid body", where)
        try:
            result = await anyio.to_thread.run_sync(lambda: run_request(web, req))
        except MatchError as exc:
            return _error(400, str(exc), exc.param)
        except FilterError as exc:
            return _error(400, str(exc), getattr(exc, "param", None))
        except ValueError as exc:  # a place that geo cannot find
            return _error(400, str(exc), "near")
        return Response(orjson.dumps(result.as_json()), media_type="application/json")

    return r


def request_schemas() -> dict[str, dict]:
    """The request body's JSON schema components (the response's come from the route)."""
    schema = MatchRequest.model_json_schema(ref_template=S.REF.replace("{name}", "{model}"), by_alias=True)
    defs = schema.pop("$defs", {})
    return {"MatchRequest": schema, **defs}
