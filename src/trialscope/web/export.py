"""Exporting studies: CSV (the registry's download columns) and RIS.

Every CSV trialscope writes goes through `write_csv`, which neutralises spreadsheet formulas:
record text is untrusted, and a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)`,
`+cmd|...`). Such a cell is prefixed with a single quote, as OWASP advises, so it reads as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from .params import ParamError
from .view import g

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_csv(header: list[str] | None, rows: Iterable[list[object]]) -> str:
    """The one CSV writer: RFC 4180 quoting, CRLF lines, formula prefixes neutralised.
    `header` None writes the rows alone (a later page of a paged download)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if header is not None:
        w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow([safe_cell(c) for c in row])
    return buf.getvalue()


def _join(items: Iterable[object], sep: str = "|") -> str:
    return sep.join(str(x) for x in items if x not in (None, ""))


def _outcomes(key: str) -> Callable[[dict], str]:
    def get(r: dict) -> str:
        rows = g(r, "protocolSection", "outcomesModule", key, default=[]) or []
        return _join(_join((o.get("measure"), o.get("description"), o.get("timeFrame")), ", ")
                     for o in rows if isinstance(o, dict))
    return get


def _design(r: dict) -> str:
    info = g(r, "protocolSection", "designModule", "designInfo", default={}) or {}
    masking = info.get("maskingInfo") or {}
    mask = masking.get("masking")
    if mask and masking.get("whoMasked"):
        mask = f"{mask} ({', '.join(masking['whoMasked'])})"
    parts = [("Allocation", info.get("allocation")), ("Intervention Model", info.get("interventionModel")),
             ("Masking", mask), ("Primary Purpose", info.get("primaryPurpose")),
             ("Observational Model", info.get("observationalModel")),
             ("Time Perspective", info.get("timePerspective"))]
    return _join(f"{k}: {v}" for k, v in parts if v)


def _other_ids(r: dict) -> str:
    ident = g(r, "protocolSection", "identificationModule", default={}) or {}
    ids = [g(ident, "orgStudyIdInfo", "id")]
    ids += [s.get("id") for s in ident.get("secondaryIdInfos") or [] if isinstance(s, dict)]
    return _join(ids)


def _documents(r: dict) -> str:
    nct = g(r, "protocolSection", "identificationModule", "nctId", default="")
    docs = g(r, "documentSection", "largeDocumentModule", "largeDocs", default=[]) or []
    return _join(_join((d.get("label") or d.get("typeAbbrev"),
                        f"https://cdn.clinicaltrials.gov/large-docs/{nct[-2:]}/{nct}/{d['filename']}"
                        if d.get("filename") else None), ", ")
                 for d in docs if isinstance(d, dict))


def _locations(r: dict) -> str:
    locs = g(r, "protocolSection", "contactsLocationsModule", "locations", default=[]) or []
    return _join(_join((loc.get(k) for k in ("facility", "city", "state", "zip", "country")), ", ")
                 for loc in locs if isinstance(loc, dict))


def _p(*path: str) -> Callable[[dict], str]:
    def get(r: dict) -> str:
        value = g(r, "protocolSection", *path, default="")
        return "" if value is None else str(value)
    return get


def _plist(*path: str) -> Callable[[dict], str]:
    return lambda r: _join(g(r, "protocolSection", *path, default=[]) or [])


def _nct(r: dict) -> str:
    return g(r, "protocolSection", "identificationModule", "nctId", default="")


