"""Legacy `clinical_study` XML (public.xsd) -> ClinicalTrials.gov API v2 study dict.

The mapping follows how ClinicalTrials.gov itself carried legacy fields into API v2:
display strings become v2 enums (`Phase 1/Phase 2` -> `["PHASE1", "PHASE2"]`, `U.S. Fed`
-> `FED`), dates become ISO (`January 1, 2019` -> `2019-01-01`) with `Actual` -> `ACTUAL`
and `Anticipated`/`Estimate` -> `ESTIMATED`, and wrapped, indented text blocks are
re-flowed the way v2 stores them. Anything without a v2 home (or a value that does not fit
its v2 field, such as an unparseable date) is kept under ``legacySection``, keyed by its
XML path (`primary_outcome[2]/safety_issue`), so nothing the XML holds is dropped.
`clinical_results` is converted elsewhere (`xml_results`) and skipped here.

One module per part of the mapping: ``study`` (the whole study and the order of its
modules), one per v2 protocol module or group of them (``identification``, ``status``,
``sponsors``, ``description``, ``design``, ``arms``, ``outcomes``, ``eligibility``,
``locations``, ``references``, ``documents``) and ``derived``; beneath them ``builder``
(the study being built, reading elements), ``handlers`` (the tag -> converter tables),
``enums`` and ``text``.
"""

from __future__ import annotations

from .study import convert_study

__all__ = ["convert_study"]
