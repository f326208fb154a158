"""Exporting search results: CSV (ClinicalTrials.gov download columns) and RIS."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .view import g

CSV_COLUMNS = [
    "NCT Number", "Study Title", "Study URL", "Acronym", "Study Status", "Brief Summary",
    "Study Results", "Conditions", "Interventions", "Primary Outcome Measures", "Sponsor",
    "Collaborators", "Sex", "Age", "Phases", "Enrollment", "Funder Type", "Study Type",
    "Start Date", "Primary Completion Date", "Completion Date", "First Posted",
    "Results First Posted", "Last Update Posted", "Locations",
]


def csv_row(r: dict) -> list[str]:
    p = r.get("protocolSection") or {}
    nct = g(p, "identificationModule", "nctId", default="")
    elig = p.get("eligibilityModule") or {}
    st = p.get("statusModule") or {}
    ages = ", ".join(elig.get("stdAges") or [])
    locs = g(p, "contactsLocationsModule", "locations", default=[]) or []
    return [
        nct,
        g(p, "identificationModule", "briefTitle", default="") or g(p, "identificationModule", "officialTitle", default=""),
        f"https://clinicaltrials.gov/study/{nct}",
        g(p, "identificationModule", "acronym", default=""),
        st.get("overallStatus") or "",
        g(p, "descriptionModule", "briefSummary", default=""),
        "YES" if r.get("hasResults") or r.get("resultsSection") else "NO",
        "|".join(g(p, "conditionsModule", "conditions", default=[]) or []),
        "|".join(f"{i.get('type', '')}: {i.get('name', '')}" for i in g(p, "armsInterventionsModule", "interventions", default=[]) or []),
        "|".join(o.get("measure", "") for o in g(p, "outcomesModule", "primaryOutcomes", default=[]) or []),
        g(p, "sponsorCollaboratorsModule", "leadSponsor", "name", default=""),
        "|".join(c.get("name", "") for c in g(p, "sponsorCollaboratorsModule", "collaborators", default=[]) or []),
        elig.get("sex") or "",
        ages,
        "|".join(g(p, "designModule", "phases", default=[]) or []),
        str(g(p, "designModule", "enrollmentInfo", "count", default="")),
        g(p, "sponsorCollaboratorsModule", "leadSponsor", "class", default=""),
        g(p, "designModule", "studyType", default=""),
        g(st, "startDateStruct", "date", default=""),
        g(st, "primaryCompletionDateStruct", "date", default=""),
        g(st, "completionDateStruct", "date", default=""),
        g(st, "studyFirstPostDateStruct", "date", default=""),
        g(st, "resultsFirstPostDateStruct", "date", default=""),
        g(st, "lastUpdatePostDateStruct", "date", default=""),
        "|".join(", ".join(x for x in (loc.get("facility"), loc.get("city"), loc.get("state"), loc.get("country")) if x) for loc in locs),
    ]


def to_csv(records: Iterable[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in records:
        w.writerow(csv_row(r))
    return buf.getvalue()


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
        for kw in (g(p, "conditionsModule", "conditions", default=[]) or []) + (g(p, "conditionsModule", "keywords", default=[]) or []):
            out.append(f"KW  - {_ris_clean(kw)}")
        out.append("DB  - ClinicalTrials.gov")
        out.append(f"AN  - {nct}")
        out.append(f"UR  - https://clinicaltrials.gov/study/{nct}")
        out.append("ER  - ")
        out.append("")
    return "\r\n".join(out)
