"""A study's eligibility criteria, read: inclusion and exclusion lists, typed.

    >>> c = parse_criteria(record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"])
    >>> [x.label for x in c.exclusion[5].children]
    ['A', 'B', 'C', 'D']
    >>> c.inclusion[2].facts[0]
    Age(start=0, end=..., min_years=18.0, max_years=80.0)

`split.py` finds the structure (headings, lists, nesting, prose) with offsets into the
original text, `kinds.py` types each criterion's words, `units.py` knows analytes and
units, `concepts.py` spots MeSH concepts.

Two steps, at two times. `split_criteria` finds the structure (about 0.2 ms a study):
that is what ingest stores, through `criteria_of(record)`, the per-study work of the
derived criteria index (`trialscope.index.criteria`), a pure function of the v2 record dict
that an ingest worker process can run. `type_criteria` reads each criterion's kind and
facts (about 1 ms a study, mostly MeSH spotting): it runs when a study is first assessed,
and the index keeps the result. `parse_criteria` does both.
"""

from __future__ import annotations

import re

import msgspec

from ..mesh import vocabulary
from ..normalize import age_days
from .kinds import type_criterion
from .split import Item, sections_of
from .text import clean
from .types import (
    FACT_KIND,
    Age,
    AnyFact,
    Condition,
    Consent,
    Criteria,
    Criterion,
    Eligibility,
    Fact,
    Lab,
    Performance,
    Reproductive,
    Setting,
    Sex,
    Smoking,
    Stage,
    Therapy,
)

__all__ = [
    "Age", "AnyFact", "Condition", "Consent", "Criteria", "Criterion", "Eligibility", "FACT_KIND", "Fact",
    "Lab", "Performance", "Reproductive", "Setting", "Sex", "Smoking", "Stage", "Therapy", "parse_criteria", "criteria_of",
    "eligibility_of", "encode", "decode", "FORMAT", "split_criteria", "type_criteria",
]

# Bump when splitting, typing or the stored structure changes: the derived index is rebuilt
# (typed rows are kept in it, so a typing change needs a bump too).
FORMAT = 22
MAX_TEXT = 200_000  # characters read from one eligibility text (the registry's limit is far lower)

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Criteria)


def parse_criteria(text: str | None) -> Criteria:
    """Split and type an `eligibilityCriteria` text. Never raises; bounded in time."""
    return type_criteria(split_criteria(text))


def split_criteria(text: str | None) -> Criteria:
    """The structure of an `eligibilityCriteria` text: inclusion and exclusion criteria,
    nested, with their words; not yet typed (`kind` "other", no facts)."""
    if not text or not isinstance(text, str):
        return Criteria(typed=True)  # nothing to type
    text = text[:MAX_TEXT]
    sections = sections_of(text)
    return Criteria(inclusion=[_criterion(text, it) for it in sections.inclusion],
                    exclusion=[_criterion(text, it) for it in sections.exclusion])


def _criterion(text: str, item: Item) -> Criterion:
    return Criterion(text=clean(text[item.start:item.end]), start=item.start, end=item.end, label=item.label,
                     children=[_criterion(text, c) for c in item.children], group=item.group)


def type_criteria(criteria: Criteria) -> Criteria:
    """Read every criterion's kind and facts (in place); returns `criteria`."""
    if not criteria.typed:
        for _section, c in criteria.walk():
            c.kind, c.facts = type_criterion(c.text, c.group)
        criteria.typed = True
    return criteria


def criteria_of(record: dict) -> bytes:
    """The stored form of a v2 record's criteria, split but not typed, with its structured
    eligibility (msgpack of `Criteria`). A pure function of the record: an ingest worker
    process can run it."""
    return encode(read_record(record, typed=False))


def read_record(record: dict, typed: bool = True) -> Criteria:
    """A v2 record's criteria, with its structured eligibility; typed unless asked not to."""
    module = _dict(_dict(record).get("protocolSection")).get("eligibilityModule")
    text = _dict(module).get("eligibilityCriteria")
    criteria = split_criteria(text if isinstance(text, str) else None)
    if typed:
        type_criteria(criteria)
    criteria.eligibility = eligibility_of(record)
    return criteria


def eligibility_of(record: dict | None) -> Eligibility:
    """The structured eligibility of a v2 record (unusable values are left out)."""
    protocol = _dict(_dict(record).get("protocolSection"))
    module = _dict(protocol.get("eligibilityModule"))
    out = Eligibility()
    for key, years, written in (("minimumAge", "min_age_years", "min_age"), ("maximumAge", "max_age_years", "max_age")):
        value = module.get(key)
        if isinstance(value, str):
            try:
                days = age_days(value)
            except ValueError:
                days = None
            if days is not None:
                setattr(out, years, round(days / 365.25, 4))
                setattr(out, written, value.strip()[:40])
    sex = module.get("sex")
    out.sex = sex.upper()[:10] if isinstance(sex, str) else ""
    hv = module.get("healthyVolunteers")
    out.healthy_volunteers = hv if isinstance(hv, bool) else None
    meshes = _dict(_dict(_dict(record).get("derivedSection")).get("conditionBrowseModule")).get("meshes")
    names = [m.get("term") for m in meshes or [] if isinstance(m, dict) and isinstance(m.get("term"), str)]
    if not names:
        conditions = _dict(protocol.get("conditionsModule")).get("conditions") or []
        vocab = vocabulary()
        names = [n for c in conditions[:10] if isinstance(c, str) for n in vocab.lookup(c[:200])[:3]]
    out.conditions = list(dict.fromkeys(names))[:20]
    out.drugs = _drugs(record, protocol)
    return out


_DRUG_TYPES = frozenset({"DRUG", "BIOLOGICAL", "COMBINATION_PRODUCT", "GENETIC"})
_NAME_CUT = re.compile(r"\s*[(\[,;+/]|\s+(?:and|plus|with|in\s+combination)\s+|\s+\d")


def _drugs(record: dict, protocol: dict) -> list[str]:
    """The drugs a trial tests, lower case: the names of its drug interventions (cut at
    a bracket, a dose or a second drug) and their MeSH terms. Placebos are not drugs."""
    names: list[str] = []
    for iv in (_dict(protocol.get("armsInterventionsModule")).get("interventions") or [])[:20]:
        if not isinstance(iv, dict) or iv.get("type") not in _DRUG_TYPES:
            continue
        for name in [iv.get("name"), *(iv.get("otherNames") or [])[:5]]:
            if isinstance(name, str) and name.strip():
                names.append(_NAME_CUT.split(name.strip().lower(), maxsplit=1)[0][:60])
    meshes = _dict(_dict(_dict(record).get("derivedSection")).get("interventionBrowseModule")).get("meshes")
    names += [m["term"].lower() for m in meshes or [] if isinstance(m, dict) and isinstance(m.get("term"), str)]
    return [n for n in dict.fromkeys(names) if n and "placebo" not in n][:20]


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def encode(criteria: Criteria) -> bytes:
    return _ENCODER.encode(criteria)


def decode(data: bytes) -> Criteria:
    return _DECODER.decode(data)
