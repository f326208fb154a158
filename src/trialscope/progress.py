"""A one-line progress bar on stderr with count, rate and ETA."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


class Progress:
    def __init__(self, label: str, total: int | None = None, enabled: bool | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.detail: Callable[[], str] | None = None  # more counts after the rate (other stages)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and now - self._last >= 0.2:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            left = max(self.total - self.done, 0) / rate if rate else 0
            pct = min(self.done / self.total, 1.0)
            bar = "#" * int(pct * 24)
            text = (f"{self.label} [{bar:<24}] {self.done:,}/{self.total:,}"
                    f"  {rate:,.0f}/s  ETA {int(left) // 60}:{int(left) % 60:02d}")
        else:
            text = f"{self.label} {self.done:,}  {rate:,.0f}/s"
        if self.detail is not None:
            text += "  " + self.detail()
        sys.stderr.write("\r" + text + " " * 4)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter())
            sys.stderr.write("\n")
            sys.stderr.flush()
