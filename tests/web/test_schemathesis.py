"""Schemathesis over `/openapi.json` of a real `trialscope serve` on the sample.

Every documented operation is fuzzed with generated parameters (bounded: MAX_EXAMPLES per
operation, no shrinking, a deadline per example), and every response is checked: no server
error, a documented status code and content type, a body that matches the documented schema
(whose schemas are real, not empty), and the documented headers.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import running_server

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


@pytest.fixture(scope="module")
def fuzz_server(sample_db):
    """A server of its own: a request that kills it must fail here, not in later tests."""
    with running_server(sample_db) as base:
        yield base


def test_every_operation_is_documented_with_real_schemas(fuzz_server):
    spec = httpx.get(f"{fuzz_server}/openapi.json", timeout=30).json()
    ops = [(path, op) for path, item in spec["paths"].items() for op in item.values()]
    assert len(ops) >= 10
    for path, op in ops:
        codes = set(op["responses"])
        assert "422" not in codes, (path, "the server never answers 422")
        assert "400" in codes, path
        for code, resp in op["responses"].items():
            for media, body in (resp.get("content") or {}).items():
                assert body.get("schema"), (path, code, media, "empty schema")
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok != {} and ("$ref" in ok or "items" in ok), path
    study = spec["components"]["schemas"]["Study"]
    assert {"protocolSection", "resultsSection", "derivedSection", "hasResults"} <= set(study["properties"])
    error = spec["components"]["schemas"]["ApiError"]
    assert {"error", "parameter", "message", "allowed"} <= set(error["properties"])
    assert "/api/v2/studies/{nctId}" in spec["paths"]
    assert {"404", "301"} <= set(spec["paths"]["/api/v2/studies/{nctId}"]["get"]["responses"])
    served = {p["name"] for p in spec["paths"]["/api/v2/studies"]["get"]["parameters"]}
    from trialscope.web.api_params import API_PARAMS
    assert served >= API_PARAMS, API_PARAMS - served


def _fuzz(op, base: str, calls: dict[str, int]):
    @given(case=op.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=10_000, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        calls[op.label] += 1
        case.call_and_validate(base_url=base, checks=CHECKS, timeout=30)

    return run


def test_api_conforms_to_its_openapi(fuzz_server):
    """Each operation in turn (schemathesis's pytest loader does not run on this pytest):
    MAX_EXAMPLES generated requests, every check on every response."""
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    failures: dict[str, str] = {}
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        calls[op.label] = 0
        try:
            _fuzz(op, fuzz_server, calls)()
        except Exception as exc:  # keep going: report every operation that fails
            failures[op.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    print(f"schemathesis: {len(calls)} operations, {sum(calls.values())} requests, {len(failures)} failing")
    assert len(calls) >= 10
    assert all(n >= 1 for n in calls.values()), (calls, failures)
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
