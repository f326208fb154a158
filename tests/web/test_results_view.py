"""The record page's Results section: view model, SVG charts, escaping and speed, on real
sample records (v2 JSON and legacy XML converted to v2) and a few made-up edge cases."""

from __future__ import annotations

import re
import time
import zipfile
from functools import cache
from pathlib import Path

import orjson
import pytest
from jinja2 import Environment, FileSystemLoader

from trialscope.web import results as R
from trialscope.web.results import (
    AE_CAP,
    analysis_sentence,
    charts,
    dispersion_of,
    format_p,
    num,
    outcomes,
    view,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample"
TEMPLATES = ROOT / "src" / "trialscope" / "web" / "templates"


@cache
def _json_zip() -> zipfile.ZipFile:
    return zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip")


def json_study(nct: str) -> dict:
    return orjson.loads(_json_zip().read(f"{nct}.json"))


def json_results_ids() -> list[str]:
    z = _json_zip()
    return [n[:-5] for n in z.namelist() if n.endswith(".json") and b'"resultsSection"' in z.read(n)]


def xml_study(nct: str) -> dict:
    from trialscope.sources.base import Origin, SourceRecord
    from trialscope.sources.xml import read_document

    with zipfile.ZipFile(SAMPLE / "AllPublicXML-extra.zip") as z:
        name = next(n for n in z.namelist() if n.endswith(f"{nct}.xml"))
        data = z.read(name)
    recs = [r for r in read_document(data, Origin("x", name)) if isinstance(r, SourceRecord)]
    assert recs, f"{nct} did not convert"
    return recs[0].record


class _Req:
    def __init__(self, qp: dict | None = None):
        self.query_params = qp or {}


@cache
def _template():
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True)
    return env.get_template("_results.html")


def render(record: dict, qp: dict | None = None, request: bool = True) -> str:
    res = view(record)
    assert res
    ctx = {"results": res}
    if request:
        ctx["request"] = _Req(qp)
    return _template().render(**ctx)


def minimal(outcome: dict | None = None, **sections) -> dict:
    rs = dict(sections)
    if outcome is not None:
        rs["outcomeMeasuresModule"] = {"outcomeMeasures": [outcome]}
    return {"protocolSection": {"identificationModule": {"nctId": "NCT09999999"}},
            "resultsSection": rs}


GROUPS2 = [{"id": "OG000", "title": "Drug A"}, {"id": "OG001", "title": "Placebo"}]


# ------------------------------------------------------------------------- basics


def test_no_results_is_none():
    assert view({"protocolSection": {}}) is None
    assert view({"resultsSection": {}}) is None
    assert view(None) is None  # type: ignore[arg-type]
    assert view({"resultsSection": "junk"}) is None


def test_numbers():
    assert num("12.5") == 12.5
    assert num("26,300") == 26300.0
    assert num(" -3 ") == -3.0
    for bad in ("NA", "", None, "nan", "inf", "<0.001", "1_000", True, "text"):
        assert num(bad) is None


def test_dispersion_words_and_enums():
    assert dispersion_of("STANDARD_DEVIATION").kind == "sd"
    assert dispersion_of("Standard Deviation").kind == "sd"
    assert dispersion_of("Standard Error").short == "SE"
    assert dispersion_of("STANDARD_ERROR_OF_MEAN").kind == "se"
    ci = dispersion_of("CONFIDENCE_95")
    assert (ci.kind, ci.short) == ("ci", "95% CI")
    assert dispersion_of("95% Confidence Interval").short == "95% CI"
    assert dispersion_of("CONFIDENCE_975").short == "97.5% CI"
    assert dispersion_of("Inter-Quartile Range").kind == "iqr"
    assert dispersion_of("INTER_QUARTILE_RANGE").kind == "iqr"
    assert dispersion_of("FULL_RANGE").kind == "range"
    assert dispersion_of(None).kind == ""


# --------------------------------------------------------------------- analyses


def test_analysis_sentence_hazard_ratio():
    a = {"groupIds": ["OG000", "OG001"], "paramType": "Hazard Ratio", "paramValue": "0.75",
         "ciPctValue": "95", "ciNumSides": "TWO_SIDED", "ciLowerLimit": "0.62",
         "ciUpperLimit": "0.91", "pValue": "0.003", "statisticalMethod": "Log Rank"}
    assert analysis_sentence(a) == "Hazard Ratio 0.75, 95% CI 0.62–0.91, p = 0.003, Log Rank"


