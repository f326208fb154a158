"""What the record page shows, prepared from the v2 record (templates stay simple)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..normalize import unescape_markdown
from ..record import RecordError, display_title, validate
from ..trust import effective_status
from .params import label

_HEAD = re.compile(r"^\s*(key\s+)?(inclusion|exclusion)\s+criteria\s*:?\s*$", re.I)
_INLINE = re.compile(r"(?i)\b(inclusion|exclusion)\s+criteria\s*:")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)]|[a-z][.)])\s+")


def g(d: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return default
        d = d.get(p)
        if d is None:
            return default
    return d


_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_HAS_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")


def display_text(text: str) -> str:
    """Full-width ASCII forms (`＜ ＞ ＝ ２`, common in records typed with CJK input methods)
    as plain ASCII for display: many fonts lack the full-width glyphs, and a missing `＜`
    turns "ECOG score ＜ 2" into "ECOG score □ 2"."""
    return text.translate(_FULLWIDTH) if _HAS_FULLWIDTH.search(text) else text


def split_criteria(text: str | None) -> dict[str, list[str]]:
    """Eligibility criteria text → {"inclusion": [...], "exclusion": [...], "other": [...]}."""
    out: dict[str, list[str]] = {"inclusion": [], "exclusion": [], "other": []}
    if not text:
        return out
    text = display_text(unescape_markdown(text.replace("\r\n", "\n")))
    # put inline headings ("Inclusion Criteria: - age ...") on their own lines
    text = _INLINE.sub(lambda m: f"\n{m.group(1).capitalize()} Criteria:\n", text)
    bucket = "other"
    current: list[str] = []

    def flush() -> None:
        if current:
            item = " ".join(" ".join(current).split())
            if item:
                out[bucket].append(item)
            current.clear()

    for line in text.split("\n"):
        m = _HEAD.match(line)
        if m:
            flush()
            bucket = m.group(2).lower()
            continue
        if not line.strip():
            flush()
            continue
        if _BULLET.match(line):
            flush()
            current.append(_BULLET.sub("", line, count=1))
        else:
            current.append(line.strip())
    flush()
    return out


def dated(struct: dict | None) -> str | None:
    """`2019-01-01 (actual)` / `2021-01 (estimated)`: the registry marks every date."""
    if not isinstance(struct, dict) or not struct.get("date"):
        return None
    kind = {"ACTUAL": "actual", "ESTIMATED": "estimated", "ANTICIPATED": "estimated"}.get(
        str(struct.get("type") or "").upper())
    return f"{struct['date']} ({kind})" if kind else struct["date"]


def tel(phone: str | None) -> str | None:
    """A `tel:` target: the number's digits with any leading +, up to an extension."""
    if not isinstance(phone, str):
        return None
    number = re.split(r"(?i)\s*(?:ext\.?|x|#)\s*\d", phone, maxsplit=1)[0]
    digits = re.sub(r"\D", "", number)
    if len(digits) < 5:
        return None
    return ("+" if number.strip().startswith("+") else "") + digits


def contact(c: dict) -> dict:
    """A central or site contact, with its links."""
    phone = " ext. ".join(x for x in (c.get("phone"), c.get("phoneExt")) if x) or None
    target = tel(c.get("phone"))
    if target and c.get("phoneExt"):
        target += ";ext=" + re.sub(r"\D", "", str(c["phoneExt"]))
    email = c.get("email") if isinstance(c.get("email"), str) and "@" in c.get("email") else None
    return {"name": c.get("name"), "role": label(c.get("role")) if c.get("role") else None,
            "phone": phone, "tel": target, "email": email}


def site(loc: dict) -> dict:
    return {**loc, "contacts": [contact(c) for c in loc.get("contacts") or () if isinstance(c, dict)]}


def pretty_json(data: bytes | dict) -> str:
    obj = orjson.loads(data) if isinstance(data, bytes | bytearray) else data
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()


PREVIEW_CHARS = 60_000  # bigger records are cut in the inline preview (the download is whole)


def _cap(text: str | None) -> tuple[str | None, bool]:
    if text is None or len(text) <= PREVIEW_CHARS:
        return text, False
    cut = text.rfind("\n", 0, PREVIEW_CHARS)
    return text[: cut if cut > 0 else PREVIEW_CHARS], True


INLINE_PREVIEW_BYTES = 30_000


def preview_text(stored, record: dict | None, kind: str, raw: bytes | None = None) -> tuple[str, bool]:
    """(text, cut): the source record ("raw": pretty JSON or the XML) or the v2 JSON ("v2").
    `raw`: the source bytes when the caller has them already (reading them may inflate)."""
    if kind == "v2":
        return _cap(pretty_json(record if record is not None else stored.record_json))
    raw = stored.raw if raw is None else raw
    try:
        text = raw.decode("utf-8") if stored.raw_format == "xml" else pretty_json(raw)
    except (UnicodeDecodeError, orjson.JSONDecodeError):
        text = raw.decode("utf-8", "replace")
    return _cap(text)