# The registry's CSV download columns, in its order (the API's default `fields` for csv).
COLUMNS: dict[str, Callable[[dict], str]] = {
    "NCT Number": _nct,
    "Study Title": lambda r: _p("identificationModule", "briefTitle")(r) or _p("identificationModule", "officialTitle")(r),
    "Study URL": lambda r: f"https://clinicaltrials.gov/study/{_nct(r)}",
    "Acronym": _p("identificationModule", "acronym"),
    "Study Status": _p("statusModule", "overallStatus"),
    "Brief Summary": _p("descriptionModule", "briefSummary"),
    "Study Results": lambda r: "YES" if r.get("hasResults") or r.get("resultsSection") else "NO",
    "Conditions": _plist("conditionsModule", "conditions"),
    "Interventions": lambda r: _join(
        f"{i.get('type', '')}: {i.get('name', '')}"
        for i in g(r, "protocolSection", "armsInterventionsModule", "interventions", default=[]) or []
        if isinstance(i, dict)),
    "Primary Outcome Measures": _outcomes("primaryOutcomes"),
    "Secondary Outcome Measures": _outcomes("secondaryOutcomes"),
    "Other Outcome Measures": _outcomes("otherOutcomes"),
    "Sponsor": _p("sponsorCollaboratorsModule", "leadSponsor", "name"),
    "Collaborators": lambda r: _join(
        c.get("name") for c in g(r, "protocolSection", "sponsorCollaboratorsModule", "collaborators", default=[]) or []
        if isinstance(c, dict)),
    "Sex": _p("eligibilityModule", "sex"),
    "Age": lambda r: _join(g(r, "protocolSection", "eligibilityModule", "stdAges", default=[]) or [], ", "),
    "Phases": _plist("designModule", "phases"),
    "Enrollment": _p("designModule", "enrollmentInfo", "count"),
    "Funder Type": _p("sponsorCollaboratorsModule", "leadSponsor", "class"),
    "Study Type": _p("designModule", "studyType"),
    "Study Design": _design,
    "Other IDs": _other_ids,
    "Start Date": _p("statusModule", "startDateStruct", "date"),
    "Primary Completion Date": _p("statusModule", "primaryCompletionDateStruct", "date"),
    "Completion Date": _p("statusModule", "completionDateStruct", "date"),
    "First Posted": _p("statusModule", "studyFirstPostDateStruct", "date"),
    "Results First Posted": _p("statusModule", "resultsFirstPostDateStruct", "date"),
    "Last Update Posted": _p("statusModule", "lastUpdatePostDateStruct", "date"),
    "Locations": _locations,
    "Study Documents": _documents,
}
CSV_COLUMNS = list(COLUMNS)
# a piece name asks for the column that shows it
_PIECE_COLUMN = {
    "NCTId": "NCT Number", "BriefTitle": "Study Title", "Acronym": "Acronym", "OverallStatus": "Study Status",
    "BriefSummary": "Brief Summary", "HasResults": "Study Results", "Condition": "Conditions",
    "InterventionName": "Interventions", "PrimaryOutcomeMeasure": "Primary Outcome Measures",
    "SecondaryOutcomeMeasure": "Secondary Outcome Measures", "OtherOutcomeMeasure": "Other Outcome Measures",
    "LeadSponsorName": "Sponsor", "CollaboratorName": "Collaborators", "Sex": "Sex", "StdAge": "Age",
    "Phase": "Phases", "EnrollmentCount": "Enrollment", "LeadSponsorClass": "Funder Type",
    "StudyType": "Study Type", "DesignAllocation": "Study Design", "OrgStudyId": "Other IDs",
    "StartDate": "Start Date", "PrimaryCompletionDate": "Primary Completion Date",
    "CompletionDate": "Completion Date", "StudyFirstPostDate": "First Posted",
    "ResultsFirstPostDate": "Results First Posted", "LastUpdatePostDate": "Last Update Posted",
    "LocationFacility": "Locations", "LargeDocLabel": "Study Documents",
}
_BY_LOWER = {c.lower(): c for c in COLUMNS} | {k.lower(): v for k, v in _PIECE_COLUMN.items()}


def csv_columns(fields: str) -> list[str]:
    """The CSV `fields` parameter: column names (`NCT Number|Study Title`) or the piece names
    they show (`NCTId`), in the order given; empty -> every column. Unknown names are a
    ParamError listing the columns."""
    names = [v.strip() for v in fields.replace("|", ",").split(",") if v.strip()]
    out = []
    for name in names:
        col = _BY_LOWER.get(name.lower())
        if col is None:
            raise ParamError("fields", f"unknown CSV column {name!r}", CSV_COLUMNS)
        if col not in out:
            out.append(col)
    return out or CSV_COLUMNS


def csv_row(r: dict, columns: list[str] = CSV_COLUMNS) -> list[str]:
    return [COLUMNS[c](r) for c in columns]


def to_csv(records: Iterable[dict], columns: list[str] = CSV_COLUMNS, header: bool = True) -> str:
    return write_csv(columns if header else None, (csv_row(r, columns) for r in records))


def _ris_clean(text: str) -> str:
    return " ".join(str(text).split())


def to_ris(records: Iterable[dict]) -> str:
    out: list[str] = []
    for r in records:
        p = r.get("protocolSection") or {}
        nct = g(p, "identificationModule", "nctId", default="")
        title = g(p, "identificationModule", "briefTitle") or g(p, "identificationModule", "officialTitle") or nct
        out.append("TY  - DBASE")
        out.append(f"TI  - {_ris_clean(title)}")
        if g(p, "identificationModule", "officialTitle"):
            out.append(f"T2  - {_ris_clean(g(p, 'identificationModule', 'officialTitle'))}")
        sponsor = g(p, "sponsorCollaboratorsModule", "leadSponsor", "name")
        if sponsor:
            out.append(f"AU  - {_ris_clean(sponsor)}")
        posted = g(p, "statusModule", "studyFirstPostDateStruct", "date")
        if posted:
            out.append(f"PY  - {posted[:4]}")
            out.append(f"DA  - {posted.replace('-', '/')}")
        summary = g(p, "descriptionModule", "briefSummary")
        if summary:
            out.append(f"AB  - {_ris_clean(summary)}")
        words = (g(p, "conditionsModule", "conditions", default=[]) or []) + (g(p, "conditionsModule", "keywords", default=[]) or [])
        seen: set[str] = set()
        for kw in words:  # a keyword often repeats a condition: each once, as first written
            text = _ris_clean(kw)
            if text and text.casefold() not in seen:
                seen.add(text.casefold())
                out.append(f"KW  - {text}")
        out.append("DB  - ClinicalTrials.gov")
        out.append(f"AN  - {nct}")
        out.append(f"UR  - https://clinicaltrials.gov/study/{nct}")
        out.append("ER  - ")
        out.append("")
    return "\r\n".join(out)