def test_analysis_sentence_variants():
    assert format_p("<0.0001") == "p < 0.0001"
    assert format_p("<= 0.05") == "p ≤ 0.05"
    assert format_p("0.2") == "p = 0.2"
    assert format_p("") == ""
    # v2 enum param type, negative limits, one-sided CI
    s = analysis_sentence({"paramType": "MEAN_DIFFERENCE_FINAL_VALUES", "paramValue": "-1.8",
                           "ciPctValue": "90", "ciNumSides": "ONE_SIDED",
                           "ciLowerLimit": "-3.6", "ciUpperLimit": "0.05"})
    assert s == "Mean difference final values -1.8, 90% CI (one-sided) -3.6 to 0.05"
    assert analysis_sentence({"pValue": "0.79", "statisticalMethod": "Wilcoxon (Mann-Whitney)"}) \
        == "p = 0.79, Wilcoxon (Mann-Whitney)"
    assert "lower limit 87.46" in analysis_sentence({"ciPctValue": "95", "ciLowerLimit": "87.46"})
    assert analysis_sentence({}) == ""


def test_analyses_name_the_groups_compared():
    om = {"type": "PRIMARY", "title": "Overall survival", "paramType": "MEDIAN",
          "unitOfMeasure": "months", "dispersionType": "95% Confidence Interval", "groups": GROUPS2,
          "classes": [{"categories": [{"measurements": [
              {"groupId": "OG000", "value": "14.2", "lowerLimit": "12.1", "upperLimit": "16.9"},
              {"groupId": "OG001", "value": "10.1", "lowerLimit": "8.0", "upperLimit": "NA"}]}]}],
          "analyses": [{"groupIds": ["OG000", "OG001"], "paramType": "Hazard Ratio (HR)",
                        "paramValue": "0.75", "ciPctValue": "95", "ciLowerLimit": "0.62",
                        "ciUpperLimit": "0.91", "pValue": "0.003", "statisticalMethod": "Log Rank"}]}
    o = view(minimal(om)).outcomes[0]
    assert o.analyses[0].groups == "Drug A vs Placebo"
    assert o.analyses[0].sentence == "Hazard Ratio (HR) 0.75, 95% CI 0.62–0.91, p = 0.003, Log Rank"
    # a median time: dot-and-interval plot, open-ended upper limit drawn as an arrow
    assert "rchart-dots" in o.chart
    assert o.chart.count("<circle") == 2
    assert "<path" in o.chart  # the arrow of "NA" (not reached)
    assert "not reached" in o.chart_note and "95% confidence interval" in o.chart_note


# ------------------------------------------------------------------ v2 JSON study


def test_json_study_flow_baseline_outcomes_ae():
    res = view(json_study("NCT00084552"))
    assert res and res.nct_id == "NCT00084552"
    period = res.flow.periods[0]
    assert period.title == "Overall Study"
    assert [g.title for g in res.flow.groups] == ["Standard IMRT (S-IMRT)",
                                                 "Erectile Tissue Sparing IMRT (ETS-IMRT)"]
    rows = {r.kind: r for r in period.rows}
    assert rows["started"].cells == ["54", "62"]
    assert rows["completed"].cells == ["54 (100%)", "62 (100%)"]
    assert period.chart is not None and period.chart.count('class="flow-done') == 2
    # baseline: age then sex first, counts with their share
    titles = [m.title for m in res.baseline.measures]
    assert titles[:2] == ["Age, Continuous", "Sex: Female, Male"]
    assert [g.n for g in res.baseline.groups] == ["54", "62", "116"]
    age = res.baseline.measures[0]
    assert age.dispersion.kind == "range" and age.rows[0].cells[0].text == "61 (47 to 75)"
    male = res.baseline.measures[1].rows[1]
    assert male.label == "Male" and male.cells[0].pct == "100%"
    # outcomes
    assert len(res.outcomes) == 4 and res.outcomes[0].primary
    first = res.outcomes[0]
    assert first.rows[0].cells[0].text == "27" and first.rows[0].cells[0].pct == "73%"
    assert first.chart.count('<rect class="bar ') == 2


