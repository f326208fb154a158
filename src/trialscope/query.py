"""The query language's old home: everything now lives in `trialscope.essie`."""

from .essie import (  # noqa: F401
    FIELDS,
    MAX_ALL_REQUIRED,
    MAX_DEPTH,
    And,
    MatchAll,
    Missing,
    Node,
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
