"""How browser tests drive the real browser: Debian chromium through Playwright, never a
downloaded one, and where the README's screenshots are saved."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("TRIALSCOPE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
        "--disable-component-update", "--disable-sync"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
