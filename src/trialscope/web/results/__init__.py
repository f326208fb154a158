"""Posted results, readable at a glance: the view model of a record's ``resultsSection``.

``view(record)`` turns the API v2 results of a study (participant flow, baseline
characteristics, outcome measures with their statistical analyses, adverse events) into
plain objects the ``_results.html`` partial lays out, plus server-side SVG charts:

- an outcome measure becomes horizontal bars with whiskers (SD, SE, confidence interval,
  inter-quartile or full range; the chart says which), or a dot-and-interval plot when it is
  a median time (time to event: median with its interval; an upper limit that is not a
  number is drawn open, "not reached"); several categories become grouped bars;
- the most frequent adverse events become horizontal bars, one per group (% affected);
- participant flow gets one completion bar per group.

Everything is defensive: values that are not numbers ("NA", text) are shown as text and
never charted, missing pieces are skipped, and nothing in a record can raise. All record
text that lands in SVG goes through ``markupsafe.escape``; the template relies on Jinja's
autoescape for the rest. The charts are plain SVG (attributes and classes, no ``style``),
so the page's strict CSP allows them.

One module per part: ``section`` (the whole view), ``flow``, ``baseline``, ``outcomes``,
``adverse`` (the four results modules), ``table`` (groups, cells and rows they share),
``dispersion``, ``values`` (reading and writing record values), ``charts`` (the SVG) and
``links`` (the section's query links).
"""

from __future__ import annotations

from .adverse import AE_CAP
from .charts import bar_chart
from .dispersion import dispersion_of
from .outcomes import OUTCOME_CAP, analysis_sentence, format_p
from .section import Results, view
from .values import num

__all__ = [
    "AE_CAP",
    "OUTCOME_CAP",
    "Results",
    "analysis_sentence",
    "bar_chart",
    "dispersion_of",
    "format_p",
    "num",
    "view",
]
