"""The whole results section of one record: what ``view`` returns to ``_results.html``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...collector import paused
from .adverse import AdverseEvents, AEView
from .baseline import Baseline, baseline_of
from .flow import Flow, flow_of
from .links import href, query_params
from .outcomes import OUTCOME_CAP, OUTCOME_TYPES, Outcome, OutcomeLink, OutcomesView, outcome_of
from .values import as_dict, as_list, as_text, humanize


@dataclass(slots=True)
class MoreInfo:
    limitations: str = ""
    contact: str = ""
    agreement: str = ""


class Results:
    """A study's posted results, ready for ``_results.html``. Outcome measures are built
    when first asked for (a study may post well over a hundred)."""

    __slots__ = ("flow", "baseline", "adverse", "more", "nct_id", "_query", "_raw", "_built")

    def __init__(self, flow: Flow | None, baseline: Baseline | None, outcomes: list[dict],
                 adverse: AdverseEvents | None, more: MoreInfo, nct_id: str,
                 query: Mapping[str, Any] | None = None):
        self.flow = flow
        self.baseline = baseline
        self._raw = outcomes
        self._built: dict[int, Outcome] = {}
        self.adverse = adverse
        self.more = more
        self.nct_id = nct_id
        self._query = query

    def __bool__(self) -> bool:
        return bool(self.flow or self.baseline or self._raw or self.adverse)

    def outcome(self, i: int) -> Outcome:
        o = self._built.get(i)
        if o is None:
            o = self._built[i] = outcome_of(i, self._raw[i])
        return o

    @property
    def outcome_count(self) -> int:
        return len(self._raw)

    @property
    def outcomes(self) -> list[Outcome]:
        """Every outcome measure, in the record's order."""
        return [self.outcome(i) for i in range(len(self._raw))]

    @property
    def primary(self) -> list[Outcome]:
        return [self.outcome(i) for i, om in enumerate(self._raw)
                if as_text(om.get("type")).upper() == "PRIMARY"]

    def outcomes_view(self, query: Mapping[str, Any] | None = None) -> OutcomesView:
        with paused():
            return self._outcomes_view(query)

    def _outcomes_view(self, query: Mapping[str, Any] | None) -> OutcomesView:
        q = query_params(query if query is not None else self._query)
        show_all = q.get("outcomes", "") == "all"
        n = len(self._raw)
        if show_all or n <= OUTCOME_CAP:
            keep = range(n)
        else:  # primary ones first, then the others in order; shown in the record's order
            ranked = sorted(range(n), key=lambda i: as_text(self._raw[i].get("type")).upper()
                            != "PRIMARY")
            keep = set(ranked[:OUTCOME_CAP])
        shown, hidden = [], []
        for i, om in enumerate(self._raw):
            if i in keep:
                shown.append(self.outcome(i))
            else:
                t = as_text(om.get("type")).upper()
                hidden.append(OutcomeLink(
                    f"outcome-{i + 1}", OUTCOME_TYPES.get(t, humanize(t)),
                    as_text(om.get("title")) or f"Outcome {i + 1}",
                    href(q, outcomes="all", anchor=f"outcome-{i + 1}")))
        return OutcomesView(shown, hidden, len(self._raw), show_all,
                            href(q, outcomes="all", anchor="results-outcomes"),
                            href(q, outcomes=None, anchor="results-outcomes"),
                            n > OUTCOME_CAP)

    def adverse_events(self, query: Mapping[str, Any] | None = None) -> AEView | None:
        """The AE tables sorted and capped per the page's query (ae_sort, ae_all)."""
        if not self.adverse:
            return None
        with paused():
            return self.adverse.view(query if query is not None else self._query)


def view(record: Mapping[str, Any] | None,
         query: Mapping[str, Any] | None = None) -> Results | None:
    """The results view of a v2 study record, or None when it has no posted results."""
    with paused():
        return _view(record, query)


def _view(record: Mapping[str, Any] | None, query: Mapping[str, Any] | None) -> Results | None:
    if not isinstance(record, Mapping):
        return None
    rs = record.get("resultsSection")
    if not isinstance(rs, dict) or not rs:
        return None
    flow = (flow_of(as_dict(rs.get("participantFlowModule")))
            if rs.get("participantFlowModule") else None)
    base = (baseline_of(as_dict(rs.get("baselineCharacteristicsModule")))
            if rs.get("baselineCharacteristicsModule") else None)
    measures = as_dict(rs.get("outcomeMeasuresModule")).get("outcomeMeasures")
    outcomes = [om for om in as_list(measures) if isinstance(om, dict)]
    ae = None
    if isinstance(rs.get("adverseEventsModule"), dict):
        ae = AdverseEvents(rs["adverseEventsModule"]) or None
    mi = as_dict(rs.get("moreInfoModule"))
    lim = as_dict(mi.get("limitationsAndCaveats"))
    poc = as_dict(mi.get("pointOfContact"))
    contact = ", ".join(x for x in (as_text(poc.get("title")), as_text(poc.get("organization")))
                        if x)
    more = MoreInfo(as_text(lim.get("description")), contact)
    ident = as_dict(as_dict(record.get("protocolSection")).get("identificationModule"))
    nct = as_text(ident.get("nctId"))
    res = Results(flow, base, outcomes, ae, more, nct, query)
    return res if res else None
