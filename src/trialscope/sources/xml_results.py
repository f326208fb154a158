"""Legacy ``<clinical_results>`` (public.xsd) converted to the API v2 ``resultsSection``.

The mapping follows the one ClinicalTrials.gov used when it moved legacy results to API v2:

* ``participant_flow`` -> ``participantFlowModule``; ``baseline`` ->
  ``baselineCharacteristicsModule``; ``outcome_list`` -> ``outcomeMeasuresModule``;
  ``reported_events`` -> ``adverseEventsModule``; ``certain_agreements``,
  ``point_of_contact`` and ``limitations_and_caveats`` -> ``moreInfoModule``.
* Group ids are renamed per section in ``group_list`` order: P1, P2.. -> FG000, FG001..;
  B* -> BG*; O* -> OG* (per outcome); E* -> EG*. Ids not in the group list are kept as is.
* Enumerations take their v2 spelling (``Mean`` -> ``MEAN``, ``2-Sided`` -> ``TWO_SIDED``,
  ``Systematic Assessment`` -> ``SYSTEMATIC_ASSESSMENT``...); outcome ``dispersion`` and
  analysis ``param_type``/``method`` stay free text, as v2 keeps them.
* Measurement values, spreads, limits and participant counts stay strings (as in v2);
  adverse event counts become integers (as in v2) when they are plain integers.
* The pre-2017 "Number of Participants" measure (and "Number of <units> analyzed") that
  opens a measure list becomes ``denoms``; an outcome measure's title, description and
  population fold into the outcome's when they repeat it.
* The "Total" adverse event category ("Total, serious adverse events", "Total, other
  adverse events", "Total, all-cause mortality") fills ``eventGroups``' num fields.

Nothing is dropped: every element or attribute without a v2 home (``safety_issue``,
``scope`` in an unexpected place, unknown tags...) goes to ``resultsSection["legacy"]``,
keyed by its XML path below ``clinical_results`` (``outcome_list/outcome[2]/safety_issue``).
:func:`coverage` checks that claim leaf by leaf.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from lxml import etree

_Legacy = dict[str, Any]

_ENUM_FIX = {
    # legacy spellings whose v2 enum is not the mechanical upper-snake-case form
    "2-Sided": "TWO_SIDED",
    "1-Sided": "ONE_SIDED",
    "Standard Error of the Mean": "STANDARD_ERROR_OF_MEAN",
    "95% Confidence Interval": "CONFIDENCE_95",
    "90% Confidence Interval": "CONFIDENCE_90",
    "80% Confidence Interval": "CONFIDENCE_80",
    "Geometric Coefficient of Variation": "GEOMETRIC_COEFFICIENT",
}
_PI_EMPLOYEE = {
    "All Principal Investigators ARE employed by the organization sponsoring the study.": True,
    "Principal Investigators are NOT employed by the organization sponsoring the study.": False,
}
_NO_AGREEMENT = "There is NOT an agreement"
_YES_NO = {"Yes": True, "No": False}
_PREFIX = {"participant_flow": "FG", "baseline": "BG", "outcome": "OG", "reported_events": "EG"}
_TOTALS = {
    "Total, serious adverse events": "serious",
    "Total, other adverse events": "other",
    "Total, all-cause mortality": "deaths",
}
_DENOM_TITLE = re.compile(r"^Number of .+ analy[sz]ed$", re.IGNORECASE)
_POSTING_DATE = re.compile(r"^(\d{2})/(\d{4})$")


def enum(value: str) -> str:
    """The v2 enum spelling of a legacy display value (``Other Pre-specified`` -> ``OTHER_PRE_SPECIFIED``)."""
    fixed = _ENUM_FIX.get(value)
    if fixed is not None:
        return fixed
    return re.sub(r"[^A-Z0-9]+", "_", value.upper()).strip("_")


def posting_date(value: str) -> str:
    """Legacy ``MM/YYYY`` -> v2 ``YYYY-MM`` (anything else is kept as written)."""
    m = _POSTING_DATE.match(value)
    return f"{m.group(2)}-{m.group(1)}" if m else value


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    text = el.text.strip()
    return text or None


_COUNT_ATTRS = frozenset({"events", "subjects_affected", "subjects_at_risk"})


def _int(value: str) -> int | str:
    """Adverse event counts are integers in v2 ("03" -> 3); a non-number stays a string."""
    return int(value) if value.isascii() and value.isdigit() else value


def _generic(el: etree._Element) -> Any:
    """An element with no v2 home, as JSON: text, or a dict of attributes (@) and children."""
    children = [c for c in el if isinstance(c.tag, str)]
    text = _text(el)
    if not children and not el.attrib:
        return text
    out: dict[str, Any] = {f"@{k}": v for k, v in el.attrib.items()}
    if text is not None:
        out["#text"] = text
    for child in children:
        out.setdefault(child.tag, []).append(_generic(child))
    return out


def is_denom_measure(measure: etree._Element, position: int, count: int) -> bool:
    """Whether a pre-2017 measure is really the "participants analyzed" row (v2 ``denoms``).

    It must come before the last measure, hold one unnamed category and nothing but
    title, units, param "Number" and plain value-only measurements.
    """
    if position >= count - 1 or _text(measure.find("param")) != "Number":
        return False
    title = _text(measure.find("title")) or ""
    if title != "Number of Participants" and not _DENOM_TITLE.match(title):
        return False
    if {c.tag for c in measure if isinstance(c.tag, str)} != {"title", "units", "param", "category_list"}:
        return False
    cats = measure.findall("category_list/category")
    if len(cats) != 1 or [c.tag for c in cats[0] if isinstance(c.tag, str)] != ["measurement_list"]:
        return False
    return all(
        set(m.attrib) == {"group_id", "value"} and _text(m) is None
        for m in cats[0].iterfind("measurement_list/measurement")
    )


_SCOPE_AT = {"baseline": "Overall", "measure": "Measure", "class": "Class"}
_REPEATED = frozenset({
    "group", "period", "milestone", "drop_withdraw_reason", "participants", "analyzed", "count", "measure",
    "class", "category", "measurement", "outcome", "analysis", "group_id", "event", "counts",
})


class _Converter:
    """One conversion: holds the ``legacy`` stash and the group id maps being used."""

    def __init__(self) -> None:
        self.legacy: _Legacy = {}

    # -- helpers ---------------------------------------------------------------------

    def stash(self, key: str, value: Any) -> None:
        if value is not None:
            self.legacy[key] = value

    def rest(self, el: etree._Element, path: str, known: set[str], attrs: frozenset[str] = frozenset(),
             text: bool = False) -> None:
        """Stash what of ``el`` the caller did not map: attributes not in ``attrs``, its own
        text unless ``text``, children not in ``known`` and repeats of single-valued ones."""
        for name, value in el.attrib.items():
            if name not in attrs:
                self.stash(f"{path}/@{name}", value)
        if not text:
            self.stash(f"{path}/text()", _text(el))
        seen: Counter[str] = Counter()
        for child in el:
            if not isinstance(child.tag, str):
                continue
            seen[child.tag] += 1
            if child.tag not in known or (seen[child.tag] > 1 and child.tag not in _REPEATED):
                self.stash(f"{path}/{child.tag}[{seen[child.tag]}]", _generic(child))

    def groups(self, el: etree._Element, path: str, prefix: str) -> tuple[list[dict], dict[str, str]]:
        """``group_list`` -> v2 groups with renamed ids, and the legacy -> v2 id map."""
        out: list[dict] = []
        ids: dict[str, str] = {}
        gl = el.find("group_list")
        if gl is None:
            return out, ids
        self.rest(gl, f"{path}/group_list", {"group"})
        for i, g in enumerate(gl.findall("group")):
            gpath = f"{path}/group_list/group[{i + 1}]"
            legacy_id = g.get("group_id")
            new_id = f"{prefix}{i:03d}"
            if legacy_id is not None:
                ids[legacy_id] = new_id
            group: dict[str, Any] = {"id": new_id}
            _put(group, "title", _text(g.find("title")))
            _put(group, "description", _text(g.find("description")))
            self.rest(g, gpath, {"title", "description"}, frozenset({"group_id"}))
            out.append(group)
        return out, ids

    # -- participant flow ------------------------------------------------------------

    def flow(self, el: etree._Element) -> dict:
        path = "participant_flow"
        out: dict[str, Any] = {}
        _put(out, "recruitmentDetails", _text(el.find("recruitment_details")))
        _put(out, "preAssignmentDetails", _text(el.find("pre_assignment_details")))
        groups, ids = self.groups(el, path, "FG")
        _put(out, "groups", groups)
        periods = []
        plist = el.find("period_list")
        if plist is not None:
            self.rest(plist, f"{path}/period_list", {"period"})
            for i, p in enumerate(plist.findall("period")):
                periods.append(self.period(p, f"{path}/period_list/period[{i + 1}]", ids))
        _put(out, "periods", periods)
        self.rest(el, path, {"recruitment_details", "pre_assignment_details", "group_list", "period_list"})
        return out

    def period(self, p: etree._Element, path: str, ids: dict[str, str]) -> dict:
        out: dict[str, Any] = {}
        _put(out, "title", _text(p.find("title")))
        for list_tag, item_tag, key, type_key, counts_key in (
            ("milestone_list", "milestone", "milestones", "type", "achievements"),
            ("drop_withdraw_reason_list", "drop_withdraw_reason", "dropWithdraws", "type", "reasons"),
        ):
            lst = p.find(list_tag)
            if lst is None:
                continue
            self.rest(lst, f"{path}/{list_tag}", {item_tag})
            items = []
            for j, item in enumerate(lst.findall(item_tag)):
                ipath = f"{path}/{list_tag}/{item_tag}[{j + 1}]"
                entry: dict[str, Any] = {}
                _put(entry, type_key, _text(item.find("title")))
                entry[counts_key] = self.participants(item, ipath, ids)
                self.rest(item, ipath, {"title", "participants_list"})
                items.append(entry)
            _put(out, key, items)
        self.rest(p, path, {"title", "milestone_list", "drop_withdraw_reason_list"})
        return out

    def participants(self, item: etree._Element, path: str, ids: dict[str, str]) -> list[dict]:
        out = []
        plist = item.find("participants_list")
        if plist is None:
            return out
        self.rest(plist, f"{path}/participants_list", {"participants"})
        for k, part in enumerate(plist.findall("participants")):
            entry: dict[str, Any] = {}
            gid = part.get("group_id")
            _put(entry, "groupId", ids.get(gid, gid) if gid is not None else None)
            _put(entry, "numSubjects", part.get("count"))
            _put(entry, "comment", _text(part))
            self.rest(part, f"{path}/participants_list/participants[{k + 1}]", set(), frozenset({"group_id", "count"}), text=True)
            out.append(entry)
        return out

    # -- measures (baseline and outcomes) --------------------------------------------

    def denoms(self, analyzed_list: etree._Element, path: str, ids: dict[str, str], scope: str) -> list[dict]:
        """``analyzed_list`` (2017+) -> v2 ``denoms``; a scope other than the expected one is stashed."""
        out = []
        self.rest(analyzed_list, path, {"analyzed"})
        for i, an in enumerate(analyzed_list.findall("analyzed")):
            apath = f"{path}/analyzed[{i + 1}]"
            denom: dict[str, Any] = {}
            _put(denom, "units", _text(an.find("units")))
            denom["counts"] = self.counts(an.find("count_list"), f"{apath}/count_list", ids)
            known = {"units", "count_list"}
            if _text(an.find("scope")) == scope and len(an.findall("scope")) == 1:
                known.add("scope")
            self.rest(an, apath, known)
            out.append(denom)
        return out

    def counts(self, count_list: etree._Element | None, path: str, ids: dict[str, str]) -> list[dict]:
        out: list[dict] = []
        if count_list is None:
            return out
        self.rest(count_list, path, {"count"})
        for i, c in enumerate(count_list.findall("count")):
            entry: dict[str, Any] = {}
            gid = c.get("group_id")
            _put(entry, "groupId", ids.get(gid, gid) if gid is not None else None)
            _put(entry, "value", c.get("value"))
            self.rest(c, f"{path}/count[{i + 1}]", set(), frozenset({"group_id", "value"}))
            out.append(entry)
        return out

    def categories(self, cat_list: etree._Element, path: str, ids: dict[str, str]) -> list[dict]:
        out = []
        self.rest(cat_list, path, {"category"})
        for i, cat in enumerate(cat_list.findall("category")):
            cpath = f"{path}/category[{i + 1}]"
            entry: dict[str, Any] = {}
            # pre-2017 files name categories <sub_title>, later ones <title>
            known = {"measurement_list"}
            for tag in ("title", "sub_title"):
                if "title" not in entry and _text(cat.find(tag)) is not None:
                    entry["title"] = _text(cat.find(tag))
                    known.add(tag)
            entry["measurements"] = self.measurements(cat.find("measurement_list"), f"{cpath}/measurement_list", ids)
            self.rest(cat, cpath, known)
            out.append(entry)
        return out

    def measurements(self, mlist: etree._Element | None, path: str, ids: dict[str, str]) -> list[dict]:
        out: list[dict] = []
        if mlist is None:
            return out
        self.rest(mlist, path, {"measurement"})
        attrs = frozenset({"group_id", "value", "spread", "lower_limit", "upper_limit"})
        for i, m in enumerate(mlist.findall("measurement")):
            entry: dict[str, Any] = {}
            gid = m.get("group_id")
            _put(entry, "groupId", ids.get(gid, gid) if gid is not None else None)
            _put(entry, "value", m.get("value"))
            _put(entry, "spread", m.get("spread"))
            _put(entry, "lowerLimit", m.get("lower_limit"))
            _put(entry, "upperLimit", m.get("upper_limit"))
            _put(entry, "comment", _text(m))
            self.rest(m, f"{path}/measurement[{i + 1}]", set(), attrs, text=True)
            out.append(entry)
        return out

    def measure_body(self, m: etree._Element, path: str, ids: dict[str, str], out: dict, baseline: bool) -> set[str]:
        """Fill units, param, dispersion, denoms and classes of one measure; return the tags used."""
        known = {"units", "param", "dispersion", "class_list", "category_list", "analyzed_list", "units_analyzed"}
        _put(out, "paramType", _opt(enum, _text(m.find("param"))))
        _put(out, "denomUnitsSelected", _text(m.find("units_analyzed")))
        dispersion = _text(m.find("dispersion"))
        # v2 spells baseline dispersion as an enum but keeps outcome dispersion as text
        _put(out, "dispersionType", _opt(enum, dispersion) if baseline else dispersion)
        _put(out, "unitOfMeasure", _text(m.find("units")))
        al = m.find("analyzed_list")
        if al is not None:
            _put(out, "denoms", self.denoms(al, f"{path}/analyzed_list", ids, "Measure"))
        classes = []
        cl = m.find("class_list")
        if cl is not None:
            self.rest(cl, f"{path}/class_list", {"class"})
            for i, c in enumerate(cl.findall("class")):
                cpath = f"{path}/class_list/class[{i + 1}]"
                entry: dict[str, Any] = {}
                _put(entry, "title", _text(c.find("title")))
                cal = c.find("analyzed_list")
                if cal is not None:
                    _put(entry, "denoms", self.denoms(cal, f"{cpath}/analyzed_list", ids, "Class"))
                cats = c.find("category_list")
                entry["categories"] = self.categories(cats, f"{cpath}/category_list", ids) if cats is not None else []
                self.rest(c, cpath, {"title", "analyzed_list", "category_list"})
                classes.append(entry)
        cats = m.find("category_list")
        if cats is not None:
            classes.append({"categories": self.categories(cats, f"{path}/category_list", ids)})
        _put(out, "classes", classes)
        return known

    def legacy_denom(self, m: etree._Element, path: str, ids: dict[str, str]) -> dict:
        """A pre-2017 "Number of Participants" measure -> one v2 denom."""
        mlist = m.find("category_list/category/measurement_list")
        counts = []
        for cat_list in m.findall("category_list"):
            self.rest(cat_list, f"{path}/category_list", {"category"})
        for cat in m.findall("category_list/category"):
            self.rest(cat, f"{path}/category_list/category[1]", {"measurement_list"})
        if mlist is not None:
            self.rest(mlist, f"{path}/category_list/category[1]/measurement_list", {"measurement"})
            for meas in mlist.findall("measurement"):
                gid = meas.get("group_id")
                counts.append({"groupId": ids.get(gid, gid), "value": meas.get("value")})
        title = _text(m.find("title"))
        if title != "Number of Participants":
            self.stash(f"{path}/title[1]", title)
        denom: dict[str, Any] = {}
        _put(denom, "units", _text(m.find("units")))
        denom["counts"] = counts
        return denom

    # -- baseline --------------------------------------------------------------------

    def baseline(self, el: etree._Element) -> dict:
        path = "baseline"
        out: dict[str, Any] = {}
        _put(out, "populationDescription", _text(el.find("population")))
        groups, ids = self.groups(el, path, "BG")
        _put(out, "groups", groups)
        denoms: list[dict] = []
        al = el.find("analyzed_list")
        if al is not None:
            denoms.extend(self.denoms(al, f"{path}/analyzed_list", ids, "Overall"))
        measures = []
        ml = el.find("measure_list")
        if ml is not None:
            self.rest(ml, f"{path}/measure_list", {"measure"})
            items = ml.findall("measure")
            for i, m in enumerate(items):
                mpath = f"{path}/measure_list/measure[{i + 1}]"
                if i == 0 and is_denom_measure(m, i, len(items)):
                    denoms.append(self.legacy_denom(m, mpath, ids))
                    continue
                entry: dict[str, Any] = {}
                _put(entry, "title", _text(m.find("title")))
                _put(entry, "description", _text(m.find("description")))
                _put(entry, "populationDescription", _text(m.find("population")))
                known = self.measure_body(m, mpath, ids, entry, baseline=True)
                self.rest(m, mpath, known | {"title", "description", "population"})
                measures.append(entry)
        _put(out, "denoms", denoms)
        _put(out, "measures", measures)
        self.rest(el, path, {"population", "group_list", "analyzed_list", "measure_list"})
        return out

    # -- outcomes --------------------------------------------------------------------

    def outcomes(self, el: etree._Element) -> dict:
        self.rest(el, "outcome_list", {"outcome"})
        return {
            "outcomeMeasures": [
                self.outcome(o, f"outcome_list/outcome[{i + 1}]") for i, o in enumerate(el.findall("outcome"))
            ]
        }

    def outcome(self, o: etree._Element, path: str) -> dict:
        out: dict[str, Any] = {}
        _put(out, "type", _opt(enum, _text(o.find("type"))))
        title = _text(o.find("title"))
        description = _text(o.find("description"))
        population = _text(o.find("population"))
        _put(out, "title", title)
        _put(out, "description", description)
        _put(out, "populationDescription", population)
        known = {"type", "title", "description", "population", "time_frame", "posting_date",
                 "group_list", "measure", "measure_list", "analysis_list"}
        measures = o.findall("measure") + o.findall("measure_list/measure")
        out["reportingStatus"] = "POSTED" if measures else "NOT_POSTED"
        _put(out, "anticipatedPostingDate", _opt(posting_date, _text(o.find("posting_date"))))
        _put(out, "timeFrame", _text(o.find("time_frame")))
        groups, ids = self.groups(o, path, "OG")
        _put(out, "groups", groups)
        main: list[tuple[etree._Element, str]] = [(m, f"{path}/measure[{i + 1}]") for i, m in enumerate(o.findall("measure"))]
        denoms: list[dict] = []
        ml = o.find("measure_list")
        if ml is not None:
            self.rest(ml, f"{path}/measure_list", {"measure"})
            items = ml.findall("measure")
            for i, m in enumerate(items):
                mpath = f"{path}/measure_list/measure[{i + 1}]"
                if is_denom_measure(m, i, len(items)):
                    denoms.append(self.legacy_denom(m, mpath, ids))
                else:
                    main.append((m, mpath))
        for k, (m, mpath) in enumerate(main):
            target = out if k == 0 else {}
            mknown = self.measure_body(m, mpath, ids, target, baseline=False)
            # a measure's title/description/population normally repeat the outcome's
            for tag, same in (("title", title), ("description", description), ("population", population)):
                value = _text(m.find(tag))
                if value is not None and (value == same and k == 0):
                    mknown.add(tag)
            self.rest(m, mpath, mknown)
            if k > 0:
                self.stash(mpath, target)
        if denoms:
            out["denoms"] = denoms + out.get("denoms", [])
        other_units = [d["units"] for d in out.get("denoms", []) if (d.get("units") or "participants").lower() != "participants"]
        if other_units:
            out["typeUnitsAnalyzed"] = other_units[0]
        al = o.find("analysis_list")
        if al is not None:
            self.rest(al, f"{path}/analysis_list", {"analysis"})
            analyses = [self.analysis(a, f"{path}/analysis_list/analysis[{i + 1}]", ids)
                        for i, a in enumerate(al.findall("analysis"))]
            _put(out, "analyses", analyses)
        self.rest(o, path, known)
        return out

    def analysis(self, a: etree._Element, path: str, ids: dict[str, str]) -> dict:
        out: dict[str, Any] = {}
        gl = a.find("group_id_list")
        if gl is not None:
            self.rest(gl, f"{path}/group_id_list", {"group_id"})
            gids = [_text(g) for g in gl.findall("group_id")]
            out["groupIds"] = [ids.get(g, g) for g in gids if g is not None]
        for tag, key, fn in _ANALYSIS:
            _put(out, key, _opt(fn, _text(a.find(tag))))
        tested = _text(a.find("non_inferiority"))
        if tested in _YES_NO:
            out["testedNonInferiority"] = _YES_NO[tested]
            if "nonInferiorityType" not in out:
                out["nonInferiorityType"] = (
                    "NON_INFERIORITY_OR_EQUIVALENCE_LEGACY" if _YES_NO[tested] else "SUPERIORITY_OR_OTHER_LEGACY"
                )
        known = {tag for tag, _, _ in _ANALYSIS} | {"group_id_list"}
        if tested in _YES_NO:
            known.add("non_inferiority")
        self.rest(a, path, known)
        return out

    # -- adverse events --------------------------------------------------------------

    def events(self, el: etree._Element) -> dict:
        path = "reported_events"
        out: dict[str, Any] = {}
        other = el.find("other_events")
        _put(out, "frequencyThreshold", _text(other.find("frequency_threshold")) if other is not None else None)
        _put(out, "timeFrame", _text(el.find("time_frame")))
        _put(out, "description", _text(el.find("desc")))
        groups, ids = self.groups(el, path, "EG")
        by_id = {g["id"]: g for g in groups}
        for tag, key in (("serious_events", "seriousEvents"), ("other_events", "otherEvents")):
            sub = el.find(tag)
            if sub is not None:
                _put(out, key, self.event_list(sub, f"{path}/{tag}", ids, by_id, tag == "other_events"))
        _put(out, "eventGroups", groups)
        self.rest(el, path, {"time_frame", "desc", "group_list", "serious_events", "other_events"})
        return out

    def event_list(self, sub: etree._Element, path: str, ids: dict[str, str], by_id: dict[str, dict],
                   is_other: bool) -> list[dict]:
        vocab = _text(sub.find("default_vocab"))
        assessment = _text(sub.find("default_assessment"))
        used_vocab = used_assessment = False
        out = []
        cl = sub.find("category_list")
        if cl is not None:
            self.rest(cl, f"{path}/category_list", {"category"})
            for i, cat in enumerate(cl.findall("category")):
                cpath = f"{path}/category_list/category[{i + 1}]"
                organ = _text(cat.find("title"))
                el_list = cat.find("event_list")
                cknown = {"title", "event_list"}
                if el_list is not None:
                    self.rest(el_list, f"{cpath}/event_list", {"event"})
                    for j, ev in enumerate(el_list.findall("event")):
                        epath = f"{cpath}/event_list/event[{j + 1}]"
                        term = _text(ev.find("sub_title"))
                        if organ == "Total" and term in _TOTALS and self.total(ev, epath, ids, by_id, _TOTALS[term]):
                            continue
                        entry: dict[str, Any] = {}
                        _put(entry, "term", term)
                        _put(entry, "organSystem", organ)
                        st = ev.find("sub_title")
                        own_vocab = st.get("vocab") if st is not None else None
                        if own_vocab is None and vocab is not None:
                            used_vocab = True
                        _put(entry, "sourceVocabulary", own_vocab if own_vocab is not None else vocab)
                        own = _text(ev.find("assessment"))
                        if own is None and assessment is not None:
                            used_assessment = True
                        _put(entry, "assessmentType", _opt(enum, own if own is not None else assessment))
                        _put(entry, "notes", _text(ev.find("description")))
                        entry["stats"] = self.event_stats(ev, epath, ids)
                        if st is not None:
                            self.rest(st, f"{epath}/sub_title[1]", set(), frozenset({"vocab"}), text=True)
                        self.rest(ev, epath, {"sub_title", "assessment", "description", "counts"})
                        out.append(entry)
                self.rest(cat, cpath, cknown)
        known = {"category_list"}
        if used_vocab:
            known.add("default_vocab")
        if used_assessment:
            known.add("default_assessment")
        if is_other:
            known.add("frequency_threshold")
        self.rest(sub, path, known)
        return out

    def event_stats(self, ev: etree._Element, path: str, ids: dict[str, str]) -> list[dict]:
        stats = []
        for k, c in enumerate(ev.findall("counts")):
            entry: dict[str, Any] = {}
            gid = c.get("group_id")
            _put(entry, "groupId", ids.get(gid, gid) if gid is not None else None)
            for attr, key in (("events", "numEvents"), ("subjects_affected", "numAffected"),
                              ("subjects_at_risk", "numAtRisk")):
                value = c.get(attr)
                if value is not None:
                    entry[key] = _int(value)
            self.rest(c, f"{path}/counts[{k + 1}]", set(),
                      frozenset({"group_id", "events", "subjects_affected", "subjects_at_risk"}))
            stats.append(entry)
        return stats

    def total(self, ev: etree._Element, path: str, ids: dict[str, str], by_id: dict[str, dict], kind: str) -> bool:
        """Fold a "Total, ..." row into eventGroups; False (keep it as an event) if it does not fit."""
        counts = ev.findall("counts")
        targets = [by_id.get(ids.get(c.get("group_id") or "", "")) for c in counts]
        if not counts or any(t is None for t in targets) or any(f"{kind}NumAffected" in t for t in targets if t):
            return False
        for k, (c, group) in enumerate(zip(counts, targets, strict=True)):
            assert group is not None
            for attr, suffix in (("subjects_affected", "NumAffected"), ("subjects_at_risk", "NumAtRisk")):
                value = c.get(attr)
                if value is not None:
                    group[f"{kind}{suffix}"] = _int(value)
            self.rest(c, f"{path}/counts[{k + 1}]", set(), frozenset({"group_id", "subjects_affected", "subjects_at_risk"}))
        st = ev.find("sub_title")
        if st is not None:
            self.rest(st, f"{path}/sub_title[1]", set(), text=True)
        self.rest(ev, path, {"sub_title", "counts"})
        return True

    # -- more info -------------------------------------------------------------------

    def more_info(self, root: etree._Element) -> dict:
        out: dict[str, Any] = {}
        ca = root.find("certain_agreements")
        if ca is not None:
            agreement: dict[str, Any] = {}
            known = {"restrictive_agreement"}
            pi = _text(ca.find("pi_employee"))
            if pi in _PI_EMPLOYEE:
                agreement["piSponsorEmployee"] = _PI_EMPLOYEE[pi]
                known.add("pi_employee")
            restrictive = _text(ca.find("restrictive_agreement"))
            if restrictive is not None:
                agreement["restrictiveAgreement"] = not restrictive.startswith(_NO_AGREEMENT)
                agreement["otherDetails"] = restrictive
            self.rest(ca, "certain_agreements", known)
            _put(out, "certainAgreement", agreement)
        poc = root.find("point_of_contact")
        if poc is not None:
            contact: dict[str, Any] = {}
            for tag, key in (("name_or_title", "title"), ("organization", "organization"),
                             ("email", "email"), ("phone", "phone"), ("phone_ext", "phoneExt")):
                _put(contact, key, _text(poc.find(tag)))
            self.rest(poc, "point_of_contact", {"name_or_title", "organization", "email", "phone", "phone_ext"})
            _put(out, "pointOfContact", contact)
        lim = _text(root.find("limitations_and_caveats"))
        if lim is not None:
            out["limitationsAndCaveats"] = {"description": lim}
        return out


_ANALYSIS: tuple[tuple[str, str, Any], ...] = (
    ("groups_desc", "groupDescription", None),
    ("non_inferiority_type", "nonInferiorityType", enum),
    ("non_inferiority_desc", "nonInferiorityComment", None),
    ("p_value", "pValue", None),
    ("p_value_desc", "pValueComment", None),
    ("method", "statisticalMethod", None),
    ("method_desc", "statisticalComment", None),
    ("param_type", "paramType", None),
    ("param_value", "paramValue", None),
    ("dispersion_type", "dispersionType", enum),
    ("dispersion_value", "dispersionValue", None),
    ("ci_percent", "ciPctValue", None),
    ("ci_n_sides", "ciNumSides", enum),
    ("ci_lower_limit", "ciLowerLimit", None),
    ("ci_upper_limit", "ciUpperLimit", None),
    ("ci_upper_limit_na_comment", "ciUpperLimitComment", None),
    ("estimate_desc", "estimateComment", None),
)


def _opt(fn: Any, value: str | None) -> Any:
    return value if value is None or fn is None else fn(value)


def _put(out: dict, key: str, value: Any) -> None:
    """Set only present values: v2 omits empty fields rather than writing nulls."""
    if value is not None and value != [] and value != {}:
        out[key] = value


_SECTIONS = {
    "participant_flow": ("participantFlowModule", _Converter.flow),
    "baseline": ("baselineCharacteristicsModule", _Converter.baseline),
    "outcome_list": ("outcomeMeasuresModule", _Converter.outcomes),
    "reported_events": ("adverseEventsModule", _Converter.events),
}
_MORE_INFO = {"certain_agreements", "point_of_contact", "limitations_and_caveats"}


def convert_results(element: etree._Element) -> dict:
    """Convert one legacy ``<clinical_results>`` element into a v2 ``resultsSection`` dict."""
    conv = _Converter()
    out: dict[str, Any] = {}
    for tag, (key, method) in _SECTIONS.items():
        el = element.find(tag)
        if el is not None:
            _put(out, key, method(conv, el))
    _put(out, "moreInfoModule", conv.more_info(element))
    conv.rest(element, "", set(_SECTIONS) | _MORE_INFO)
    if conv.legacy:
        out["legacy"] = {k.lstrip("/"): v for k, v in conv.legacy.items()}
    return out


# -- losslessness check ----------------------------------------------------------------

_ENUM_LEAVES = frozenset({
    "type", "param", "non_inferiority_type", "dispersion_type", "ci_n_sides", "assessment", "default_assessment",
})


class Coverage:
    """How many XML leaves of ``clinical_results`` a converted resultsSection keeps."""

    def __init__(self) -> None:
        self.leaves = 0
        self.kept = 0
        self.dropped: list[tuple[str, str]] = []

    def add(self, other: Coverage) -> None:
        self.leaves += other.leaves
        self.kept += other.kept
        self.dropped.extend(other.dropped)


def _values(obj: Any, out: Counter[str]) -> None:
    """Every scalar in a JSON tree, as the string it came from (booleans as true/false)."""
    if isinstance(obj, dict):
        for v in obj.values():
            _values(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _values(v, out)
    elif isinstance(obj, bool):
        out["true" if obj else "false"] += 1
    elif obj is not None:
        out[str(obj)] += 1


def _group_maps(element: etree._Element) -> dict[etree._Element, dict[str, str]]:
    """For each element that owns a group_list, the documented legacy -> v2 id renaming."""
    maps = {}
    for gl in element.iter("group_list"):
        owner = gl.getparent()
        prefix = _PREFIX.get(owner.tag)
        if prefix is not None:
            maps[owner] = {g.get("group_id"): f"{prefix}{i:03d}" for i, g in enumerate(gl.findall("group"))}
    return maps


def _implied(el: etree._Element, name: str | None, value: str) -> bool:
    """Leaves the v2 structure itself records (documented in the module docstring)."""
    parent = el.getparent()
    if el.tag in ("title", "param") and name is None and parent is not None and parent.tag == "measure":
        mlist = parent.getparent()
        if mlist is not None and mlist.tag == "measure_list":
            items = mlist.findall("measure")
            pos = items.index(parent)
            first_only = mlist.getparent().tag == "baseline"
            if (pos == 0 or not first_only) and is_denom_measure(parent, pos, len(items)):
                return el.tag == "param" or value == "Number of Participants"
    if el.tag == "scope" and parent is not None and parent.tag == "analyzed":
        holder = parent.getparent().getparent()
        return _SCOPE_AT.get(holder.tag) == value
    if el.tag in ("title", "description", "population") and parent is not None and parent.tag == "measure":
        outcome = parent.getparent()
        if outcome.tag == "measure_list":
            outcome = outcome.getparent()
        return outcome.tag == "outcome" and _text(outcome.find(el.tag)) == value
    if el.tag == "sub_title" and name is None and value in _TOTALS:
        return parent.getparent().getparent().findtext("title", "").strip() == "Total"
    if el.tag == "title" and value == "Total" and parent is not None and parent.tag == "category":
        subs = [_text(s) for s in parent.iterfind("event_list/event/sub_title")]
        return bool(subs) and all(s in _TOTALS for s in subs)
    return False


def _expected(el: etree._Element, name: str | None, value: str) -> str:
    """The value a leaf must have in the output, after the documented normalisations."""
    if name in _COUNT_ATTRS:
        return str(_int(value))
    if name is None:
        if el.tag in _ENUM_LEAVES or (el.tag == "dispersion" and any(a.tag == "baseline" for a in el.iterancestors())):
            return enum(value)
        if el.tag == "pi_employee" and value in _PI_EMPLOYEE:
            return "true" if _PI_EMPLOYEE[value] else "false"
        if el.tag == "non_inferiority" and value in _YES_NO:
            return "true" if _YES_NO[value] else "false"
        if el.tag == "posting_date":
            return posting_date(value)
    return value


def coverage(element: etree._Element, converted: dict) -> Coverage:
    """Check that every leaf (non-empty text, attribute) of ``clinical_results`` is in ``converted``.

    Each leaf must match a distinct output value after the documented normalisations
    (enum spelling, booleans, dates); group id references must name their renamed group;
    leaves the v2 structure records by itself (see :func:`_implied`) count as kept.
    """
    report = Coverage()
    values: Counter[str] = Counter()
    _values(converted, values)
    maps = _group_maps(element)

    def group_map(el: etree._Element) -> dict[str, str]:
        for anc in el.iterancestors():
            if anc in maps:
                return maps[anc]
        return {}

    for el in element.iter():
        if not isinstance(el.tag, str):
            continue
        leaves: list[tuple[str | None, str]] = list(el.attrib.items())
        text = _text(el)
        if text is not None:
            leaves.append((None, text))
        for name, value in leaves:
            report.leaves += 1
            if name == "group_id" or (name is None and el.tag == "group_id"):
                mapping = maps.get(el.getparent().getparent()) if el.tag == "group" else group_map(el)
                ok = values[(mapping or {}).get(value, value)] > 0
            elif _implied(el, name, value):
                ok = True
            else:
                want = _expected(el, name, value)
                ok = values[want] > 0
                if ok:
                    values[want] -= 1
            if ok:
                report.kept += 1
            else:
                path = element.getroottree().getpath(el) + (f"/@{name}" if name else "")
                report.dropped.append((path, value))
    return report
