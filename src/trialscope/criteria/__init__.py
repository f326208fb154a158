"""A study's eligibility criteria, read: inclusion and exclusion lists, typed.

    >>> c = parse_criteria(record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"])
    >>> [x.label for x in c.exclusion[5].children]
    ['A', 'B', 'C', 'D']
    >>> c.inclusion[2].facts[0]
    Age(start=0, end=..., min_years=18.0, max_years=80.0)

`split.py` finds the structure (headings, lists, nesting, prose) with offsets into the
original text, `kinds.py` types each criterion's words, `units.py` knows analytes and
units, `concepts.py` spots MeSH concepts. `criteria_of(record)` is the per-study work of
the derived criteria index (`trialscope.index.criteria`): a pure function of the v2 record
dict, so an ingest worker process can run it.
"""

from __future__ import annotations

import msgspec

from .kinds import type_criterion
from .split import Item, split
from .text import clean
from .types import (
    Age,
    AnyFact,
    Condition,
    Consent,
    Criteria,
    Criterion,
    Fact,
    Lab,
    Performance,
    Reproductive,
    Sex,
    Stage,
    Therapy,
)

__all__ = [
    "Age", "AnyFact", "Condition", "Consent", "Criteria", "Criterion", "Fact", "Lab", "Performance",
    "Reproductive", "Sex", "Stage", "Therapy", "parse_criteria", "criteria_of", "encode", "decode",
    "FORMAT",
]

# Bump when parsing or the stored structure changes: the derived index is rebuilt.
FORMAT = 1
MAX_TEXT = 200_000  # characters read from one eligibility text (the registry's limit is far lower)

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Criteria)


def parse_criteria(text: str | None) -> Criteria:
    """Split and type an `eligibilityCriteria` text. Never raises; bounded in time."""
    if not text or not isinstance(text, str):
        return Criteria()
    text = text[:MAX_TEXT]
    sections = split(text)
    return Criteria(inclusion=[_criterion(text, it) for it in sections.inclusion],
                    exclusion=[_criterion(text, it) for it in sections.exclusion])


def _criterion(text: str, item: Item) -> Criterion:
    words = clean(text[item.start:item.end])
    kind, facts = type_criterion(words, item.group)
    return Criterion(text=words, start=item.start, end=item.end, label=item.label, kind=kind,
                     facts=facts, children=[_criterion(text, c) for c in item.children], group=item.group)


def criteria_of(record: dict) -> bytes:
    """The stored form of a v2 record's parsed criteria (msgpack of `Criteria`)."""
    module = ((record or {}).get("protocolSection") or {}).get("eligibilityModule") or {}
    return encode(parse_criteria(module.get("eligibilityCriteria")))


def encode(criteria: Criteria) -> bytes:
    return _ENCODER.encode(criteria)


def decode(data: bytes) -> Criteria:
    return _DECODER.decode(data)
