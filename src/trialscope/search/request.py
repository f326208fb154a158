"""What a search asks for and what it returns, the values it accepts, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field


class FilterError(ValueError):
    """A filter value outside the allowed set; names the parameter and lists what is allowed."""

    def __init__(self, param: str, allowed: list[str], value: object = None, message: str | None = None):
        self.param = param
        self.allowed = list(allowed)
        if message is None:
            message = f"unknown {param} value {value!r}; allowed: {', '.join(self.allowed)}"
        super().__init__(message)


OPEN_STATUSES = ["RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE"]
STATUS_VALUES = [
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
]
PHASE_VALUES = ["EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"]
STUDY_TYPE_VALUES = ["INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"]
INTERVENTION_TYPE_VALUES = [
    "BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
    "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "PROCEDURE", "RADIATION", "OTHER",
]
SPONSOR_CLASS_VALUES = ["NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"]
SEX_VALUES = ["ALL", "FEMALE", "MALE"]
SORT_KEYS = ["relevance", "last_update", "start_date", "enrollment", "results_first_posted",
             "first_posted", "completion", "distance"]
_SORT_FIELD = {
    "last_update": "last_update", "start_date": "start", "enrollment": "enrollment",
    "results_first_posted": "results_first_posted", "first_posted": "first_posted",
    "completion": "completion",
}
# facet name -> (index field, number of buckets)
FACETS = {
    "status": ("status", 20),
    "phase": ("phase", 10),
    "study_type": ("stype", 5),
    "intervention_type": ("itype", 15),
    "sponsor_class": ("sclass", 10),
    "country": ("country", 25),
    "condition_mesh": ("mesh_facet", 15),
    "has_results": ("results", 2),
    "outcome_switched": ("oswitch", 2),
}
MAX_LIMIT = 1000


@dataclass
class SearchRequest:
    query: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    status: list[str] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)
    study_type: list[str] = field(default_factory=list)
    intervention_type: list[str] = field(default_factory=list)
    sponsor_class: list[str] = field(default_factory=list)
    sex: str | None = None
    age: float | None = None
    healthy_volunteers: bool | None = None
    country: list[str] = field(default_factory=list)
    has_results: bool | None = None
    outcome_switched: bool | None = None  # a primary outcome changed after the start (history.outcomes)
    dates: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    near: tuple[float, float, float] | None = None
    ids: list[str] = field(default_factory=list)
    # (parameter, Essie expression) pairs that filter without scoring: filter.advanced, postFilter.advanced
    advanced: list[tuple[str, str]] = field(default_factory=list)
    sort: str = "relevance"
    limit: int = 20
    page_token: str | None = None
    facets: bool = True
    expand_mesh: bool = True
    snippets: bool = True
    include_withdrawn: bool = True  # studies withdrawn upstream (gone from the registry)
    lenient: bool = False  # read a malformed query as plain words instead of raising
    exact_facets: bool = False  # count facets over every match even for huge result sets


@dataclass
class Hit:
    nct_id: str
    score: float
    brief_title: str
    overall_status: str | None
    phases: list[str]
    conditions: list[str]
    sponsor: str | None
    snippet: str | None
    study_type: str | None = None
    start_date: str | None = None
    last_update: str | None = None
    reported_status: str | None = None  # as the record gives it (overall_status is effective)
    status_verified: str | None = None
    nearest: dict | None = None  # with `near`: {"label", "km", "approximate"} of the nearest site
    sites: list | None = None  # [lat, lon, approximate, label] per site (for maps; not in JSON)


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    next_page_token: str | None
    # True when the result set was so large (> FACET_SAMPLE_ABOVE) that facets were counted
    # on a uniform hash sample and scaled (show them as "≈"); total is always exact
    facets_approximate: bool = False

    def as_json(self) -> dict:
        """The CLI / web JSON shape."""
        return {
            "total": self.total,
            "studies": [
                {"nctId": h.nct_id, "briefTitle": h.brief_title, "overallStatus": h.overall_status,
                 "phases": h.phases, "score": round(h.score, 4), "conditions": h.conditions,
                 "sponsor": h.sponsor, "snippet": h.snippet, "studyType": h.study_type,
                 "startDate": h.start_date, "lastUpdate": h.last_update,
                 "statusVerifiedDate": h.status_verified,
                 **({"reportedStatus": h.reported_status} if h.reported_status != h.overall_status else {}),
                 **({"nearestSite": h.nearest} if h.nearest else {})}
                for h in self.hits
            ],
            "facets": {k: [[v, n] for v, n in vals] for k, vals in self.facets.items()},
            "facetsApproximate": self.facets_approximate,
            "nextPageToken": self.next_page_token,
        }
