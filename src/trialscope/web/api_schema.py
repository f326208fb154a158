"""What `/openapi.json` says about `/api/v2`: the real status codes and response schemas.

The study schema is generated from the typed v2 structure (`trialscope.record`), so the
document and the records cannot drift apart. It is permissive where the records are: extra
fields are allowed (a record keeps everything its source carried) and nothing is required,
since `fields` returns any part of a study. FastAPI's automatic 422 is removed: validation
errors are answered with a 400 and the error body below.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..record import Study

REF = "#/components/schemas/{name}"


def ref(name: str) -> dict:
    return {"$ref": REF.format(name=name)}


def _relaxed(schema: Any) -> Any:
    """Drop `required` everywhere (a `fields` projection may leave out any part)."""
    if isinstance(schema, dict):
        return {k: _relaxed(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [_relaxed(v) for v in schema]
    return schema


def _study_components() -> dict[str, dict]:
    _, components = msgspec.json.schema_components([Study], ref_template=REF)
    out = _relaxed(components)
    study = out["Study"]
    for section in ("annotationSection", "documentSection"):
        study["properties"][section] = {"type": "object"}
    return out


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}


def _obj(props: dict, required: list[str] | None = None, closed: bool = True) -> dict:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def _arr(items: dict) -> dict:
    return {"type": "array", "items": items}


STATS_TYPES = ["ENUM", "STRING", "DATE", "INTEGER", "NUMBER", "BOOLEAN"]
_VALUE_COUNT = _obj({"value": _STR, "studiesCount": _INT}, ["value", "studiesCount"])
_STATS_BASE = {"field": _STR, "piece": _STR, "type": {"type": "string", "enum": STATS_TYPES},
               "missingStudiesCount": _INT}

COMPONENTS: dict[str, dict] = {
    **_study_components(),
    "ApiError": _obj({
        "error": {"type": "string", "description": "what kind of error: bad parameter, bad query, not found, ..."},
        "parameter": {"type": ["string", "null"], "description": "the parameter at fault"},
        "message": {"type": "string", "description": "what is wrong, in words"},
        "allowed": {"description": "what the parameter accepts (a list or a sentence)"},
        "position": {"type": "integer", "description": "where in the query the error is"},
        "status": {"type": "integer"},
    }, ["error"], closed=False),
    "PagedStudies": _obj({
        "studies": _arr(ref("Study")),
        "nextPageToken": {"type": "string", "description": "absent on the last page"},
        "totalCount": {"type": "integer", "description": "with countTotal=true, on the first page"},
    }, ["studies"]),
    "FieldNode": _obj({
        "name": _STR, "piece": _STR, "sourceType": _STR, "type": _STR, "title": _STR,
        "description": _STR, "isEnum": _BOOL, "nested": _BOOL, "indexedOnly": _BOOL,
        "historicOnly": _BOOL, "synonyms": _BOOL, "maxChars": _INT, "rules": _STR,
        "altPieceNames": _arr(_STR), "children": _arr(ref("FieldNode")),
        "dedLink": _obj({"label": _STR, "url": _STR}, ["label", "url"]),
    }, ["name", "piece", "sourceType", "type"]),
    "SearchDocument": _obj({
        "name": _STR,
        "areas": _arr(_obj({
            "name": _STR, "param": _STR, "uiLabel": _STR,
            "parts": _arr(_obj({"pieces": _arr(_STR), "type": _STR, "weight": _NUM, "isEnum": _BOOL,
                                "isSynonyms": _BOOL}, ["pieces", "type", "weight", "isEnum", "isSynonyms"])),
        }, ["name", "parts"])),
    }, ["name", "areas"]),
    "EnumInfo": _obj({
        "type": _STR, "pieces": _arr(_STR),
        "values": _arr(_obj({"value": _STR, "legacyValue": _STR, "exceptions": {"type": "object"}},
                            ["value", "legacyValue"])),
    }, ["type", "pieces", "values"]),
    "SizeStats": _obj({
        "totalStudies": _INT, "averageSizeBytes": _INT, "percentiles": {"type": "object"},
        "ranges": _arr(_obj({"sizeRange": _STR, "studiesCount": _INT}, ["sizeRange", "studiesCount"])),
        "largestStudies": _arr(_obj({"id": _STR, "sizeBytes": _INT}, ["id", "sizeBytes"])),
        "generatedAt": _STR,
    }, ["totalStudies", "averageSizeBytes", "percentiles", "ranges", "largestStudies"]),
    "FieldValuesStats": {"anyOf": [
        _obj({**_STATS_BASE, "uniqueValuesCount": _INT, "topValues": _arr(_VALUE_COUNT),
              "longest": _obj({"length": _INT, "nctId": _STR, "value": _STR}, ["length", "nctId", "value"])},
             ["field", "piece", "type", "missingStudiesCount", "uniqueValuesCount"]),
        _obj({**_STATS_BASE, "formats": _arr(_STR), "min": _STR, "max": _STR},
             ["field", "piece", "type", "missingStudiesCount", "formats"]),
        _obj({**_STATS_BASE, "min": _NUM, "max": _NUM, "avg": _NUM},
             ["field", "piece", "type", "missingStudiesCount"]),
        _obj({**_STATS_BASE, "trueCount": _INT, "falseCount": _INT},
             ["field", "piece", "type", "missingStudiesCount", "trueCount", "falseCount"]),
    ]},
    "ListSizes": _obj({
        "field": _STR, "piece": _STR, "minSize": _INT, "maxSize": _INT, "uniqueSizesCount": _INT,
        "topSizes": _arr(_obj({"size": _INT, "studiesCount": _INT}, ["size", "studiesCount"])),
    }, ["field", "piece", "uniqueSizesCount"]),
    "Version": _obj({"apiVersion": _STR, "dataTimestamp": {"type": ["string", "null"]}}, ["apiVersion"]),
    "SimilarStudies": _obj({
        "nctId": _STR,
        "similar": _arr(_obj({"nctId": _STR, "briefTitle": {"type": ["string", "null"]},
                              "overallStatus": {"type": ["string", "null"]}, "phases": _arr(_STR),
                              "score": _NUM, "why": {"type": ["string", "null"]}}, ["nctId"], closed=False)),
    }, ["nctId", "similar"]),
}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> dict:
    return _json(ref("ApiError"), description)


BAD_REQUEST = {400: error("A bad parameter: the body names it and says what it accepts")}
NOT_FOUND = {404: error("No study with this NCT id in this registry copy")}
MOVED = {301: {"description": "An obsolete NCT id (an alias): Location gives the study's current id",
               "headers": {"Location": {"schema": _STR, "description": "/api/v2/studies/<current id>"}}}}


def ok_json(name: str, *, array: bool = False, extra: dict | None = None) -> dict:
    schema = _arr(ref(name)) if array else ref(name)
    out = _json(schema)
    out["content"].update(extra or {})
    return {200: out, **BAD_REQUEST}


CSV = {"text/csv": {"schema": {"type": "string", "description": "RFC 4180 CSV; formula prefixes neutralised"}}}
SEARCH_RESPONSES = ok_json("PagedStudies", extra=CSV)
STUDY_RESPONSES = {
    **ok_json("Study", extra={
        **CSV,
        "application/zip": {"schema": {"type": "string", "format": "binary"}},
        "application/fhir+json": {"schema": {"type": "object", "description": "a FHIR R4 ResearchStudy"}},
        "application/x-research-info-systems": {"schema": {"type": "string"}},
    }),
    **NOT_FOUND, **MOVED,
}


def install(app) -> None:
    """Make `app.openapi()` say what the API really answers: our components, no 422."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes)
        for methods in spec.get("paths", {}).values():
            for op in methods.values():
                responses = op.get("responses", {})
                if "422" in responses:
                    responses.pop("422")
                    responses.setdefault("400", BAD_REQUEST[400])
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.update(COMPONENTS)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi
