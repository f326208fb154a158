"""The API v2 `fields` parameter: piece names, module names and dotted paths → a projection."""

from __future__ import annotations

from typing import Any

from ..essie.areas import PIECES, SUGAR, area, piece
from .params import ParamError

P = "protocolSection"
_MODULES = {
    "identificationModule": P, "statusModule": P, "sponsorCollaboratorsModule": P, "oversightModule": P,
    "descriptionModule": P, "conditionsModule": P, "designModule": P, "armsInterventionsModule": P,
    "outcomesModule": P, "eligibilityModule": P, "contactsLocationsModule": P, "referencesModule": P,
    "ipdSharingStatementModule": P, "participantFlowModule": "resultsSection",
    "baselineCharacteristicsModule": "resultsSection", "outcomeMeasuresModule": "resultsSection",
    "adverseEventsModule": "resultsSection", "moreInfoModule": "resultsSection",
    "annotationModule": "annotationSection", "largeDocumentModule": "documentSection",
    "miscInfoModule": "derivedSection", "conditionBrowseModule": "derivedSection",
    "interventionBrowseModule": "derivedSection",
}

# section and module names (ProtocolSection, ConditionsModule) → their paths; piece names
# (NCTId, LocationZip, ...) come from the registry the query language reads
_BRANCHES: dict[str, str] = {
    "ProtocolSection": "protocolSection", "ResultsSection": "resultsSection",
    "DerivedSection": "derivedSection", "DocumentSection": "documentSection",
    "AnnotationSection": "annotationSection",
}
for _m, _sec in _MODULES.items():
    _BRANCHES[_m[0].upper() + _m[1:]] = f"{_sec}.{_m}"
_LOWER = {k.lower(): v for k, v in _BRANCHES.items()}
_ROOTS = {"protocolSection", "resultsSection", "derivedSection", "documentSection", "annotationSection", "hasResults"}


def _paths(name: str) -> list[str] | None:
    """What one `fields` item names: a piece, a section or module, a search area (all its
    pieces), or a dotted v2 path."""
    p = piece(name)
    if p is not None:
        return [p.path]
    if name.lower() in _LOWER:
        return [_LOWER[name.lower()]]
    a = area(name) if name not in SUGAR else None
    if a is not None:
        return [PIECES[n].path for part in a.parts for n in part.pieces]
    if name.split(".")[0] in _ROOTS:
        return [name]
    if name in _MODULES:
        return [f"{_MODULES[name]}.{name}"]
    return None


Tree = dict[str, Any]  # key → subtree, or True for "all of it"


def parse_fields(value: str) -> Tree | None:
    """`fields` → a projection tree, or None for the whole record. Unknown names → ParamError."""
    names = [v.strip() for v in value.replace("|", ",").split(",") if v.strip()]
    if not names:
        return None
    tree: Tree = {}
    for name in names:
        paths = _paths(name)
        if paths is None:
            raise ParamError(
                "fields", f"unknown field {name[:80]!r}",
                "piece names (NCTId, BriefTitle, OverallStatus, Phase, Condition, ...), module names "
                "(ConditionsModule, ...), search areas (ConditionSearch, ...) or paths "
                "(protocolSection.designModule.phases)")
        for path in paths:
            _add(tree, path.split("."))
    return tree


def _add(tree: Tree, parts: list[str]) -> None:
    node = tree
    for i, part in enumerate(parts):
        if node.get(part) is True:
            return
        if i == len(parts) - 1:
            node[part] = True
        else:
            node = node.setdefault(part, {})


def project(value: Any, tree: Tree | bool) -> Any:
    """The parts of ``value`` the tree names; lists are projected element by element."""
    if tree is True:
        return value
    if isinstance(value, list):
        out = [project(v, tree) for v in value]
        return [v for v in out if v not in (None, {}, [])]
    if not isinstance(value, dict):
        return None
    out = {}
    for key, sub in tree.items():
        if key in value:
            got = project(value[key], sub)
            if got not in (None, {}, []):
                out[key] = got
    return out