def test_chart_has_one_bar_per_group_and_whiskers_for_sd():
    res = view(json_study("NCT00893113"))
    o = next(o for o in res.outcomes if o.dispersion.kind == "sd" and len(o.rows) == 1)
    svg = str(o.chart)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('<rect class="bar ') == len(o.groups)
    # each group: a horizontal whisker and its two caps
    assert svg.count('class="whisker"') == 3 * len(o.groups)
    assert "± 1 standard deviation (SD)" in o.chart_note
    for c in o.rows[0].cells:
        assert c.lo == pytest.approx(c.value - (c.value - c.lo))
        assert "±" in c.text


def test_bars_without_dispersion_have_no_whiskers():
    om = {"title": "Responders", "paramType": "COUNT_OF_PARTICIPANTS", "unitOfMeasure": "Participants",
          "groups": GROUPS2, "denoms": [{"units": "Participants", "counts": [
              {"groupId": "OG000", "value": "40"}, {"groupId": "OG001", "value": "38"}]}],
          "classes": [{"categories": [{"measurements": [
              {"groupId": "OG000", "value": "12"}, {"groupId": "OG001", "value": "7"}]}]}]}
    o = view(minimal(om)).outcomes[0]
    assert o.chart.count('<rect class="bar ') == 2
    assert "whisker" not in o.chart
    assert o.rows[0].cells[0].pct == "30%"


def test_categorical_measure_is_grouped_bars_with_legend():
    cats = [{"title": t, "measurements": [{"groupId": "OG000", "value": a},
                                          {"groupId": "OG001", "value": b}]}
            for t, a, b in (("Mild", "5", "7"), ("Moderate", "3", "2"), ("Severe", "1", "NA"))]
    om = {"title": "Severity", "paramType": "COUNT_OF_PARTICIPANTS", "unitOfMeasure": "Participants",
          "groups": GROUPS2, "classes": [{"categories": cats}]}
    o = view(minimal(om)).outcomes[0]
    assert [r.label for r in o.rows] == ["Mild", "Moderate", "Severe"]
    svg = str(o.chart)
    assert svg.count('<rect class="bar ') == 5  # the "NA" cell is text, not a bar
    assert svg.count('<rect class="sw ') == 2  # legend
    assert 'class="na"' in svg and ">NA<" in svg


def test_non_numeric_values_never_crash():
    om = {"title": "Odd", "paramType": "MEAN", "dispersionType": "Standard Deviation",
          "groups": GROUPS2 + [{"id": "OG002"}],
          "classes": [{"categories": [{"measurements": [
              {"groupId": "OG000", "value": "NA", "spread": "NA", "comment": "not estimable"},
              {"groupId": "OG001", "value": "text", "lowerLimit": "x", "upperLimit": None}]}]},
              {"categories": "junk"}, "junk"],
          "analyses": [{"pValue": None}, "junk"]}
    res = view(minimal(om, participantFlowModule={"periods": [{"milestones": [{"type": "STARTED"}]}]},
                       adverseEventsModule={"eventGroups": [{"id": "EG000"}],
                                            "seriousEvents": [{"term": "X", "stats": [{}]}]}))
    o = res.outcomes[0]
    assert [c.text for c in o.rows[0].cells] == ["NA ± NA", "text (x to ?)", "—"]
    assert o.chart is None  # nothing numeric to chart
    assert o.rows[0].cells[0].note == "not estimable"
    html = render(minimal(om))
    assert "NA ± NA" in html
    render(minimal(None, adverseEventsModule={"eventGroups": [{"id": "EG000"}],
                                              "otherEvents": [{"stats": [{"groupId": "EG000"}]}]}))


# ---------------------------------------------------------------- adverse events


def test_adverse_events_sort_and_cap():
    res = view(json_study("NCT02369484"))
    ae = res.adverse_events({})
    other = next(t for t in ae.tables if t.kind == "other")
    assert other.total == 55 and other.capped and len(other.rows) == AE_CAP
    pcts = [r.total_pct for r in other.rows]
    assert pcts == sorted(pcts, reverse=True)
    assert "ae_all=1" in ae.all_href
    # top-10 chart: one bar per group per event
    assert ae.chart.count('<rect class="bar ') <= 10 * len(ae.groups)
    everything = res.adverse_events({"ae_all": "1", "ae_sort": "term"})
    other = next(t for t in everything.tables if t.kind == "other")
    assert not other.capped and len(other.rows) == 55
    terms = [r.term.lower() for r in other.rows]
    assert terms == sorted(terms)
    assert everything.sort_for("term").active
    assert "ae_sort=term" in everything.sort_for("term").href
    assert "ae_all=1" in everything.sort_for("organ").href  # keeps "show all"
    # sort by a group: that group's % affected, highest first
    gid = everything.groups[0].id
    by_group = res.adverse_events({"ae_sort": gid, "ae_all": "1"})
    other = next(t for t in by_group.tables if t.kind == "other")
    vals = [r.cells[0].pct or 0 for r in other.rows]
    assert vals == sorted(vals, reverse=True)
    # unknown sort keys fall back to frequency
    assert res.adverse_events({"ae_sort": "<script>"}).sort == "freq"