def study_view(stored) -> dict[str, Any]:
    record = orjson.loads(stored.record_json)
    p = record.get("protocolSection") or {}
    ident = p.get("identificationModule") or {}
    status = p.get("statusModule") or {}
    design = p.get("designModule") or {}
    info = design.get("designInfo") or {}
    spons = p.get("sponsorCollaboratorsModule") or {}
    contacts = p.get("contactsLocationsModule") or {}
    elig = p.get("eligibilityModule") or {}
    try:
        title = display_title(validate(record))
    except RecordError:
        title = ident.get("briefTitle") or ident.get("nctId") or stored.nct_id
    enrollment = design.get("enrollmentInfo") or {}
    enroll_text = None
    if enrollment.get("count") is not None:
        enroll_text = f"{enrollment['count']:,}" + (f" ({label(enrollment['type']).lower()})" if enrollment.get("type") else "")
    masking = info.get("maskingInfo") or {}
    mask_text = label(masking.get("masking")) if masking.get("masking") else None
    if mask_text and masking.get("whoMasked"):
        mask_text += " (" + ", ".join(label(w) for w in masking["whoMasked"]) + ")"
    phases = ", ".join(label(x) for x in design.get("phases") or []) or None
    design_rows = [
        ("Study type", label(design.get("studyType")) if design.get("studyType") else None),
        ("Phase", phases),
        ("Allocation", label(info.get("allocation")) if info.get("allocation") else None),
        ("Intervention model", label(info.get("interventionModel")) if info.get("interventionModel") else None),
        ("Observational model", label(info.get("observationalModel")) if info.get("observationalModel") else None),
        ("Time perspective", label(info.get("timePerspective")) if info.get("timePerspective") else None),
        ("Masking", mask_text),
        ("Primary purpose", label(info.get("primaryPurpose")) if info.get("primaryPurpose") else None),
        ("Enrollment", enroll_text),
    ]
    design_rows = [(k, v) for k, v in design_rows if v]
    trust = effective_status(record)
    facts = [
        ("NCT number", ident.get("nctId")),
        ("Phase", phases),
        ("Start date", dated(status.get("startDateStruct"))),
        ("Primary completion", dated(status.get("primaryCompletionDateStruct"))),
        ("Completion date", dated(status.get("completionDateStruct"))),
        ("Enrollment", enroll_text),
        ("Study type", label(design.get("studyType")) if design.get("studyType") else None),
        ("Sponsor", g(spons, "leadSponsor", "name")),
        ("Collaborators", ", ".join(c.get("name", "") for c in spons.get("collaborators") or []) or None),
    ]
    facts = [(k, v) for k, v in facts if v]
    arms = p.get("armsInterventionsModule") or {}
    outcomes = p.get("outcomesModule") or {}
    meshes = g(record, "derivedSection", "conditionBrowseModule", "meshes", default=[]) or []
    locations = contacts.get("locations") or []
    raw_is_xml = stored.raw_format == "xml"
    # small records carry their preview inline; big ones load it on demand (/study/X/preview)
    raw = stored.raw
    lazy = len(raw) > INLINE_PREVIEW_BYTES
    raw_text, raw_cut = (None, False) if lazy else preview_text(stored, record, "raw", raw)
    v2_text, v2_cut = (None, False) if lazy or not raw_is_xml else preview_text(stored, record, "v2")
    return {
        "record": record,
        "nct": ident.get("nctId") or stored.nct_id,
        "title": title,
        "untitled": not (ident.get("briefTitle") or ident.get("officialTitle")),
        "brief_title": ident.get("briefTitle"),
        "official_title": ident.get("officialTitle") if ident.get("officialTitle") != title else None,
        "acronym": ident.get("acronym"),
        "first_posted": g(status, "studyFirstPostDateStruct", "date"),
        "last_update": g(status, "lastUpdatePostDateStruct", "date") or stored.last_update or None,
        "status": trust.status,
        "reported_status": trust.reported,
        "verified": trust.verified,
        "stale": trust.is_stale,
        "contacts": [contact(c) for c in contacts.get("centralContacts") or [] if isinstance(c, dict)],
        "why_stopped": status.get("whyStopped"),
        "phases": design.get("phases") or [],
        "summary": g(p, "descriptionModule", "briefSummary"),
        "description": g(p, "descriptionModule", "detailedDescription"),
        "design_rows": design_rows,
        "facts": facts,
        "arm_groups": arms.get("armGroups") or [],
        "interventions": arms.get("interventions") or [],
        "primary_outcomes": outcomes.get("primaryOutcomes") or [],
        "secondary_outcomes": outcomes.get("secondaryOutcomes") or [],
        "other_outcomes": outcomes.get("otherOutcomes") or [],
        "criteria": split_criteria(elig.get("eligibilityCriteria")),
        "elig_rows": [(k, v) for k, v in [
            ("Sex", label(elig.get("sex")) if elig.get("sex") else None),
            ("Minimum age", elig.get("minimumAge")),
            ("Maximum age", elig.get("maximumAge")),
            ("Age groups", ", ".join(label(a) for a in elig.get("stdAges") or []) or None),
            ("Accepts healthy volunteers", label(elig.get("healthyVolunteers")) if elig.get("healthyVolunteers") is not None else None),
            ("Study population", elig.get("studyPopulation")),
        ] if v],
        "conditions": g(p, "conditionsModule", "conditions", default=[]) or [],
        "keywords": g(p, "conditionsModule", "keywords", default=[]) or [],
        "meshes": [m.get("term") for m in meshes if m.get("term")],
        "officials": contacts.get("overallOfficials") or [],
        "locations": [site(loc) for loc in locations if isinstance(loc, dict)],
        "references": g(p, "referencesModule", "references", default=[]) or [],
        "has_results": bool(record.get("resultsSection")),
        "raw_format": stored.raw_format,
        "raw_text": raw_text,
        "raw_cut": raw_cut,
        "v2_text": v2_text,
        "v2_cut": v2_cut,
        "lazy_preview": lazy,
        "raw_size": len(raw),
        "source": stored.source,
        "ingested_at": stored.ingested_at,
        "withdrawn_at": stored.withdrawn_at,
    }
