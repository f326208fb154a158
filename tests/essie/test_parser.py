"""Essie and trialscope's short forms, parsed into one tree (no index needed)."""

from __future__ import annotations

import msgspec
import pytest

from trialscope import record
from trialscope.essie import (
    And,
    MatchAll,
    Missing,
    Not,
    Or,
    Phrase,
    QueryError,
    Range,
    Search,
    Term,
    parse,
    to_string,
)
from trialscope.essie.areas import AREAS, PIECES, SUGAR, piece, search_areas_json


@pytest.mark.parametrize(("text", "tree"), [
    ("AREA[LastUpdatePostDate]RANGE[2023-01-15,MAX]", "LastUpdatePostDate:RANGE[2023-01-15,MAX]"),
    ("AREA[MinimumAge]RANGE[MIN, 16 years] AND AREA[MaximumAge]RANGE[16 years, MAX]",
     "(MinimumAge:RANGE[MIN,16 years] AND MaximumAge:RANGE[16 years,MAX])"),
    ("AREA[ResultsFirstPostDate]MISSING", "ResultsFirstPostDate:MISSING"),
    ("AREA[phase]PHASE3 OR AREA[Phase]PHASE2", "(Phase:PHASE3 OR Phase:PHASE2)"),
    ("bethesda NOT maryland", "(bethesda NOT maryland)"),
    ("heart attack OR stroke OR dizziness AND shortness of breath",
     "((heart attack) OR stroke OR (dizziness AND (shortness of breath)))"),
    ("(acetaminophen OR aspirin) AND NOT (heart failure OR heart attack)",
     "((acetaminophen OR aspirin) AND NOT ((heart failure) OR (heart attack)))"),
    ("SEARCH[Location](AREA[LocationCity]Portland AND AREA[LocationState]Maine)",
     "SEARCH[Location](LocationCity:Portland AND LocationState:Maine)"),
    ('EXPANSION[None]COVERAGE[FullMatch]"liver cancer"', 'EXPANSION[None]COVERAGE[FullMatch]"liver cancer"'),
    ("AREA[ConditionSearch](liver OR hcc) sorafenib", "((ConditionSearch:liver OR ConditionSearch:hcc) sorafenib)"),
    ("AREA[Condition]AREA[Phase]PHASE2", "Phase:PHASE2"),  # the inner area wins
    ("TILT[StartDate]prostate", "prostate"),
    (r"\MISSING AREA[Condition]\ALL", "(MISSING Condition:ALL)"),  # escaped: words
    ('"sleep \\"deprivation\\""', '"sleep "deprivation""'),
])
def test_essie_trees(text, tree):
    assert to_string(parse(text)) == tree


def test_context_operators_bind_tighter_than_and():
    node = parse("AREA[Condition]liver cancer")
    assert isinstance(node, And) and node.children == [Term("liver", "Condition"), Term("cancer")]
    assert parse("AREA[Condition]ALL") == MatchAll()
    assert isinstance(parse("AREA[StartDate]MISSING"), Missing)
    assert parse("AREA[EnrollmentCount]RANGE[10,]") == Range("10", "", "EnrollmentCount")
    assert parse("COVERAGE[StartsWith]AREA[BriefTitle]liver") == Term("liver", "BriefTitle", coverage="StartsWith")
    assert isinstance(parse("SEARCH[location](AREA[LocationCity]x)"), Search)


def test_short_forms_are_sugar_over_the_same_tree():
    node = parse('cond:"liver cancer" intr:sorafenib hepat* -pediatric')
    assert node.children[0] == Phrase("liver cancer", "cond")
    assert node.children[2] == Term("hepat", None, prefix=True)
    assert isinstance(node.children[3], Not)
    assert parse("x", default_field="ConditionSearch") == Term("x", "ConditionSearch")
    assert parse("x", default_field="cond") == Term("x", "cond")
    assert isinstance(parse("a OR b", default_field="locn"), Or)


@pytest.mark.parametrize(("text", "message", "position"), [
    ("AREA[Nope]x", "unknown area 'Nope'", 0),
    ("AREA[Phase", "unclosed AREA[", 0),
    ("liver AREA[]x", "AREA[] needs an area or piece name", 6),
    ("RANGE[1,2]", "RANGE[] needs an AREA[piece] right before it", 0),
    ("AREA[StartDate]RANGE[2020]", "RANGE[] takes two bounds", 15),
    ("EXPANSION[Huge]x", "unknown EXPANSION[Huge]", 0),
    ("COVERAGE[Most]x", "unknown COVERAGE[Most]", 0),
    ("SEARCH[Sponsor](x)", "unknown SEARCH[Sponsor]", 0),
    ("SEARCH[Location](AREA[Phase]PHASE2)", "only the group's pieces", 17),
    ("TILT[Condition]x", "TILT[Condition] needs a date piece", 0),
    ("AREA[Phase]", "AREA needs something on its right", 0),
])
def test_errors_name_the_construct_and_its_position(text, message, position):
    with pytest.raises(QueryError) as err:
        parse(text)
    assert message in str(err.value)
    assert err.value.position == position
    parse(text, lenient=True)  # patient notes never raise


def test_depth_is_bounded_for_every_operator():
    for text in ["AREA[Condition]" * 400 + "x", "EXPANSION[None]" * 400 + "x", "NOT " * 400 + "x",
                 "(" * 300 + "x" + ")" * 300, "SEARCH[Location](" * 50 + "x" + ")" * 50]:
        with pytest.raises(QueryError, match="nests more than|inside SEARCH"):
            parse(text)


def test_query_error_names_the_parameter():
    exc = QueryError("unclosed quote", 3).with_param("query.cond")
    assert str(exc) == "query.cond: unclosed quote at position 3" and exc.param == "query.cond"


def _leaf_paths(tp, prefix: str, out: set[str]) -> None:
    info = msgspec.inspect.type_info(tp) if not isinstance(tp, msgspec.inspect.Type) else tp
    if isinstance(info, msgspec.inspect.UnionType):
        for t in info.types:
            if not isinstance(t, msgspec.inspect.NoneType):
                _leaf_paths(t, prefix, out)
        return
    if isinstance(info, msgspec.inspect.ListType):
        _leaf_paths(info.item_type, prefix, out)
        return
    if isinstance(info, msgspec.inspect.StructType):
        for f in info.fields:
            _leaf_paths(f.type, f"{prefix}.{f.encode_name}" if prefix else f.encode_name, out)
        return
    if isinstance(info, msgspec.inspect.DictType):
        return  # results and legacy sections: untyped in record.py
    out.add(prefix)


def test_every_leaf_of_the_record_structure_has_a_piece():
    paths: set[str] = set()
    _leaf_paths(record.Study, "", paths)
    named = {p.path for p in PIECES.values()}
    geo = {p.path for p in PIECES.values() if p.type == "geo"}
    missing = {p for p in paths if p not in named and not any(p.startswith(g + ".") for g in geo)}
    assert not missing, sorted(missing)


def test_areas_are_built_from_pieces():
    for a in AREAS.values():
        for part in a.parts:
            assert all(name in PIECES for name in part.pieces), a.name
    assert set(SUGAR.values()) <= set(AREAS)
    body = search_areas_json()
    assert body[0]["areas"][0]["name"] == "BasicSearch"
    assert {a["param"] for a in body[0]["areas"] if "param" in a} >= {"cond", "term", "intr", "locn", "titles",
                                                                      "outc", "spons", "lead", "id", "patient"}
    assert piece("locationzip").path.endswith("locations.zip")
    assert piece("MinimumAge").type == "age" and piece("Phase").values[-1] == "NA"