def test_ae_cells_show_affected_of_at_risk_with_percent():
    ae = view(json_study("NCT00106392")).adverse_events()
    serious = next(t for t in ae.tables if t.kind == "serious")
    row = serious.rows[0]
    assert row.term == "Squamous cell carcinoma"
    assert [c.text for c in row.cells] == ["1/59 (1.7%)", "0/65 (0%)"]
    assert [s.label for s in ae.summary] == ["Serious adverse events", "Other adverse events"]


# ----------------------------------------------------------------- XML converted


def test_xml_converted_study():
    rec = xml_study("NCT00987935")
    res = view(rec)
    assert res and res.flow and res.baseline and res.outcomes
    assert res.flow.periods and any(r.kind == "started" for r in res.flow.periods[0].rows)
    assert any(o.chart is not None for o in res.outcomes)
    ae = res.adverse_events({})
    assert ae and ae.tables and all(t.rows for t in ae.tables)
    html = render(rec)
    assert 'id="results-flow"' in html and "<svg" in html and "ae-table" in html


# ---------------------------------------------------------------------- escaping


def test_record_text_is_escaped_everywhere():
    evil = "<script>alert(1)</script>"
    om = {"type": "PRIMARY", "title": f"Outcome {evil}", "description": evil,
          "paramType": "MEAN", "dispersionType": "STANDARD_DEVIATION", "unitOfMeasure": f"mg {evil}",
          "groups": [{"id": "OG000", "title": f"Arm {evil}"}, {"id": "OG001", "title": '"><img src=x onerror=1>'}],
          "classes": [{"title": evil, "categories": [{"title": evil, "measurements": [
              {"groupId": "OG000", "value": "1.5", "spread": "0.5"},
              {"groupId": "OG001", "value": evil}]}, {"measurements": []}]}],
          "analyses": [{"groupIds": ["OG000", "OG001"], "paramType": evil, "paramValue": "1",
                        "statisticalMethod": evil, "groupDescription": evil}]}
    rec = minimal(om, adverseEventsModule={
        "eventGroups": [{"id": "EG000", "title": evil, "seriousNumAffected": 1, "seriousNumAtRisk": 2}],
        "seriousEvents": [{"term": evil, "organSystem": evil,
                           "stats": [{"groupId": "EG000", "numAffected": 1, "numAtRisk": 2}]}]},
        participantFlowModule={"groups": [{"id": "FG000", "title": evil}], "periods": [
            {"title": evil, "milestones": [{"type": "STARTED", "achievements": [
                {"groupId": "FG000", "numSubjects": "2"}]}, {"type": "COMPLETED", "achievements": [
                    {"groupId": "FG000", "numSubjects": "1"}]}],
             "dropWithdraws": [{"type": evil, "reasons": [{"groupId": "FG000", "numSubjects": "1"}]}]}]})
    res = view(rec)
    svgs = [str(res.outcomes[0].chart), str(res.adverse_events().chart), str(res.flow.periods[0].chart)]
    for svg in svgs:
        assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "<img" not in svgs[0]
    html = render(rec, {"ae_sort": evil})
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    # the only script tag is ours
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/results.js" defer>']
    assert "style=" not in html  # the page's CSP blocks inline styles


# -------------------------------------------------------------- template & speed


def test_template_renders_every_sample_results_study():
    ids = json_results_ids()
    assert len(ids) >= 20
    for nct in ids:
        html = render(json_study(nct))
        assert html.count("<section") == html.count("</section>")
    # no request in the context still works
    html = render(json_study(ids[0]), request=False)
    assert 'id="results-body"' in html


def test_query_given_to_view_drives_the_ae_tables_without_a_request():
    res = view(json_study("NCT02369484"), {"ae_sort": "term", "ae_all": "1"})
    html = _template().render(results=res)
    assert "Show fewer" in html and 'aria-sort="ascending"' in html


