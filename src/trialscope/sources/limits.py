"""The most a source may make ingest read, so one hostile file cannot exhaust memory or time.

Each limit has an environment variable (and an ``ingest(limits=...)`` argument); a document
past one is rejected with a message naming the limit and its variable, and the valid rest of
the source still goes in. Defaults sit far above anything ClinicalTrials.gov publishes (its
largest study is under 2 MB; its archives compress at most about 35:1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

MB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    # one archive entry (a study document) once inflated
    entry_bytes: int = 64 * MB
    # every entry of one archive together, once inflated
    archive_bytes: int = 64 * 1024 * MB
    # a plain JSON or XML file, read whole to parse (JSON Lines files stream: see line_bytes)
    file_bytes: int = 1024 * MB
    # one JSON Lines line (one study)
    line_bytes: int = 64 * MB
    # inflated / compressed size of an entry larger than ratio_floor_bytes
    ratio: int = 200
    ratio_floor_bytes: int = 1 * MB

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Defaults, overridden by TRIALSCOPE_MAX_ENTRY_BYTES, _ARCHIVE_BYTES, _FILE_BYTES,
        _LINE_BYTES and _RATIO (whole numbers); a malformed value is an error naming it."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            name = VARIABLES.get(f.name)
            if name and env.get(name, "").strip():
                text = env[name].strip()
                if not text.isascii() or not text.isdigit() or int(text) < 1:
                    raise ValueError(f"{name} must be a positive whole number, got {text!r}")
                values[f.name] = int(text)
        return cls(**values)

    def past(self, what: str, limit: str) -> str:
        """A reject message: `archive entry inflates past 64 MB (TRIALSCOPE_MAX_ENTRY_BYTES)`."""
        value = getattr(self, limit)
        shown = f"{value}:1" if limit == "ratio" else size_text(value)
        return f"{what} past {shown} ({VARIABLES[limit]})"


VARIABLES = {
    "entry_bytes": "TRIALSCOPE_MAX_ENTRY_BYTES",
    "archive_bytes": "TRIALSCOPE_MAX_ARCHIVE_BYTES",
    "file_bytes": "TRIALSCOPE_MAX_FILE_BYTES",
    "line_bytes": "TRIALSCOPE_MAX_LINE_BYTES",
    "ratio": "TRIALSCOPE_MAX_RATIO",
}


def size_text(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", MB), ("KB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
