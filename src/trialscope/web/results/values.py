"""Record values read defensively and written short: a number only where the record
holds one, text trimmed, enums in words."""

from __future__ import annotations

import math
import re
from typing import Any

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def num(value: Any) -> float | None:
    """A finite number from a record value ("12.5", 12, "26,300"), else None ("NA", text)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    s = str(value).strip()
    if not s:
        return None
    try:
        f = float(s)
    except ValueError:
        if _THOUSANDS.match(s):
            return float(s.replace(",", ""))
        return None
    if "_" in s or not math.isfinite(f):
        return None
    return f


def as_text(value: Any) -> str:
    """Any record value as trimmed text, "" for a missing one."""
    if value is None:
        return ""
    return str(value).strip()


def fmt(x: float) -> str:
    """A short number for axes and percentages: 12, 12.5, 0.031, 1.2e+06."""
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e6 or a < 1e-3:
        return f"{x:.3g}"
    if a >= 100:
        s = f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"
    elif a >= 1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def pct_text(part: float, whole: float) -> str:
    """`part` as a share of `whole` ("5.1%", "50%"); "" where there is no whole."""
    if not whole:
        return ""
    p = 100.0 * part / whole
    s = f"{p:.1f}"
    return (s[:-2] if s.endswith(".0") else s) + "%"


def humanize(value: Any) -> str:
    """"LEAST_SQUARES_MEAN" -> "Least squares mean"; free text is kept as written."""
    s = as_text(value)
    if not s:
        return ""
    if "_" in s or (s.isupper() and " " not in s):
        s = s.replace("_", " ").lower()
        return s[:1].upper() + s[1:]
    return s


def as_list(value: Any) -> list:
    """A record value that should be a list, or [] (a malformed record must not raise)."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict:
    """A record value that should be an object, or {}."""
    return value if isinstance(value, dict) else {}