def test_template_sort_links_and_show_all():
    rec = json_study("NCT02369484")
    html = render(rec)
    assert 'href="?ae_sort=term#results-ae"' in html
    assert "Show all 55" in html and 'data-truncated="true"' in html
    html = render(rec, {"ae_all": "1", "ae_sort": "organ"})
    assert "Show fewer" in html and 'data-truncated="true"' not in html
    assert 'data-sort="organ" data-type="text" aria-sort="ascending"' in html


def test_render_is_fast_on_the_largest_sample_results():
    z = _json_zip()
    largest = max(json_results_ids(), key=lambda n: len(z.read(f"{n}.json")))
    rec = json_study(largest)
    render(rec)
    times = []
    for _ in range(15):
        t = time.process_time()  # CPU time: other processes on a busy machine don't count
        render(rec)
        times.append(time.process_time() - t)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    assert p95 < 0.05, f"{largest}: view+template p95 {p95 * 1000:.1f} ms"


def test_ticks_cover_range():
    start, end, ticks = charts.ticks(0, 83)
    assert start == 0 and end >= 83 and ticks[0] == 0 and ticks[-1] == end
    start, end, ticks = charts.ticks(-3.6, 0.05)
    assert start <= -3.6 and end >= 0.05 and 0 in ticks


def _many_outcomes(n: int, primary: int = 2) -> dict:
    oms = [{"type": "PRIMARY" if i < primary else "SECONDARY", "title": f"Measure {i + 1}",
            "paramType": "MEAN", "groups": GROUPS2,
            "classes": [{"categories": [{"measurements": [
                {"groupId": "OG000", "value": str(i)}, {"groupId": "OG001", "value": "1"}]}]}]}
           for i in range(n)]
    return {"resultsSection": {"outcomeMeasuresModule": {"outcomeMeasures": oms}}}


def test_many_outcomes_are_capped_with_links_and_show_all():
    res = view(_many_outcomes(R.OUTCOME_CAP + 10))
    ov = res.outcomes_view({})
    assert len(ov.shown) == R.OUTCOME_CAP and len(ov.hidden) == 10
    assert all(o.primary for o in ov.shown[:2])
    assert ov.hidden[0].href == f"?outcomes=all#outcome-{R.OUTCOME_CAP + 1}"
    assert len(res._built) == R.OUTCOME_CAP  # the hidden ones are never built
    # primary outcomes come first even when listed late
    late = _many_outcomes(R.OUTCOME_CAP + 5, primary=0)
    late["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"][-1]["type"] = "PRIMARY"
    ov = view(late).outcomes_view()
    assert ov.shown[-1].primary and ov.shown[-1].title == f"Measure {R.OUTCOME_CAP + 5}"
    html = _template().render(results=res)
    assert f"Show all {R.OUTCOME_CAP + 10}" in html and 'class="o-more"' in html
    everything = res.outcomes_view({"outcomes": "all"})
    assert len(everything.shown) == R.OUTCOME_CAP + 10 and not everything.hidden
    html = _template().render(results=res, request=_Req({"outcomes": "all"}))
    assert "Show fewer outcome measures" in html
    assert html.count('<details class="outcome') == R.OUTCOME_CAP + 10
    few = view(_many_outcomes(3)).outcomes_view()
    assert len(few.shown) == 3 and not few.cappable


def test_too_many_values_get_a_table_not_a_chart():
    cats = [{"title": f"Visit {k}", "measurements": [{"groupId": "OG000", "value": str(k)},
                                                     {"groupId": "OG001", "value": "1"}]}
            for k in range(outcomes.MAX_BARS)]
    om = {"title": "Many visits", "paramType": "MEAN", "groups": GROUPS2,
          "classes": [{"categories": cats}],
          "analyses": [{"groupIds": ["OG000", "OG001"], "pValue": f"0.{k + 1}"} for k in range(11)]}
    o = view(minimal(om)).outcomes[0]
    assert o.chart is None and "too many to chart" in o.chart_note
    assert len(o.rows) == outcomes.MAX_BARS
    html = render(minimal(om))
    assert "too many to chart" in html and "3 more statistical analyses" in html


def test_view_leaves_the_garbage_collector_as_it_found_it():
    import gc

    rec = json_study("NCT02369484")
    assert gc.isenabled()
    res = view(rec)
    res.outcomes_view()
    res.adverse_events()
    assert gc.isenabled()
    gc.disable()
    try:
        view(rec).adverse_events()
        assert not gc.isenabled()
    finally:
        gc.enable()
