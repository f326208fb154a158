"""Fixtures for the matcher's retrieval, ranking and surface tests (the in-repo sample)."""

from __future__ import annotations

import pytest

from trialscope.store import open_store

HCC = "NCT03949231"
# A written patient for the trial the product is built around (advanced HCC after sorafenib).
HCC_NOTE = (
    "A 60-year-old woman with advanced hepatocellular carcinoma (BCLC stage C) and Child-Pugh A "
    "cirrhosis from hepatitis B. She progressed on first-line sorafenib after eight months. "
    "ECOG performance status 1. No history of diabetes. Platelets 120 x10^9/L, total bilirubin "
    "20 umol/L, creatinine 80 umol/L."
)


@pytest.fixture(scope="module")
def store(sample_db):
    st = open_store(sample_db)
    yield st
    st.close()


@pytest.fixture(scope="module")
def match_server(sample_db):
    """A real `trialscope serve` on the sample, for the API and page tests."""
    from tests.servers import running_server

    with running_server(sample_db) as base:
        yield base
