"""Legacy ``<clinical_results>`` (public.xsd) converted to the API v2 ``resultsSection``.

The mapping follows the one ClinicalTrials.gov used when it moved legacy results to API v2:

* ``participant_flow`` -> ``participantFlowModule``; ``baseline`` ->
  ``baselineCharacteristicsModule``; ``outcome_list`` -> ``outcomeMeasuresModule``;
  ``reported_events`` -> ``adverseEventsModule``; ``certain_agreements``,
  ``point_of_contact`` and ``limitations_and_caveats`` -> ``moreInfoModule``.
* Pre-2017 ``<sub_title>`` categories become titled classes (one untitled category each),
  except in the standard baseline measures (Age, Gender, Race/Ethnicity (NIH/OMB)), where
  they stay titled categories of one class; those measures also take v2's names
  ("Sex: Female, Male", "Age, Categorical"/"Age, Continuous") and count participants
  (COUNT_OF_PARTICIPANTS, "Participants"), as in ClinicalTrials.gov's own v2 records.
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
from collections.abc import Iterator
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
_AGREEMENTS: dict[str, str | None] = {
    "There is NOT an agreement between Principal Investigators and the Sponsor (or its agents) that restricts"
    " the PI's rights to discuss or publish trial results after the trial is completed.": None,
    "The only disclosure restriction on the PI is that the sponsor can review results communications prior to"
    " public release and can embargo communications regarding trial results for a period that is less than or"
    " equal to 60 days. The sponsor cannot require changes to the communication and cannot extend the embargo.":
        "LTE60",
    "The only disclosure restriction on the PI is that the sponsor can review results communications prior to"
    " public release and can embargo communications regarding trial results for a period that is more than 60"
    " days but less than or equal to 180 days. The sponsor cannot require changes to the communication and"
    " cannot extend the embargo.": "GT60",
}
_LEGACY_NON_INFERIORITY = {"Yes": "NON_INFERIORITY_OR_EQUIVALENCE_LEGACY", "No": "SUPERIORITY_OR_OTHER_LEGACY"}
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


def denom_units(value: str) -> str:
    """Pre-2017 denominators say "participants"; v2 spells the unit "Participants"."""
    return "Participants" if value == "participants" else value


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
    if sorted(c.tag for c in measure if isinstance(c.tag, str)) != ["category_list", "param", "title", "units"]:
        return False
    cats = measure.findall("category_list/category")
    if len(cats) != 1 or [c.tag for c in cats[0] if isinstance(c.tag, str)] != ["measurement_list"]:
        return False
    return all(
        set(m.attrib) == {"group_id", "value"} and _text(m) is None
        for m in cats[0].iterfind("measurement_list/measurement")
    )


# pre-2017 standard baseline measures: v2 renames some, counts participants in them, and
# keeps their <sub_title>s as categories of one class
_STANDARD_BASELINE = frozenset({"Age", "Gender", "Race (NIH/OMB)", "Ethnicity (NIH/OMB)"})


def standard_baseline(measure: etree._Element) -> dict[str, str]:
    """v2's values for the title, param and units leaves of a pre-2017 standard baseline
    measure ({} for any other measure): "Gender" is "Sex: Female, Male", "Age" is
    "Age, Categorical" or "Age, Continuous", and a count of participants is COUNT_OF_PARTICIPANTS."""
    title = _text(measure.find("title"))
    if title not in _STANDARD_BASELINE or measure.find("category_list") is None:
        return {}
    counts = _text(measure.find("param")) == "Number" and (_text(measure.find("units")) or "").lower() in (
        "participant", "participants")
    out = {"param": "COUNT_OF_PARTICIPANTS", "units": "Participants"} if counts else {}
    if title == "Age":
        out["title"] = "Age, Categorical" if counts else "Age, Continuous"
    elif title == "Gender":
        out["title"] = "Sex: Female, Male"
    else:
        out["title"] = title
    return out
_SCOPE_AT = {"baseline": "Overall", "measure": "Measure", "class": "Class"}
_REPEATED = frozenset({
    "group", "period", "milestone", "drop_withdraw_reason", "participants", "analyzed", "count", "measure",
    "class", "category", "measurement", "outcome", "analysis", "group_id", "event", "counts",
})


_NONE: frozenset[str] = frozenset()
# value rows: v2 key per attribute, v2 key for the element text (None: no home), integer values?
_Row = tuple[dict[str, str], str | None, bool]
_PARTICIPANT_ROW: _Row = ({"count": "numSubjects"}, "comment", False)
_COUNT_ROW: _Row = ({"value": "value"}, None, False)
_MEASUREMENT_ROW: _Row = (
    {"value": "value", "spread": "spread", "lower_limit": "lowerLimit", "upper_limit": "upperLimit"}, "comment", False)
_STAT_ROW: _Row = ({"events": "numEvents", "subjects_affected": "numAffected", "subjects_at_risk": "numAtRisk"}, None, True)
_GROUP = frozenset({"group_id"})


class _Converter:
    """One conversion: holds the ``legacy`` stash for the element being converted."""

    def __init__(self, root: etree._Element) -> None:
        self.tree = root.getroottree()
        self.skip = len(self.tree.getpath(root)) + 1
        self.legacy: _Legacy = {}

    # -- helpers ---------------------------------------------------------------------

    def stash(self, el: etree._Element, value: Any, suffix: str = "") -> None:
        """Keep ``value`` under the XML path of ``el`` (relative to clinical_results)."""
        if value is not None:
            self.legacy[(self.tree.getpath(el)[self.skip:] + suffix).lstrip("/")] = value

    def rest(self, el: etree._Element, known: frozenset[str] = _NONE, attrs: frozenset[str] = _NONE,
             text: bool = False) -> None:
        """Stash what of ``el`` the caller did not map: attributes not in ``attrs``, its own
        text unless ``text``, children not in ``known`` and repeats of single-valued ones."""
        attrib = el.attrib
        if attrib:
            for name, value in attrib.items():
                if name not in attrs:
                    self.stash(el, value, f"/@{name}")
        if not text:
            self.stash(el, _text(el), "/text()")
        if len(el):
            seen: set[str] = set()
            for child in el:
                tag = child.tag
                if not isinstance(tag, str):
                    continue
                if tag not in known or (tag in seen and tag not in _REPEATED):
                    self.stash(child, _generic(child))
                seen.add(tag)

    def each(self, container: etree._Element, tag: str) -> Iterator[etree._Element]:
        """The ``tag`` children of a list element, in one pass; anything else in it is stashed."""
        for name, value in container.items():
            self.stash(container, value, f"/@{name}")
        self.stash(container, _text(container), "/text()")
        for child in container:
            if child.tag == tag:
                yield child
            elif isinstance(child.tag, str):
                self.stash(child, _generic(child))

    def row(self, el: etree._Element, ids: dict[str, str], spec: _Row) -> dict:
        """One value row (measurement, count, participants, event counts) from its attributes
        (and text, where v2 has a comment for it): the hot loop, so one pass over ``items()``."""
        keys, text_key, ints = spec
        entry: dict[str, Any] = {}
        odd = False
        for name, value in el.items():
            key = keys.get(name)
            if key is not None:
                entry[key] = int(value) if ints and value.isdigit() and value.isascii() else value
            elif name == "group_id":
                entry["groupId"] = ids.get(value, value)
            else:
                odd = True
        text = el.text
        if text is not None and (text := text.strip()):
            if text_key is None:
                odd = True
            else:
                entry[text_key] = text
        if odd or len(el):
            self.rest(el, _NONE, frozenset(keys) | _GROUP, text=text_key is not None)
        return entry

    def groups(self, el: etree._Element, prefix: str) -> tuple[list[dict], dict[str, str]]:
        """``group_list`` -> v2 groups with renamed ids, and the legacy -> v2 id map."""
        out: list[dict] = []
        ids: dict[str, str] = {}
        gl = el.find("group_list")
        if gl is None:
            return out, ids
        for i, g in enumerate(self.each(gl, "group")):
            legacy_id = g.get("group_id")
            new_id = f"{prefix}{i:03d}"
            if legacy_id is not None:
                ids[legacy_id] = new_id
            group: dict[str, Any] = {"id": new_id}
            _put(group, "title", _text(g.find("title")))
            _put(group, "description", _text(g.find("description")))
            self.rest(g, _K_GROUP, _GROUP)
            out.append(group)
        return out, ids

    # -- participant flow ------------------------------------------------------------

    def flow(self, el: etree._Element) -> dict:
        out: dict[str, Any] = {}
        _put(out, "recruitmentDetails", _text(el.find("recruitment_details")))
        _put(out, "preAssignmentDetails", _text(el.find("pre_assignment_details")))
        groups, ids = self.groups(el, "FG")
        _put(out, "groups", groups)
        plist = el.find("period_list")
        if plist is not None:
            _put(out, "periods", [self.period(p, ids) for p in self.each(plist, "period")])
        self.rest(el, _K_FLOW)
        return out

    def period(self, p: etree._Element, ids: dict[str, str]) -> dict:
        out: dict[str, Any] = {}
        _put(out, "title", _text(p.find("title")))
        for list_tag, item_tag, key, counts_key in (
            ("milestone_list", "milestone", "milestones", "achievements"),
            ("drop_withdraw_reason_list", "drop_withdraw_reason", "dropWithdraws", "reasons"),
        ):
            lst = p.find(list_tag)
            if lst is None:
                continue
            items = []
            for item in self.each(lst, item_tag):
                entry: dict[str, Any] = {}
                _put(entry, "type", _text(item.find("title")))
                entry[counts_key] = self.participants(item, ids)
                self.rest(item, _K_FLOW_ITEM)
                items.append(entry)
            _put(out, key, items)
        self.rest(p, _K_PERIOD)
        return out

    def participants(self, item: etree._Element, ids: dict[str, str]) -> list[dict]:
        plist = item.find("participants_list")
        if plist is None:
            return []
        return [self.row(part, ids, _PARTICIPANT_ROW) for part in self.each(plist, "participants")]

    # -- measures (baseline and outcomes) --------------------------------------------

    def denoms(self, analyzed_list: etree._Element, ids: dict[str, str], scope: str) -> list[dict]:
        """``analyzed_list`` (2017+) -> v2 ``denoms``; a scope other than the expected one is stashed."""
        out = []
        for an in self.each(analyzed_list, "analyzed"):
            denom: dict[str, Any] = {}
            _put(denom, "units", _text(an.find("units")))
            denom["counts"] = self.counts(an.find("count_list"), ids)
            scopes = an.findall("scope")
            self.rest(an, _K_ANALYZED_SCOPE if len(scopes) == 1 and _text(scopes[0]) == scope else _K_ANALYZED)
            out.append(denom)
        return out

    def counts(self, count_list: etree._Element | None, ids: dict[str, str]) -> list[dict]:
        if count_list is None:
            return []
        return [self.row(c, ids, _COUNT_ROW) for c in self.each(count_list, "count")]

    def categories(self, cat_list: etree._Element, ids: dict[str, str]) -> list[dict]:
        out = []
        for cat in self.each(cat_list, "category"):
            entry: dict[str, Any] = {}
            # pre-2017 files name a category by <sub_title>, later ones by <title>
            title = _text(cat.find("title"))
            sub_title = _text(cat.find("sub_title"))
            if title is not None:
                entry["title"] = title
            elif sub_title is not None:
                entry["title"] = sub_title
            entry["measurements"] = self.measurements(cat.find("measurement_list"), ids)
            self.rest(cat, _K_CATEGORY if title is not None or sub_title is None else _K_CATEGORY_SUB)
            out.append(entry)
        return out

    def measurements(self, mlist: etree._Element | None, ids: dict[str, str]) -> list[dict]:
        if mlist is None:
            return []
        return [self.row(m, ids, _MEASUREMENT_ROW) for m in self.each(mlist, "measurement")]

    def measure_body(self, m: etree._Element, ids: dict[str, str], out: dict, baseline: bool,
                     sub_titles_as_classes: bool = True) -> None:
        """Fill units, param, dispersion, denoms and classes of one measure."""
        _put(out, "paramType", _opt(enum, _text(m.find("param"))))
        dispersion = _text(m.find("dispersion"))
        # v2 spells baseline dispersion as an enum but keeps outcome dispersion as text
        _put(out, "dispersionType", _opt(enum, dispersion) if baseline else dispersion)
        _put(out, "unitOfMeasure", _text(m.find("units")))
        _put(out, "denomUnitsSelected", _text(m.find("units_analyzed")))
        al = m.find("analyzed_list")
        if al is not None:
            _put(out, "denoms", self.denoms(al, ids, "Measure"))
        classes = []
        cl = m.find("class_list")
        if cl is not None:
            for c in self.each(cl, "class"):
                entry: dict[str, Any] = {}
                _put(entry, "title", _text(c.find("title")))
                cal = c.find("analyzed_list")
                if cal is not None:
                    _put(entry, "denoms", self.denoms(cal, ids, "Class"))
                cats = c.find("category_list")
                entry["categories"] = self.categories(cats, ids) if cats is not None else []
                self.rest(c, _K_CLASS)
                classes.append(entry)
        cats = m.find("category_list")
        if cats is not None and not sub_titles_as_classes:
            classes.append({"categories": self.categories(cats, ids)})
        elif cats is not None:
            # pre-2017 measures have no classes: as ClinicalTrials.gov did, each category
            # becomes a class titled by its <sub_title>, holding one untitled category
            for category in self.categories(cats, ids):
                title = category.pop("title", None)
                classes.append({"title": title, "categories": [category]} if title else {"categories": [category]})
        _put(out, "classes", classes)

    def legacy_denom(self, m: etree._Element, ids: dict[str, str]) -> dict:
        """A pre-2017 "Number of Participants" measure (see :func:`is_denom_measure`) -> one v2 denom."""
        self.rest(m, _K_DENOM_MEASURE)
        cat_list = m.find("category_list")
        self.rest(cat_list, _K_CATEGORY_LIST)
        cat = cat_list.find("category")
        self.rest(cat, _K_CATEGORY)
        counts = [self.row(meas, ids, _COUNT_ROW) for meas in self.each(cat.find("measurement_list"), "measurement")]
        title = m.find("title")
        if _text(title) != "Number of Participants":
            self.stash(title, _text(title))
        denom: dict[str, Any] = {}
        _put(denom, "units", _opt(denom_units, _text(m.find("units"))))
        denom["counts"] = counts
        return denom

    # -- baseline --------------------------------------------------------------------

    def baseline(self, el: etree._Element) -> dict:
        out: dict[str, Any] = {}
        _put(out, "populationDescription", _text(el.find("population")))
        groups, ids = self.groups(el, "BG")
        _put(out, "groups", groups)
        denoms: list[dict] = []
        al = el.find("analyzed_list")
        if al is not None:
            denoms.extend(self.denoms(al, ids, "Overall"))
        measures = []
        ml = el.find("measure_list")
        if ml is not None:
            items = list(self.each(ml, "measure"))
            for i, m in enumerate(items):
                if i == 0 and is_denom_measure(m, i, len(items)):
                    denoms.append(self.legacy_denom(m, ids))
                    continue
                entry: dict[str, Any] = {}
                standard = standard_baseline(m)
                _put(entry, "title", standard.get("title", _text(m.find("title"))))
                _put(entry, "description", _text(m.find("description")))
                _put(entry, "populationDescription", _text(m.find("population")))
                self.measure_body(m, ids, entry, baseline=True, sub_titles_as_classes=standard == {})
                if "param" in standard:
                    entry["paramType"] = standard["param"]
                    entry["unitOfMeasure"] = standard["units"]
                self.rest(m, _K_MEASURE | _K_MEASURE_TEXTS)
                measures.append(entry)
        _put(out, "denoms", denoms)
        _put(out, "measures", measures)
        self.rest(el, _K_BASELINE)
        return out

    # -- outcomes --------------------------------------------------------------------

    def outcomes(self, el: etree._Element) -> dict:
        return {"outcomeMeasures": [self.outcome(o) for o in self.each(el, "outcome")]}

    def outcome(self, o: etree._Element) -> dict:
        out: dict[str, Any] = {}
        _put(out, "type", _opt(enum, _text(o.find("type"))))
        texts = {tag: _text(o.find(tag)) for tag in _K_MEASURE_TEXTS}
        _put(out, "title", texts["title"])
        _put(out, "description", texts["description"])
        _put(out, "populationDescription", texts["population"])
        groups, ids = self.groups(o, "OG")
        main = o.findall("measure")
        ml = o.find("measure_list")
        denoms: list[dict] = []
        if ml is not None:
            items = list(self.each(ml, "measure"))
            for i, m in enumerate(items):
                if is_denom_measure(m, i, len(items)):
                    denoms.append(self.legacy_denom(m, ids))
                else:
                    main.append(m)
        out["reportingStatus"] = "POSTED" if main or denoms else "NOT_POSTED"
        _put(out, "anticipatedPostingDate", _opt(posting_date, _text(o.find("posting_date"))))
        _put(out, "timeFrame", _text(o.find("time_frame")))
        _put(out, "groups", groups)
        for k, m in enumerate(main):
            target = out if k == 0 else {}
            self.measure_body(m, ids, target, baseline=False)
            if k == 0:
                # the measure's title/description/population normally repeat the outcome's
                known = _K_MEASURE | frozenset(t for t in _K_MEASURE_TEXTS if _text(m.find(t)) == texts[t])
                self.rest(m, known)
            else:
                self.rest(m, _K_MEASURE)
                self.stash(m, target)
        if denoms:
            out["denoms"] = denoms + out.get("denoms", [])
        other_units = [d["units"] for d in out.get("denoms", []) if (d.get("units") or "participants").lower() != "participants"]
        if other_units:
            out["typeUnitsAnalyzed"] = other_units[0]
        al = o.find("analysis_list")
        if al is not None:
            _put(out, "analyses", [self.analysis(a, ids) for a in self.each(al, "analysis")])
        self.rest(o, _K_OUTCOME)
        return out

    def analysis(self, a: etree._Element, ids: dict[str, str]) -> dict:
        out: dict[str, Any] = {}
        gl = a.find("group_id_list")
        if gl is not None:
            gids = [_text(g) for g in self.each(gl, "group_id")]
            out["groupIds"] = [ids.get(g, g) for g in gids if g is not None]
        for tag, key, fn in _ANALYSIS:
            _put(out, key, _opt(fn, _text(a.find(tag))))
        # pre-2017 Yes/No "non-inferiority analysis?" is v2's *_LEGACY non-inferiority type
        tested = _LEGACY_NON_INFERIORITY.get(_text(a.find("non_inferiority")) or "")
        if tested is not None and "nonInferiorityType" not in out:
            out["nonInferiorityType"] = tested
        self.rest(a, _K_ANALYSIS_TESTED if tested is not None and out["nonInferiorityType"] == tested else _K_ANALYSIS)
        return out

    # -- adverse events --------------------------------------------------------------

    def events(self, el: etree._Element) -> dict:
        out: dict[str, Any] = {}
        other = el.find("other_events")
        _put(out, "frequencyThreshold", _text(other.find("frequency_threshold")) if other is not None else None)
        _put(out, "timeFrame", _text(el.find("time_frame")))
        _put(out, "description", _text(el.find("desc")))
        groups, ids = self.groups(el, "EG")
        by_id = {g["id"]: g for g in groups}
        for tag, key in (("serious_events", "seriousEvents"), ("other_events", "otherEvents")):
            sub = el.find(tag)
            if sub is not None:
                _put(out, key, self.event_list(sub, ids, by_id, tag == "other_events"))
        _put(out, "eventGroups", groups)
        self.rest(el, _K_EVENTS)
        return out

    def event_list(self, sub: etree._Element, ids: dict[str, str], by_id: dict[str, dict], is_other: bool) -> list[dict]:
        vocab = _text(sub.find("default_vocab"))
        assessment = _text(sub.find("default_assessment"))
        default_assessment = _opt(enum, assessment)
        used_vocab = used_assessment = False
        out = []
        cl = sub.find("category_list")
        if cl is not None:
            for cat in self.each(cl, "category"):
                organ = _text(cat.find("title"))
                el_list = cat.find("event_list")
                if el_list is not None:
                    for ev in self.each(el_list, "event"):
                        # one pass over the children: events are the most numerous rows
                        st = assess = desc = None
                        counts = []
                        odd = False
                        for child in ev:
                            tag = child.tag
                            if tag == "counts":
                                counts.append(child)
                            elif tag == "sub_title" and st is None:
                                st = child
                            elif tag == "assessment" and assess is None:
                                assess = child
                            elif tag == "description" and desc is None:
                                desc = child
                            else:
                                odd = True
                        term = _text(st)
                        if organ == "Total" and term in _TOTALS and self.total(ev, st, ids, by_id, _TOTALS[term]):
                            continue
                        entry: dict[str, Any] = {}
                        _put(entry, "term", term)
                        _put(entry, "organSystem", organ)
                        own_vocab = st.get("vocab") if st is not None else None
                        if st is not None and (len(st.attrib) != (own_vocab is not None) or len(st)):
                            self.rest(st, _NONE, _VOCAB, text=True)
                        if own_vocab is None:
                            used_vocab = used_vocab or vocab is not None
                            own_vocab = vocab
                        _put(entry, "sourceVocabulary", own_vocab)
                        own = _text(assess)
                        if own is None:
                            used_assessment = used_assessment or assessment is not None
                            _put(entry, "assessmentType", default_assessment)
                        else:
                            entry["assessmentType"] = enum(own)
                        _put(entry, "notes", _text(desc))
                        entry["stats"] = [self.row(c, ids, _STAT_ROW) for c in counts]
                        if odd or ev.attrib or _text(ev) is not None:
                            self.rest(ev, _K_EVENT)
                        out.append(entry)
                self.rest(cat, _K_EVENT_CATEGORY)
        known = {"category_list"}
        if used_vocab:
            known.add("default_vocab")
        if used_assessment:
            known.add("default_assessment")
        if is_other:
            known.add("frequency_threshold")
        self.rest(sub, frozenset(known))
        return out

    def total(self, ev: etree._Element, st: etree._Element, ids: dict[str, str], by_id: dict[str, dict],
              kind: str) -> bool:
        """Fold a "Total, ..." row into eventGroups; False (keep it as an event) if it does not fit."""
        counts = list(ev.iterchildren("counts"))
        targets = [by_id.get(ids.get(c.get("group_id") or "", "")) for c in counts]
        if not counts or any(t is None or f"{kind}NumAffected" in t for t in targets):
            return False
        for c, group in zip(counts, targets, strict=True):
            assert group is not None
            for attr, suffix in (("subjects_affected", "NumAffected"), ("subjects_at_risk", "NumAtRisk")):
                value = c.get(attr)
                if value is not None:
                    group[f"{kind}{suffix}"] = _int(value)
            self.rest(c, _NONE, _TOTAL_ATTRS)
        self.rest(st, _NONE, _NONE, text=True)
        self.rest(ev, _K_TOTAL_EVENT)
        return True

    # -- more info -------------------------------------------------------------------

    def more_info(self, root: etree._Element) -> dict:
        out: dict[str, Any] = {}
        ca = root.find("certain_agreements")
        if ca is not None:
            agreement: dict[str, Any] = {}
            pi = _text(ca.find("pi_employee"))
            if pi in _PI_EMPLOYEE:
                agreement["piSponsorEmployee"] = _PI_EMPLOYEE[pi]
            restrictive = _text(ca.find("restrictive_agreement"))
            if restrictive is not None:
                # the form's stock sentences are v2 enums; anything else is OTHER with its text
                restriction = _AGREEMENTS.get(restrictive, "OTHER")
                agreement["restrictiveAgreement"] = restriction is not None
                if restriction is not None:
                    agreement["restrictionType"] = restriction
                if restriction == "OTHER":
                    agreement["otherDetails"] = restrictive
            self.rest(ca, _K_AGREEMENT_PI if pi in _PI_EMPLOYEE else _K_AGREEMENT)
            _put(out, "certainAgreement", agreement)
        poc = root.find("point_of_contact")
        if poc is not None:
            contact: dict[str, Any] = {}
            for tag, key in _CONTACT:
                _put(contact, key, _text(poc.find(tag)))
            self.rest(poc, frozenset(tag for tag, _ in _CONTACT))
            _put(out, "pointOfContact", contact)
        lim = root.find("limitations_and_caveats")
        if lim is not None:
            _put(out, "limitationsAndCaveats", {"description": _text(lim)} if _text(lim) else None)
            self.rest(lim, _NONE, _NONE, text=True)
        return out


# children each element kind maps (anything else goes to legacy)
_K_GROUP = frozenset({"title", "description"})
_K_FLOW = frozenset({"recruitment_details", "pre_assignment_details", "group_list", "period_list"})
_K_PERIOD = frozenset({"title", "milestone_list", "drop_withdraw_reason_list"})
_K_FLOW_ITEM = frozenset({"title", "participants_list"})
_K_ANALYZED = frozenset({"units", "count_list"})
_K_ANALYZED_SCOPE = _K_ANALYZED | {"scope"}
_K_CATEGORY_LIST = frozenset({"category"})
_K_CATEGORY = frozenset({"title", "measurement_list"})
_K_CATEGORY_SUB = frozenset({"sub_title", "measurement_list"})
_K_DENOM_MEASURE = frozenset({"title", "units", "param", "category_list"})
_K_CLASS = frozenset({"title", "analyzed_list", "category_list"})
_K_MEASURE = frozenset({"units", "param", "dispersion", "class_list", "category_list", "analyzed_list", "units_analyzed"})
_K_MEASURE_TEXTS = frozenset({"title", "description", "population"})
_K_BASELINE = frozenset({"population", "group_list", "analyzed_list", "measure_list"})
_K_OUTCOME = frozenset({"type", "title", "description", "population", "time_frame", "posting_date",
                        "group_list", "measure", "measure_list", "analysis_list"})
_K_EVENTS = frozenset({"time_frame", "desc", "group_list", "serious_events", "other_events"})
_K_EVENT = frozenset({"sub_title", "assessment", "description", "counts"})
_K_EVENT_CATEGORY = frozenset({"title", "event_list"})
_K_TOTAL_EVENT = frozenset({"sub_title", "counts"})
_VOCAB = frozenset({"vocab"})
_TOTAL_ATTRS = frozenset({"group_id", "subjects_affected", "subjects_at_risk"})
_K_AGREEMENT = frozenset({"restrictive_agreement"})
_K_AGREEMENT_PI = _K_AGREEMENT | {"pi_employee"}
_CONTACT = (("name_or_title", "title"), ("organization", "organization"), ("email", "email"),
            ("phone", "phone"), ("phone_ext", "phoneExt"))


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
    ("ci_lower_limit_na_comment", "ciLowerLimitComment", None),
    ("ci_upper_limit_na_comment", "ciUpperLimitComment", None),
    ("other_analysis_desc", "otherAnalysisDescription", None),
    ("estimate_desc", "estimateComment", None),
)
_K_ANALYSIS = frozenset(tag for tag, _, _ in _ANALYSIS) | {"group_id_list"}
_K_ANALYSIS_TESTED = _K_ANALYSIS | {"non_inferiority"}


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
_K_RESULTS = frozenset(_SECTIONS) | {"certain_agreements", "point_of_contact", "limitations_and_caveats"}


def convert_results(element: etree._Element) -> dict:
    """Convert one legacy ``<clinical_results>`` element into a v2 ``resultsSection`` dict."""
    conv = _Converter(element)
    out: dict[str, Any] = {}
    for tag, (key, method) in _SECTIONS.items():
        el = element.find(tag)
        if el is not None:
            _put(out, key, method(conv, el))
    _put(out, "moreInfoModule", conv.more_info(element))
    conv.rest(element, _K_RESULTS)
    _put(out, "legacy", conv.legacy)
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


def _in_denom_measure(el: etree._Element) -> bool:
    """Whether a leaf is a direct child of a measure the converter turns into ``denoms``."""
    measure = el.getparent()
    mlist = measure.getparent() if measure is not None and measure.tag == "measure" else None
    if mlist is None or mlist.tag != "measure_list":
        return False
    items = mlist.findall("measure")
    pos = items.index(measure)
    first_only = mlist.getparent().tag == "baseline"
    return (pos == 0 or not first_only) and is_denom_measure(measure, pos, len(items))


def _implied(el: etree._Element, name: str | None, value: str) -> bool:
    """Leaves the v2 structure itself records (documented in the module docstring)."""
    parent = el.getparent()
    if el.tag in ("title", "param") and name is None and _in_denom_measure(el):
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
        if el.tag in ("title", "param", "units") and el.getparent().tag == "measure":
            measure = el.getparent()
            standard = standard_baseline(measure) if measure.getparent().getparent().tag == "baseline" else {}
            if el.tag in standard:
                return standard[el.tag]
        if el.tag in _ENUM_LEAVES or (el.tag == "dispersion" and any(a.tag == "baseline" for a in el.iterancestors())):
            return enum(value)
        if el.tag == "pi_employee" and value in _PI_EMPLOYEE:
            return "true" if _PI_EMPLOYEE[value] else "false"
        if el.tag == "non_inferiority" and value in _LEGACY_NON_INFERIORITY:
            declared = _text(el.getparent().find("non_inferiority_type"))
            legacy = _LEGACY_NON_INFERIORITY[value]
            if declared is None or enum(declared) == legacy:
                return legacy
        if el.tag == "restrictive_agreement" and value in _AGREEMENTS:
            return _AGREEMENTS[value] or "false"
        if el.tag == "units" and _in_denom_measure(el):
            return denom_units(value)
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
