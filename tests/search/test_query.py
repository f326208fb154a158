"""The query language parser (no index needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialscope.essie import And, MatchAll, Not, Or, Phrase, QueryError, Term, parse, to_string


def test_words_phrases_and_fields():
    node = parse('cond:"liver cancer" intr:sorafenib hepat* -pediatric')
    assert isinstance(node, And) and node.implicit
    a, b, c, d = node.children
    assert a == Phrase("liver cancer", "cond")
    assert b == Term("sorafenib", "intr")
    assert c == Term("hepat", None, prefix=True)
    assert isinstance(d, Not) and d.child == Term("pediatric")


def test_boolean_operators_and_grouping():
    assert to_string(parse("a OR b AND c")) == "(a OR (b AND c))"
    assert to_string(parse("(a OR b) c")) == "((a OR b) c)"
    assert to_string(parse("NOT a")) == "NOT a"
    assert to_string(parse("cond:(liver OR hcc)")) == "(cond:liver OR cond:hcc)"
    assert to_string(parse('spons:"national cancer" lead:nci')) == '(spons:"national cancer" lead:nci)'
    # lower-case operators are words
    assert to_string(parse("salt and pepper")) == "(salt and pepper)"


def test_default_field_for_api_params():
    assert parse("liver cancer", default_field="cond") == And(
        [Term("liver", "cond"), Term("cancer", "cond")], implicit=True
    )
    assert isinstance(parse(""), MatchAll)
    assert isinstance(parse("   "), MatchAll)


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ('liver "cancer', "unclosed quote", 6),
        ('cond:"liver cancer', "unclosed quote", 5),
        ("(liver OR hcc", "unclosed parenthesis", 0),
        ("liver) cancer", "unmatched ')'", 5),
        ("liver AND", "AND needs something on its right", 6),
        ("OR liver", "OR needs something on its left", 0),
        ("liver OR", "OR needs something on its right", 6),
        ("NOT", "NOT needs something on its right", 0),
        ('foo:"bar"', "unknown field 'foo'", 0),
        ("cond:", "cond: needs a value", 0),
        ("()", "empty parentheses", 0),
    ],
)
def test_errors_point_at_positions(query, message, position):
    with pytest.raises(QueryError) as err:
        parse(query)
    assert message in str(err.value)
    assert err.value.position == position
    assert f"at character {position + 1}" in str(err.value)  # people count from 1


def test_patient_note_text_is_not_syntax():
    note = (
        "Patient is a 58 y/o male admitted [**2148-10-1**] with HCC. Diagnosis: cirrhosis "
        "(Child-Pugh B). BP 120/80, HR 88 at 10:30. History: hep C; meds: sorafenib* 400mg "
        "[**Hospital 1234**] 'liver' lesions - see \"CT abdomen\"."
    )
    node = parse(note)
    assert isinstance(node, And)
    text = to_string(node)
    assert "Diagnosis:" in text and "10:30" in text and "[**2148-10-1**]" in text


def test_lenient_never_raises():
    assert isinstance(parse('liver "cancer (', lenient=True), And)
    assert isinstance(parse("AND OR NOT", lenient=True), And)
    assert isinstance(parse('"', lenient=True), MatchAll)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab :"()-*[]AND OR NOT cond:x')), max_size=30))
def test_fuzz_only_query_errors(text):
    try:
        parse(text)
    except QueryError as exc:
        assert exc.position is None or 0 <= exc.position <= len(text)
    parse(text, lenient=True)


def test_or_of_not():
    node = parse("a OR -b")
    assert isinstance(node, Or) and isinstance(node.children[1], Not)
